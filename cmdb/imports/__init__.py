"""Imports of CIs and relationships: the native format (JSON or CSV), FHIR R4 and application call graphs.

``import_file`` is the entry point; each source module parses its files into
validated rows without touching the store.
"""

from cmdb.imports.models import (
    ImportCounts,
    ImportFileError,
    ImportFormat,
    ImportInterruptedError,
    ImportProgress,
    ImportReport,
    ProgressCallback,
    RejectedRow,
    RowRef,
)
from cmdb.imports.service import DEFAULT_BATCH_SIZE, detect_format, import_file

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ImportCounts",
    "ImportFileError",
    "ImportFormat",
    "ImportInterruptedError",
    "ImportProgress",
    "ImportReport",
    "ProgressCallback",
    "RejectedRow",
    "RowRef",
    "detect_format",
    "import_file",
]
