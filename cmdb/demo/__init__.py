"""A generated demo health system for trying the CMDB and for benchmarks."""

from cmdb.demo.generator import (
    BENCH_SCALE,
    HOSPITAL_NAMES,
    DemoHospital,
    InvalidDemoGraphError,
    generate_hospital,
    scale_for,
    validate_hospital,
)
from cmdb.demo.loader import load_demo

__all__ = [
    "BENCH_SCALE",
    "HOSPITAL_NAMES",
    "DemoHospital",
    "InvalidDemoGraphError",
    "generate_hospital",
    "load_demo",
    "scale_for",
    "validate_hospital",
]
