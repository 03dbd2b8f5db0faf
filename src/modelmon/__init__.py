"""modelmon: a self-hosted model monitor with SageMaker Model Monitor compatible files.

The analyzer's functions are importable from here (``from modelmon import
baseline, analyze``); they load on first use so that importing a submodule
(``modelmon.formats``) stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["AnalysisResult", "BaselineResult", "__version__", "analyze", "baseline"]


def __getattr__(name: str) -> Any:
    if name in ("AnalysisResult", "BaselineResult", "analyze", "baseline"):
        from modelmon.analysis import api

        return getattr(api, name)
    raise AttributeError(f"module 'modelmon' has no attribute {name!r}")
