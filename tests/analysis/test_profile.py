"""Profiles against independent numpy/pandas computations on generated data."""

from __future__ import annotations

import pickle
from functools import reduce

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelmon.analysis.kll import LevelCdf, equal_width_buckets, sketch_levels
from modelmon.analysis.profile import ColumnProfile, DatasetProfile, as_numpy
from modelmon.analysis.statistics import build_statistics


def _messy_table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    floats = rng.normal(-3.0, 50.0, rows)
    floats[rng.random(rows) < 0.1] = np.nan  # missing
    ints = rng.integers(-1000, 1000, rows)
    int_mask = rng.random(rows) < 0.05
    words = np.array(["alpha", "béta", "γάμμα", "", "with, comma", "naïve ✓"], dtype=object)
    text = words[rng.integers(0, len(words), rows)]
    text_mask = rng.random(rows) < 0.07
    mixed = np.where(rng.random(rows) < 0.9, rng.integers(0, 50, rows).astype(str), "n/a").astype(
        object
    )
    mixed[rng.random(rows) < 0.02] = "3.75"
    return pa.table(
        {
            "f": pa.array(floats, from_pandas=True),
            "i": pa.array(ints, mask=int_mask),
            "s": pa.array(text, mask=text_mask),
            "m": pa.array(mixed),
        }
    )


def _profile(table: pa.Table, batch_rows: int) -> DatasetProfile:
    profile = DatasetProfile()
    for batch in table.to_batches(max_chunksize=batch_rows):
        profile.update(batch)
    return profile


def test_numeric_statistics_match_numpy() -> None:
    table = _messy_table(50_000, seed=1)
    stats = build_statistics(_profile(table, 4096))
    assert stats.item_count == 50_000
    for name in ("f", "i"):
        values = table.column(name).to_pandas()
        feature = stats.feature(name)
        n = feature.numerical
        present = values.dropna().to_numpy(dtype=float)
        assert feature.inferred_type == ("Fractional" if name == "f" else "Integral")
        assert n.num_present == len(present)
        assert n.num_missing == values.isna().sum()
        assert n.sum == pytest.approx(present.sum(), rel=1e-12)
        assert n.mean == pytest.approx(present.mean(), rel=1e-12)
        assert n.std_dev == pytest.approx(present.std(ddof=0), rel=1e-10)
        assert (n.min, n.max) == (present.min(), present.max())
        assert n.buckets[0].lower_bound == present.min()
        assert n.buckets[-1].upper_bound == pytest.approx(present.max(), rel=1e-15)
        assert sum(b.count for b in n.buckets) == len(present)
        # bucket counts from the sketch are within the KLL rank error of the exact ones
        edges = [b.lower_bound for b in n.buckets] + [n.buckets[-1].upper_bound]
        exact, _ = np.histogram(present, bins=edges)
        eps = 0.02 * len(present)
        for bucket, count in zip(n.buckets, exact, strict=True):
            assert abs(bucket.count - count) <= eps


def test_string_statistics_match_pandas() -> None:
    table = _messy_table(20_000, seed=2)
    stats = build_statistics(_profile(table, 3000))
    s = table.column("s").to_pandas()
    feature = stats.feature("s")
    assert feature.inferred_type == "String"
    st = feature.string
    assert st.num_present == s.notna().sum()
    assert st.num_missing == s.isna().sum()
    assert st.distinct_count == s.nunique()
    expected = s.value_counts()
    assert {b.value: b.count for b in st.buckets} == expected.to_dict()
    # most frequent first
    assert [b.count for b in st.buckets] == sorted(expected.to_list(), reverse=True)


def test_text_values_are_classified_one_by_one() -> None:
    table = _messy_table(10_000, seed=3)
    column = ColumnProfile("m")
    column.update(table.column("m"))
    m = table.column("m").to_pandas()
    assert column.integral == m.str.fullmatch(r"\d+").sum()
    assert column.fractional == (m == "3.75").sum()
    assert column.string == (m == "n/a").sum()
    assert column.inferred_type() == "String"
    numbers = pd.to_numeric(m, errors="coerce").dropna()
    assert column.numeric.count == len(numbers)
    assert column.numeric.total == pytest.approx(numbers.sum())


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("12", "integral"),
        ("-7", "integral"),
        ("+ 3", "integral"),
        ("3.0", "fractional"),
        ("-0.5", "fractional"),
        (".5", "fractional"),
        ("1e5", "fractional"),
        ("2.5E-3", "fractional"),
        ("abc", "string"),
        ("", "string"),
        ("1,000", "string"),
        ("true", "string"),
        ("1.2.3", "string"),
    ],
)
def test_type_of_one_value(text: str, kind: str) -> None:
    column = ColumnProfile("x")
    column.update(pa.array([text]))
    assert (column.integral, column.fractional, column.string) == (
        kind == "integral",
        kind == "fractional",
        kind == "string",
    )


def test_inferred_type_rules() -> None:
    def infer(values) -> str:
        column = ColumnProfile("x")
        column.update(pa.array(values))
        return column.inferred_type()

    assert infer([1, 2, None]) == "Integral"
    assert infer([1.5, None]) == "Fractional"
    assert infer(["1", "2.5"]) == "Fractional"
    assert infer(["1", "x"]) == "String"
    assert infer(pa.array([None, None], pa.string())) == "Unknown"


def test_merged_partial_profiles_equal_one_pass() -> None:
    table = _messy_table(30_000, seed=4)
    one_pass = build_statistics(_profile(table, 100_000))
    parts = [_profile(table.slice(o, 7_000), 1000) for o in range(0, 30_000, 7_000)]
    # merge in a different grouping, through pickling (as across processes)
    parts = [pickle.loads(pickle.dumps(p)) for p in parts]
    left = reduce(lambda a, b: (a.merge(b), a)[1], parts[1:], parts[0])
    merged = build_statistics(left)
    for a, b in zip(one_pass.features, merged.features, strict=True):
        assert a.name == b.name and a.inferred_type == b.inferred_type
        if a.numerical:
            x, y = a.numerical, b.numerical
            assert (x.num_present, x.num_missing, x.min, x.max) == (
                y.num_present,
                y.num_missing,
                y.min,
                y.max,
            )
            assert x.sum == pytest.approx(y.sum, rel=1e-12)
            assert x.std_dev == pytest.approx(y.std_dev, rel=1e-12)
        else:
            assert a.string == b.string


def test_columns_missing_from_some_batches_count_as_missing() -> None:
    profile = DatasetProfile()
    profile.update(pa.record_batch({"a": [1, 2]}))
    profile.update(pa.record_batch({"a": [3], "b": ["x"]}))
    other = DatasetProfile()
    other.update(pa.record_batch({"c": [1.5]}))
    profile.merge(other)
    assert profile.rows == 4
    assert {n: (c.rows, c.missing) for n, c in profile.columns.items()} == {
        "a": (4, 1),
        "b": (4, 3),
        "c": (4, 3),
    }


def test_kll_quantiles_within_error_bound() -> None:
    rng = np.random.default_rng(5)
    values = rng.lognormal(0, 1, 300_000)
    column = ColumnProfile("x")
    for chunk in np.array_split(values, 17):
        column.update(pa.array(chunk))
    levels = sketch_levels(column.numeric.sketch)
    assert len(levels) > 1  # really compacted
    cdf = LevelCdf(levels)
    assert cdf.total == len(values)
    probes = np.quantile(values, np.linspace(0.01, 0.99, 99))
    exact = np.searchsorted(np.sort(values), probes, side="right") / len(values)
    bound = column.numeric.sketch.normalized_rank_error(False)
    assert np.max(np.abs(cdf.cdf(probes) - exact)) <= 2 * bound


def test_small_sketch_keeps_every_value_in_input_order() -> None:
    column = ColumnProfile("x")
    column.update(pa.array([3.0, 1.0, 2.0]))
    column.update(pa.array([5, 4]))
    assert sketch_levels(column.numeric.sketch) == [[3.0, 1.0, 2.0, 5.0, 4.0]]


def test_bucket_boundaries() -> None:
    # interior boundary values go to the bucket they start; max is in the last bucket
    buckets = equal_width_buckets([[1.0, 2.0, 2.0, 3.0, 1.2]], 1.0, 3.0)
    assert [b[2] for b in buckets] == [1.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0]
    bounds = equal_width_buckets([[23.2, 395.0]], 23.2, 395.0)
    assert bounds[1][0] == 60.379999999999995  # float error kept, as SageMaker prints it


def test_small_span_integers_are_tallied_exactly() -> None:
    rng = np.random.default_rng(6)
    values = rng.poisson(30, 100_000)
    parts = [ColumnProfile("x") for _ in range(3)]
    for part, chunk in zip(parts, np.array_split(values, 3), strict=True):
        for piece in np.array_split(chunk, 5):
            part.update(pa.array(piece))
    column = reduce(lambda a, b: (a.merge(b), a)[1], parts[1:], parts[0])
    assert column.numeric.tally is not None  # never fell back to the sketch
    levels = column.numeric.levels()
    cdf = LevelCdf(levels)
    assert cdf.total == len(values)
    probes = np.arange(values.min() - 1, values.max() + 2)
    exact = np.searchsorted(np.sort(values), probes, side="right") / len(values)
    np.testing.assert_array_equal(cdf.cdf(probes), exact)
    feature = build_statistics(DatasetProfile({"x": column}, len(values))).feature("x")
    n = feature.numerical
    assert n.std_dev == pytest.approx(values.std(), rel=1e-12)
    assert n.sum == values.sum() and n.mean == pytest.approx(values.mean(), rel=1e-15)
    edges = [b.lower_bound for b in n.buckets] + [n.max]
    hist, _ = np.histogram(values, bins=edges)
    assert [b.count for b in n.buckets] == hist.tolist()


def test_wide_integers_and_mixed_batches_fall_back_to_the_sketch() -> None:
    rng = np.random.default_rng(7)
    narrow = rng.integers(0, 10, 5000)
    wide = rng.integers(0, 10_000_000, 5000)
    floats = rng.normal(5, 1, 5000)
    column = ColumnProfile("x")
    column.update(pa.array(narrow))
    assert column.numeric.tally is not None
    column.update(pa.array(wide))
    assert column.numeric.tally is None
    column.update(pa.array(floats))
    everything = np.concatenate([narrow, wide, floats])
    cdf = LevelCdf(column.numeric.levels())
    assert cdf.total == len(everything)
    probes = np.quantile(everything, [0.1, 0.3, 0.5, 0.7, 0.9])
    exact = np.searchsorted(np.sort(everything), probes, side="right") / len(everything)
    assert np.max(np.abs(cdf.cdf(probes) - exact)) < 0.01
    # a tallied column merged into a sketched one keeps every value
    tallied = ColumnProfile("x")
    tallied.update(pa.array(narrow))
    column.merge(tallied)
    assert LevelCdf(column.numeric.levels()).total == len(everything) + len(narrow)


@pytest.mark.parametrize("kind", ["int64", "float64", "bool"])
def test_as_numpy_equals_arrow_to_numpy_on_slices(kind: str) -> None:
    rng = np.random.default_rng(5)
    if kind == "int64":
        data = pa.array(rng.integers(-1000, 1000, 100), pa.int64())
    elif kind == "float64":
        data = pa.array(rng.normal(size=100), pa.float64())
    else:
        data = pa.array(rng.random(100) < 0.3, pa.bool_())
    for start, length in ((0, 100), (3, 50), (13, 0), (99, 1), (7, 80)):
        piece = data.slice(start, length)
        got = as_numpy(piece)
        assert got.dtype == piece.to_numpy(zero_copy_only=False).dtype
        np.testing.assert_array_equal(got, piece.to_numpy(zero_copy_only=False))
    with_nulls = pa.array([1.5, None, 2.5])
    np.testing.assert_array_equal(as_numpy(with_nulls), [1.5, np.nan, 2.5])
