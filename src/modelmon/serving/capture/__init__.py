"""Data capture: which requests are captured, and the writer that files them.

The record format and object keys are in :mod:`modelmon.formats.capture`.
"""

from modelmon.serving.capture.sampling import should_sample
from modelmon.serving.capture.writer import CaptureEvent, CaptureWriter, spool_disk_usage

__all__ = ["CaptureEvent", "CaptureWriter", "should_sample", "spool_disk_usage"]
