"""should_sample: InitialSamplingPercentage per request, deterministic per inference id."""

from __future__ import annotations

import math
import random
import uuid

import pytest

from modelmon.serving.capture import should_sample

N = 20_000


def within_four_sd(hits: int, percentage: float) -> bool:
    p = percentage / 100
    return abs(hits - N * p) <= 4 * math.sqrt(N * p * (1 - p))


def test_same_id_same_decision():
    ids = [str(uuid.UUID(int=random.getrandbits(128), version=4)) for _ in range(500)]
    first = [should_sample(30, i) for i in ids]
    assert first == [should_sample(30, i) for i in ids]
    assert 0 < sum(first) < len(ids)
    # a higher percentage keeps every id a lower one kept (the hash is a threshold)
    assert all(should_sample(60, i) for i, kept in zip(ids, first, strict=True) if kept)


@pytest.mark.parametrize("percentage", [1, 20, 50])
def test_rate_with_ids(percentage):
    hits = sum(should_sample(percentage, uuid.uuid4().hex) for _ in range(N))
    assert within_four_sd(hits, percentage), hits


@pytest.mark.parametrize("percentage", [1, 20, 50])
def test_rate_without_ids(percentage):
    hits = sum(should_sample(percentage, None) for _ in range(N))
    assert within_four_sd(hits, percentage), hits


def test_zero_and_hundred_are_exact():
    ids = [None, "", "x", *(str(i) for i in range(2000))]
    assert not any(should_sample(0, i) for i in ids)
    assert not any(should_sample(0.0, None) for _ in range(2000))
    assert all(should_sample(100, i) for i in ids)
    assert all(should_sample(100.0, None) for _ in range(2000))
    assert not should_sample(float("nan"), "x")
