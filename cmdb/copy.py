"""``cmdb copy``: move a whole store, graph and history included, to another store, resumably.

The copy runs in phases (``PHASES``): CIs, relationships, versions and API tokens, then change
records, freeze windows, freeze exceptions and discovery runs. The first three go in batches of
CIs taken in key order, and a batch of the relationships or versions phase carries the rows of
its CIs. A batch of change records carries their approvals and reviews. Every batch is written
in one transaction together with a checkpoint in the target: the source URL, a fingerprint of
the source, the phase and the last key written. A copy run again after an interruption therefore
continues after the last committed batch and never writes a row twice. At the end both stores
are checksummed the same way, and the counts and checksums must match.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cmdb.store import missing_sqlite_file, redact_url
from cmdb.store.base import StoreError
from cmdb.store.export import (
    PHASES,
    CopyProgress,
    ExportableStore,
    ExportSummary,
    RawBatch,
    open_exportable,
)
from cmdb.store.export_checksum import StoreChecksum, checksum_store

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000


class CopyError(Exception):
    """A copy that cannot start or whose result does not match its source."""


@dataclass(frozen=True, slots=True)
class CopyStep:
    """One committed batch: its phase, how many rows it wrote, and the checkpoint stored with it."""

    phase: str
    rows: int
    progress: CopyProgress


@dataclass(frozen=True, slots=True)
class CopyReport:
    """The outcome of a finished copy: the rows written by this run, and both stores' checksums."""

    written: int
    resumed: bool
    source: StoreChecksum
    target: StoreChecksum


def normalize_url(url: str) -> str:
    """Return ``url`` with a SQLite path made absolute, so one file has one source URL."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            return f"sqlite:///{Path(path).resolve()}"
    return url


_KIND_NAMES = {
    "cis": "CIs",
    "relationships": "relationships",
    "versions": "versions",
    "tokens": "API tokens",
    "changes": "change records",
    "approvals": "approvals",
    "reviews": "reviews",
    "freeze_windows": "freeze windows",
    "freeze_exceptions": "freeze exceptions",
    "discovery_runs": "discovery runs",
}


# Always named in messages; the other kinds are named only when the store has rows of them.
_MAIN_KINDS = ("cis", "relationships", "versions", "tokens")


def _describe(summary: ExportSummary) -> str:
    parts = [
        f"{count} {_KIND_NAMES[kind]}"
        for kind, count in summary.counts().items()
        if count or kind in _MAIN_KINDS
    ]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _start(source: ExportableStore, target: ExportableStore, source_url: str) -> tuple[CopyProgress, bool]:
    """Return the checkpoint to continue from and whether it resumes a copy; raise CopyError otherwise."""
    fingerprint = source.export_summary().fingerprint()
    progress = target.copy_progress()
    if progress is None:
        held = target.export_summary()
        if not held.is_empty():
            raise CopyError(
                f"the target is not empty: it contains {_describe(held)}; copy into an empty store"
            )
        return CopyProgress(source=source_url, fingerprint=fingerprint, phase=PHASES[0]), False
    if progress.source != source_url:
        raise CopyError(
            f"the target contains a copy from {progress.source}, not from {source_url};"
            " copy into an empty store, or continue that copy with --from set to its source"
        )
    if progress.fingerprint != fingerprint:
        raise CopyError(
            f"the source {source_url} changed since the copy into this target began;"
            " empty the target and copy again"
        )
    return progress, True


def _next_phase(phase: str) -> str:
    return PHASES[PHASES.index(phase) + 1]


@dataclass(frozen=True, slots=True)
class _Page:
    """The rows of one batch, and the cursor after them; ``complete`` when the phase has no more rows."""

    batch: RawBatch
    cursor: str | None
    complete: bool


def _page_by_ci(source: ExportableStore, phase: str, cursor: str | None, size: int) -> _Page:
    if phase == "cis":
        cis = source.export_cis(after=cursor, limit=size)
        keys = [ci.key for ci in cis]
        batch = RawBatch(cis=cis)
    else:
        keys = source.export_ci_keys(after=cursor, limit=size)
        if phase == "relationships":
            batch = RawBatch(relationships=source.export_relationships(keys))
        else:
            batch = RawBatch(versions=source.export_versions(keys))
    return _Page(batch, keys[-1] if keys else None, len(keys) < size)


def _page_of_changes(source: ExportableStore, cursor: str | None, size: int) -> _Page:
    changes = source.export_changes(after=cursor, limit=size)
    ids = [change.id for change in changes]
    batch = RawBatch(
        changes=changes, approvals=source.export_approvals(ids), reviews=source.export_reviews(ids)
    )
    return _Page(batch, ids[-1] if ids else None, len(ids) < size)


def _page_of_freeze_windows(source: ExportableStore, cursor: str | None, size: int) -> _Page:
    windows = source.export_freeze_windows(after=cursor, limit=size)
    return _Page(RawBatch(freeze_windows=windows), windows[-1].id if windows else None, len(windows) < size)


def _page_of_freeze_exceptions(source: ExportableStore, cursor: str | None, size: int) -> _Page:
    # The cursor of this phase is the source's recording sequence number of the last exception.
    after = int(cursor) if cursor is not None else None
    exceptions = source.export_freeze_exceptions(after=after, limit=size)
    last = str(exceptions[-1].seq) if exceptions else None
    return _Page(RawBatch(freeze_exceptions=exceptions), last, len(exceptions) < size)


def _page_of_discovery_runs(source: ExportableStore, cursor: str | None, size: int) -> _Page:
    runs = source.export_discovery_runs(after=cursor, limit=size)
    return _Page(RawBatch(discovery_runs=runs), runs[-1].id if runs else None, len(runs) < size)


def _next_page(source: ExportableStore, phase: str, cursor: str | None, size: int) -> _Page:
    if phase in ("cis", "relationships", "versions"):
        return _page_by_ci(source, phase, cursor, size)
    if phase == "tokens":
        return _Page(RawBatch(tokens=source.export_tokens()), None, True)
    if phase == "changes":
        return _page_of_changes(source, cursor, size)
    if phase == "freeze_windows":
        return _page_of_freeze_windows(source, cursor, size)
    if phase == "freeze_exceptions":
        return _page_of_freeze_exceptions(source, cursor, size)
    if phase == "discovery_runs":
        return _page_of_discovery_runs(source, cursor, size)
    raise ValueError(f"invalid copy phase {phase!r}; use one of {', '.join(PHASES[:-1])}")


def _copy_batch(
    source: ExportableStore, target: ExportableStore, progress: CopyProgress, batch_size: int
) -> CopyStep:
    """Copy the next batch of ``progress.phase`` and return it; the last batch of a phase moves on."""
    page = _next_page(source, progress.phase, progress.cursor, batch_size)
    if page.complete:
        following = replace(progress, phase=_next_phase(progress.phase), cursor=None)
    else:
        following = replace(progress, cursor=page.cursor)
    target.import_batch(page.batch, progress=following)
    return CopyStep(progress.phase, len(page.batch), following)


def copy_graph(
    source: ExportableStore,
    target: ExportableStore,
    *,
    source_url: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[CopyStep], None] | None = None,
) -> CopyReport:
    """Copy every row of ``source`` into ``target``, continuing an interrupted copy, then verify it.

    ``source_url`` identifies the source in the target's checkpoint. ``on_batch`` is called after
    each committed batch. Raise CopyError when the target is neither empty nor a copy of this
    source in progress, or when the finished copy's counts or checksums differ from the source's.
    """
    if batch_size < 1:
        raise ValueError(f"invalid batch size {batch_size}; use 1 or more")
    progress, resumed = _start(source, target, source_url)
    if resumed:
        logger.info(
            "resuming the copy from %s at phase %s after key %r", source_url, progress.phase, progress.cursor
        )
    else:
        logger.info("copying %s from %s", _describe(source.export_summary()), source_url)

    written = 0
    while progress.phase != "done":
        step = _copy_batch(source, target, progress, batch_size)
        written += step.rows
        progress = step.progress
        if on_batch is not None:
            on_batch(step)

    report = CopyReport(
        written=written,
        resumed=resumed,
        source=checksum_store(source, page_size=batch_size),
        target=checksum_store(target, page_size=batch_size),
    )
    _verify(report)
    logger.info("copied %s rows from %s; counts and checksums match", written, source_url)
    return report


def _verify(report: CopyReport) -> None:
    problems: list[str] = []
    for kind, expected in report.source.counts.items():
        actual = report.target.counts[kind]
        if actual != expected:
            problems.append(f"{kind}: {actual} in the target, {expected} in the source")
        elif report.target.checksums[kind] != report.source.checksums[kind]:
            problems.append(f"{kind}: the checksums differ")
    if problems:
        raise CopyError(
            "the copy does not match its source (" + "; ".join(problems) + "); the source may have"
            " changed during the copy: empty the target and copy again"
        )


# The command line


def copy_command(
    source_url: Annotated[str, typer.Option("--from", help="URL of the store to copy from.")],
    target_url: Annotated[
        str, typer.Option("--to", help="URL of the store to copy into; empty, or a copy in progress.")
    ],
    batch_size: Annotated[
        int, typer.Option(min=1, help="CIs per batch; a batch also carries their relationships or versions.")
    ] = DEFAULT_BATCH_SIZE,
) -> None:
    """Copy a whole store with its history, tokens, changes and discovery runs; run again to resume."""
    errors = Console(stderr=True)
    source_url, target_url = normalize_url(source_url), normalize_url(target_url)
    if source_url == target_url:
        errors.print("[red]--from and --to name the same store; give two different stores[/]")
        raise typer.Exit(1)
    if missing_sqlite_file(source_url):
        errors.print(f"[red]the source store {redact_url(source_url)} does not exist; check --from[/]")
        raise typer.Exit(1)
    try:
        source = open_exportable(source_url)
    except (ValueError, StoreError) as error:
        errors.print(f"[red]cannot open the source store: {error}[/]")
        raise typer.Exit(1) from None
    try:
        target = open_exportable(target_url)
    except (ValueError, StoreError) as error:
        source.close()
        errors.print(f"[red]cannot open the target store: {error}[/]")
        raise typer.Exit(1) from None

    try:
        report = _copy_with_progress(source, target, source_url, batch_size, errors)
    except (CopyError, StoreError) as error:
        errors.print(f"[red]copy failed: {error}[/]")
        raise typer.Exit(1) from None
    finally:
        source.close()
        target.close()

    counts = ", ".join(f"{count} {kind}" for kind, count in report.target.counts.items())
    resumed = " (continuing an earlier copy)" if report.resumed else ""
    print(f"copied {report.written} rows{resumed}; the target contains {counts}")
    for kind, checksum in report.target.checksums.items():
        print(f"  {kind} sha256 {checksum}")


def _copy_with_progress(
    source: ExportableStore, target: ExportableStore, source_url: str, batch_size: int, console: Console
) -> CopyReport:
    total = source.export_summary().total
    done = target.export_summary().total
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("copying", total=total, completed=done)

        def advance(step: CopyStep) -> None:
            description = "verifying" if step.progress.phase == "done" else f"copying {step.progress.phase}"
            bar.update(task, advance=step.rows, description=description)

        return copy_graph(source, target, source_url=source_url, batch_size=batch_size, on_batch=advance)
