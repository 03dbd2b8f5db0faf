"""The local engine's task grouping and batch joining."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelmon.analysis import engine
from modelmon.analysis.api import baseline
from modelmon.analysis.readers import DatasetFormat, Split
from modelmon.formats.jsonfmt import dumps


def test_groups_keep_order_and_never_divide_a_split() -> None:
    splits = [Split(f"f{i}", size=size) for i, size in enumerate([10, 10, 10, 100, 10, 10, 10])]
    groups = engine.group_splits(splits, parts=4, min_bytes=0)
    assert [s for group in groups for s in group] == splits
    assert all(sum(s.size for s in g) <= 40 or len(g) == 1 for g in groups)
    assert [len(g) for g in groups] == [3, 1, 3]
    # small files make few tasks; a minimum size keeps tiny datasets in one
    many = [Split(f"m{i}", size=1000) for i in range(1440)]
    assert len(engine.group_splits(many, parts=4, min_bytes=0)) == 4
    assert len(engine.group_splits(many, parts=4, min_bytes=1 << 30)) == 1


def test_joined_batches_keep_rows_order_and_schema_runs() -> None:
    ints = [pa.record_batch({"a": pa.array(range(i * 10, i * 10 + 10))}) for i in range(5)]
    floats = pa.record_batch({"a": pa.array([0.5, 1.5])})
    joined = list(engine.joined_batches([*ints[:3], floats, *ints[3:]], rows=25, small=20))
    assert [b.num_rows for b in joined] == [30, 2, 20]
    assert [b.schema.field("a").type for b in joined] == [pa.int64(), pa.float64(), pa.int64()]
    values = [v for b in joined for v in b.column("a").to_pylist()]
    expected = [*range(30), 0.5, 1.5, *range(30, 50)]
    assert values == expected
    # a batch of `small` rows or more passes as it is, between the joined runs
    large = pa.record_batch({"a": pa.array(range(100, 125))})
    joined = list(engine.joined_batches([ints[0], large, ints[1], ints[2]], rows=25, small=20))
    assert [b.num_rows for b in joined] == [10, 25, 20]
    assert joined[1] is large


def test_many_small_files_profile_like_pandas(tmp_path: Path, monkeypatch) -> None:
    """300 one-minute-sized files, profiled by two workers, give pandas' numbers."""
    rng = np.random.default_rng(7)
    frames = []
    for i in range(300):
        frame = pd.DataFrame(
            {
                "n": rng.integers(0, 1000, 7),
                "x": rng.normal(5, 2, 7).round(6),
                "c": rng.choice(["a", "b", "c"], 7),
            }
        )
        frame.to_csv(tmp_path / f"{i:04d}.csv", index=False, header=False)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    monkeypatch.setattr(engine, "MIN_SPLIT_BYTES", 1024)
    fmt = DatasetFormat.parse("csv", header=False)
    files = sorted(str(p) for p in tmp_path.glob("*.csv"))
    profile = engine.profile_dataset(files, fmt, workers=2)
    assert profile.rows == len(data) == 2100
    result = baseline(str(tmp_path), header=False, workers=2)
    features = {f.name: f for f in result.statistics.features}
    for column, name in (("n", "_c0"), ("x", "_c1")):
        stats = features[name].numerical
        assert stats is not None
        assert stats.num_present == len(data)
        assert stats.sum == pytest.approx(data[column].sum(), rel=1e-12)
        assert stats.mean == pytest.approx(data[column].mean(), rel=1e-12)
        assert stats.std_dev == pytest.approx(data[column].std(ddof=0), rel=1e-9)
        assert stats.min == data[column].min() and stats.max == data[column].max()
    categories = features["_c2"].string
    assert categories is not None
    assert {b.value: b.count for b in categories.buckets} == (data["c"].value_counts().to_dict())
    # one worker reading every file in one task: the same counts and buckets
    serial = baseline(str(tmp_path), header=False, workers=1)
    assert dumps(serial.constraints.to_dict()) == dumps(result.constraints.to_dict())
