"""Dataset readers: CSV, JSON Lines, Parquet and SageMaker capture files -> Arrow batches.

Every reader yields ``pyarrow.RecordBatch`` es whose columns are int64, float64,
string or null, and raises :class:`~modelmon.errors.InputError` naming the file
(and line) for bad input. A dataset is cut into :class:`Split` s that worker
processes read independently.
"""

from modelmon.analysis.readers.capture import iter_capture_records, read_capture
from modelmon.analysis.readers.format import DatasetFormat
from modelmon.analysis.readers.signals import SchemaChange, SplitUnsafe
from modelmon.analysis.readers.split import Split
from modelmon.analysis.readers.splits import plan_splits, read_batches, read_split, read_splits

__all__ = [
    "DatasetFormat",
    "SchemaChange",
    "Split",
    "SplitUnsafe",
    "iter_capture_records",
    "plan_splits",
    "read_batches",
    "read_capture",
    "read_split",
    "read_splits",
]
