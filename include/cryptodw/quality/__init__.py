"""Great Expectations quality gates: suites as code (`suites`), run on pandas frames (`runner`).

Importing this package does not import Great Expectations; the first validation does.
"""

from include.cryptodw.quality.runner import (
    DataQualityError,
    FailedExpectation,
    ValidationSummary,
    validate_frame,
    validate_raw_table,
    validate_warehouse_layer,
)

__all__ = [
    "DataQualityError",
    "FailedExpectation",
    "ValidationSummary",
    "validate_frame",
    "validate_raw_table",
    "validate_warehouse_layer",
]
