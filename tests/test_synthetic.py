"""The churn-like generator: shape, kinds, determinism, drift and CSV output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelmon import synthetic
from modelmon.synthetic import COLUMNS, DRIFTED_FEATURES, churn_batches, churn_table, write_csv

FLOATS = ("Day Mins", "Eve Mins", "Night Mins", "Intl Mins")
INTEGERS = (
    "Churn", "Account Length", "VMail Message", "Day Calls", "Eve Calls", "Night Calls",
    "Intl Calls", "CustServ Calls",
)  # fmt: skip
STRINGS = ("State", "Area Code", "Int'l Plan", "VMail Plan")
FLAGS = tuple(c for c in COLUMNS if c.startswith(("State_", "Area Code_")))
NULLABLE = {"Eve Mins", "Intl Calls", "Area Code"}


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return churn_table(20_000, seed=3)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic, max |F_a - F_b| over all values."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


def max_share_z(a: pd.Series, b: pd.Series) -> float:
    """Largest two-proportion z-score over the categories (nulls included) of a and b."""
    pa_ = a.fillna("<null>").astype(str).value_counts(normalize=True)
    pb = b.fillna("<null>").astype(str).value_counts(normalize=True)
    pa_, pb = pa_.align(pb, fill_value=0.0)
    pooled = (pa_ + pb) / 2
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
    return float((np.abs(pa_ - pb) / se).max())


def test_seventy_columns_of_the_stated_kinds(table: pa.Table) -> None:
    assert table.column_names == list(COLUMNS)
    assert len(COLUMNS) == 70 and len(FLOATS + INTEGERS + STRINGS + FLAGS) == 70
    df = table.to_pandas()
    for name in FLOATS:
        assert table.schema.field(name).type == pa.float64()
        x = df[name].dropna().to_numpy()
        np.testing.assert_allclose(x * 10, np.rint(x * 10), atol=1e-6)
        assert (x >= 0).all() and len(np.unique(x)) > 100
    for name in (*INTEGERS, *FLAGS):
        assert table.schema.field(name).type == pa.int64(), name
    for name in ("Churn", *FLAGS):
        assert set(df[name].unique()) <= {0, 1}, name
    for name in STRINGS:
        assert pa.types.is_string(table.schema.field(name).type)
    assert df["State"].nunique() == 51
    assert set(df["Area Code"].dropna()) == {"408", "415", "510"}
    assert set(df["Int'l Plan"]) == set(df["VMail Plan"]) == {"yes", "no"}


def test_flags_are_the_one_hot_of_the_strings(table: pa.Table) -> None:
    df = table.to_pandas()
    states = df[[c for c in FLAGS if c.startswith("State_")]]
    assert (states.sum(axis=1) == 1).all()
    assert (states.idxmax(axis=1).str.removeprefix("State_") == df["State"]).all()
    areas = df[[c for c in FLAGS if c.startswith("Area Code_")]]
    known = df["Area Code"].notna()
    assert (areas.sum(axis=1) == known.astype(int)).all()
    assert (
        areas[known].idxmax(axis=1).str.removeprefix("Area Code_") == df["Area Code"][known]
    ).all()


def test_a_few_nulls_in_a_couple_of_columns(table: pa.Table) -> None:
    nulls = {name: table.column(name).null_count for name in COLUMNS}
    assert {name for name, count in nulls.items() if count} == NULLABLE
    for name in NULLABLE:
        assert 0.001 < nulls[name] / table.num_rows < 0.03


def test_label_depends_on_features(table: pa.Table) -> None:
    df = table.to_pandas()
    assert 0.08 < df["Churn"].mean() < 0.2
    by_plan = df.groupby("Int'l Plan")["Churn"].mean()
    assert by_plan["yes"] > 2 * by_plan["no"]
    assert df[df["CustServ Calls"] >= 4]["Churn"].mean() > 2 * df["Churn"].mean()
    assert df[df["Churn"] == 1]["Day Mins"].mean() > df[df["Churn"] == 0]["Day Mins"].mean() + 15
    assert df["VMail Message"][df["VMail Plan"] == "no"].eq(0).all()


def test_deterministic_for_a_seed_and_independent_of_chunking() -> None:
    a = churn_table(5_000, seed=7)
    assert a.equals(churn_table(5_000, seed=7))
    assert not a.equals(churn_table(5_000, seed=8))
    chunked = pa.Table.from_batches(churn_batches(5_000, seed=7, batch_rows=777))
    assert chunked.equals(a)
    assert churn_table(1_234, seed=7).equals(a.slice(0, 1_234))
    assert churn_table(0).num_rows == 0 and churn_table(0).num_columns == 70


def test_drift_keeps_the_other_columns_value_for_value() -> None:
    base = churn_table(5_000, seed=11)
    drifted = churn_table(5_000, seed=11, drift=True)
    for name in COLUMNS:
        same = base.column(name).equals(drifted.column(name))
        assert same == (name not in DRIFTED_FEATURES), name


def test_drift_changes_exactly_the_drifted_features() -> None:
    """Independent samples (different seeds): only DRIFTED_FEATURES differ in distribution."""
    n = 100_000
    base = churn_table(n, seed=1).to_pandas()
    other = churn_table(n, seed=2).to_pandas()
    drifted = churn_table(n, seed=2, drift=True).to_pandas()
    ks_critical = 2.23 * np.sqrt(2 / n)  # alpha = 1e-4

    def differs(name: str, current: pd.DataFrame) -> bool:
        if name in FLOATS or (name in INTEGERS and name != "Churn"):
            d = ks_statistic(base[name].dropna().to_numpy(), current[name].dropna().to_numpy())
            return d > ks_critical
        return max_share_z(base[name], current[name]) > 4.5

    assert not [name for name in COLUMNS if differs(name, other)]
    assert [name for name in COLUMNS if differs(name, drifted)] == [
        name for name in COLUMNS if name in DRIFTED_FEATURES
    ]
    assert drifted["Day Mins"].mean() / base["Day Mins"].mean() == pytest.approx(1.3, abs=0.01)
    assert drifted["CustServ Calls"].mean() > base["CustServ Calls"].mean() + 1
    assert (
        (drifted["Int'l Plan"] == "yes").mean() > 0.35 > 0.12 > (base["Int'l Plan"] == "yes").mean()
    )


@pytest.mark.parametrize("header", [True, False])
def test_write_csv_round_trips_with_pandas(tmp_path, header: bool) -> None:
    rows = 3_000
    path = write_csv(tmp_path / "churn.csv", rows, seed=5, header=header, chunk_rows=1_000)
    assert path == tmp_path / "churn.csv" and sorted(p.name for p in tmp_path.iterdir()) == [
        "churn.csv"
    ]
    text = path.read_text()
    lines = text.splitlines()
    assert '"' not in text and len(lines) == rows + header
    if header:
        assert lines[0] == ",".join(COLUMNS)
    strings = dict.fromkeys(STRINGS, str)
    read = (
        pd.read_csv(path, dtype=strings)
        if header
        else pd.read_csv(path, header=None, names=list(COLUMNS), dtype=strings)
    )
    expected = churn_table(rows, seed=5).to_pandas()
    pd.testing.assert_frame_equal(read, expected, check_dtype=False)
    null_row = int(np.flatnonzero(expected["Eve Mins"].isna())[0])
    assert lines[null_row + header].split(",")[COLUMNS.index("Eve Mins")] == ""


def test_write_csv_compresses_by_suffix(tmp_path) -> None:
    path = write_csv(tmp_path / "churn.csv.gz", 500, drift=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert pd.read_csv(path).shape == (500, 70)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": -1}, "rows must be a non-negative integer, got -1"),
        ({"rows": 1.5}, "rows must be a non-negative integer, got 1.5"),
        ({"rows": 10, "seed": -3}, "seed must be a non-negative integer, got -3"),
        ({"rows": 10, "batch_rows": 0}, "positive integer, got 0"),
    ],
)
def test_bad_arguments_say_what_was_expected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        churn_batches(**kwargs)


def test_drifted_features_are_real_columns() -> None:
    assert set(DRIFTED_FEATURES) < set(COLUMNS)
    assert {"Day Mins", "CustServ Calls", "Int'l Plan", "State"} <= set(DRIFTED_FEATURES)
    assert synthetic.LABEL not in DRIFTED_FEATURES
