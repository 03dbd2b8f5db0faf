"""Shared fixtures: where SageMaker's reference files are (when this clone has them)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture
def reference() -> Path:
    """../shared/reference, or skip: a user's clone does not have SageMaker's files."""
    if not REFERENCE.is_dir():
        pytest.skip(f"SageMaker reference files not present at {REFERENCE} (only in CI)")
    return REFERENCE
