"""A churn-like synthetic dataset for demos, tests and benchmarks.

The table is modelled on the customer-churn example used by SageMaker Model
Monitor's introduction (a label, eleven usage counts and minutes, one-hot flags),
with the raw categorical columns kept beside their flags so that every kind of
column an analyzer meets is present. It has exactly 70 columns, in this order:

* ``Churn``: the 0/1 label; it depends on the features (day minutes, customer
  service calls, international and voice-mail plans, ...), about 14 % of rows are 1.
* eleven numeric features: ``Account Length``, ``VMail Message``, ``Day Mins``,
  ``Day Calls``, ``Eve Mins``, ``Eve Calls``, ``Night Mins``, ``Night Calls``,
  ``Intl Mins``, ``Intl Calls``, ``CustServ Calls``; the ``*Mins`` columns are
  floats with one decimal, the others integers.
* four low-cardinality strings: ``State`` (51 codes, the 50 states and DC),
  ``Area Code`` (``"408"``, ``"415"``, ``"510"``), ``Int'l Plan`` and ``VMail Plan``
  (``"yes"``/``"no"``).
* 54 one-hot 0/1 flags: ``State_AK`` ... ``State_WY`` and ``Area Code_408``,
  ``Area Code_415``, ``Area Code_510``.

Missing values: about 1 % of ``Eve Mins``, 0.5 % of ``Intl Calls`` (an integer
column with nulls) and 0.5 % of ``Area Code`` (whose flags are then all 0).

Every column draws from its own random stream, so a table is deterministic for a
seed, its first *n* rows do not depend on how many rows were asked for, and
``drift=True`` leaves the values (not only the distribution) of every column
outside :data:`DRIFTED_FEATURES` identical to those of ``drift=False``.
Drift is a shift of what is observed: the label is drawn from the undrifted
features, so a model trained on the baseline also loses quality on drifted data.

Needs only numpy and pyarrow; big files are written in chunks (:func:`write_csv`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = [
    "AREA_CODES",
    "COLUMNS",
    "DRIFTED_FEATURES",
    "LABEL",
    "STATES",
    "churn_batches",
    "churn_table",
    "write_csv",
]

LABEL = "Churn"

STATES: tuple[str, ...] = (
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA",
    "ID", "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS",
    "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY",
)  # fmt: skip
AREA_CODES: tuple[str, ...] = ("408", "415", "510")

_NUMERIC_COLUMNS = (
    "Account Length", "VMail Message", "Day Mins", "Day Calls", "Eve Mins", "Eve Calls",
    "Night Mins", "Night Calls", "Intl Mins", "Intl Calls", "CustServ Calls",
)  # fmt: skip
_STRING_COLUMNS = ("State", "Area Code", "Int'l Plan", "VMail Plan")
_STATE_FLAGS = tuple(f"State_{s}" for s in STATES)
_AREA_FLAGS = tuple(f"Area Code_{a}" for a in AREA_CODES)

COLUMNS: tuple[str, ...] = (LABEL, *_NUMERIC_COLUMNS, *_STRING_COLUMNS, *_STATE_FLAGS, *_AREA_FLAGS)
"""The 70 column names, in table order."""

DRIFTED_FEATURES: tuple[str, ...] = (
    "Day Mins",
    "CustServ Calls",
    "Int'l Plan",
    "State",
    *_STATE_FLAGS,
)
"""The columns whose distribution ``drift=True`` changes; all others stay identical.

* ``Day Mins``: every value times 1.3 (mean +30 %, spread +30 %);
* ``CustServ Calls``: 35 % of customers make Poisson(4) extra calls (heavier tail,
  mean about 1.6 → 3.0);
* ``Int'l Plan``: share of ``"yes"`` 10 % → 40 %;
* ``State`` and hence every ``State_XX`` flag: CA, TX, NY, FL and IL take 45 % of
  the rows (about 2 % each before), every other state's share shrinks by ~40 %.
"""

# Baseline shares: mildly uneven, fixed by formula (no real data involved).
_STATE_WEIGHTS = 1.0 + 0.35 * np.sin(np.arange(len(STATES)) * 1.7)
_STATE_P = _STATE_WEIGHTS / _STATE_WEIGHTS.sum()
_DRIFT_STATES = ("CA", "TX", "NY", "FL", "IL")
_DRIFT_STATES_SHARE = 0.45
_IS_DRIFT_STATE = np.isin(np.array(STATES), _DRIFT_STATES)
_STATE_P_DRIFT = np.where(
    _IS_DRIFT_STATE,
    _DRIFT_STATES_SHARE / len(_DRIFT_STATES),
    _STATE_P * (1.0 - _DRIFT_STATES_SHARE) / _STATE_P[~_IS_DRIFT_STATE].sum(),
)
_AREA_P = np.array([0.25, 0.50, 0.25])
_INTL_YES = 0.10
_INTL_YES_DRIFT = 0.40
_VMAIL_YES = 0.28
_DAY_MINS_FACTOR = 1.3
_CUSTSERV_EXTRA_SHARE = 0.35
_CUSTSERV_EXTRA_MEAN = 4.0
_NULL_SHARE = {"Eve Mins": 0.01, "Intl Calls": 0.005, "Area Code": 0.005}
_CHURN_INTERCEPT = -2.5

# One independent random stream per draw; the index is part of the stream's key,
# so never reorder this tuple (append new draws at the end).
_STREAMS = (
    "account_length", "vmail_plan", "vmail_message", "day_mins", "day_calls",
    "eve_mins", "eve_calls", "night_mins", "night_calls", "intl_mins", "intl_calls",
    "custserv", "state", "area", "intl_plan", "churn", "null_Eve Mins",
    "null_Intl Calls", "null_Area Code", "drift_custserv_who", "drift_custserv_extra",
)  # fmt: skip

_DEFAULT_BATCH_ROWS = 250_000
_YES_NO = pa.array(["no", "yes"])
_STATE_STRINGS = pa.array(STATES)
_AREA_STRINGS = pa.array(AREA_CODES)


class _Generator:
    """Draws consecutive row ranges of one churn table (seed, drift)."""

    def __init__(self, seed: int, drift: bool) -> None:
        root = np.random.SeedSequence(seed)
        self.drift = drift
        self.rng = {
            name: np.random.Generator(
                np.random.PCG64(np.random.SeedSequence(root.entropy, spawn_key=(i,)))
            )
            for i, name in enumerate(_STREAMS)
        }

    def _normal(self, name: str, mean: float, sd: float, n: int) -> np.ndarray:
        return self.rng[name].normal(mean, sd, n)

    def _count(self, name: str, mean: float, sd: float, n: int, low: int = 0) -> np.ndarray:
        """Integer counts from a rounded normal, clipped below at ``low``."""
        x = np.rint(self._normal(name, mean, sd, n))
        return np.maximum(x, low).astype(np.int64)

    def _minutes(self, name: str, mean: float, sd: float, n: int) -> np.ndarray:
        return np.round(np.maximum(self._normal(name, mean, sd, n), 0.0), 1)

    def _nulls(self, column: str, n: int) -> np.ndarray:
        return self.rng[f"null_{column}"].random(n) < _NULL_SHARE[column]

    def batch(self, n: int) -> pa.RecordBatch:
        """The next ``n`` rows."""
        account_length = np.clip(self._count("account_length", 101, 40, n), 1, 243)
        vmail_yes = self.rng["vmail_plan"].random(n) < _VMAIL_YES
        vmail_msgs = np.clip(self._count("vmail_message", 29.5, 7.5, n), 1, 60)
        vmail_msgs = np.where(vmail_yes, vmail_msgs, 0)
        day_mins = self._minutes("day_mins", 180, 54, n)
        day_calls = self._count("day_calls", 100, 20, n)
        eve_mins = self._minutes("eve_mins", 200, 50, n)
        eve_calls = self._count("eve_calls", 100, 20, n)
        night_mins = self._minutes("night_mins", 201, 50, n)
        night_calls = self._count("night_calls", 100, 19, n)
        intl_mins = self._minutes("intl_mins", 10.25, 2.8, n)
        intl_calls = self.rng["intl_calls"].poisson(4.5, n)
        custserv = self.rng["custserv"].poisson(1.58, n)
        state_u = self.rng["state"].random(n)
        area = np.searchsorted(np.cumsum(_AREA_P)[:-1], self.rng["area"].random(n), "right")
        intl_u = self.rng["intl_plan"].random(n)
        intl_yes = intl_u < _INTL_YES

        logit = (
            _CHURN_INTERCEPT
            + 0.016 * (day_mins - 180)
            + 0.004 * (eve_mins - 200)
            + 0.08 * (intl_mins - 10)
            + 2.0 * intl_yes
            - 1.0 * vmail_yes
            + 2.4 * (custserv >= 4)
        )
        churn = (self.rng["churn"].random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

        state_p = _STATE_P
        if self.drift:
            day_mins = np.round(day_mins * _DAY_MINS_FACTOR, 1)
            who = self.rng["drift_custserv_who"].random(n) < _CUSTSERV_EXTRA_SHARE
            extra = self.rng["drift_custserv_extra"].poisson(_CUSTSERV_EXTRA_MEAN, n)
            custserv = custserv + np.where(who, extra, 0)
            intl_yes = intl_u < _INTL_YES_DRIFT
            state_p = _STATE_P_DRIFT
        state = np.searchsorted(np.cumsum(state_p)[:-1], state_u, "right")

        area_null = self._nulls("Area Code", n)
        area_idx = pa.array(area, mask=area_null)
        columns: dict[str, pa.Array] = {
            LABEL: pa.array(churn),
            "Account Length": pa.array(account_length),
            "VMail Message": pa.array(vmail_msgs),
            "Day Mins": pa.array(day_mins),
            "Day Calls": pa.array(day_calls),
            "Eve Mins": pa.array(eve_mins, mask=self._nulls("Eve Mins", n)),
            "Eve Calls": pa.array(eve_calls),
            "Night Mins": pa.array(night_mins),
            "Night Calls": pa.array(night_calls),
            "Intl Mins": pa.array(intl_mins),
            "Intl Calls": pa.array(intl_calls, mask=self._nulls("Intl Calls", n)),
            "CustServ Calls": pa.array(custserv),
            "State": pc.take(_STATE_STRINGS, pa.array(state)),
            "Area Code": pc.take(_AREA_STRINGS, area_idx),
            "Int'l Plan": pc.take(_YES_NO, pa.array(intl_yes.astype(np.int8))),
            "VMail Plan": pc.take(_YES_NO, pa.array(vmail_yes.astype(np.int8))),
        }
        for k, name in enumerate(_STATE_FLAGS):
            columns[name] = pa.array((state == k).astype(np.int64))
        area_known = np.where(area_null, -1, area)
        for k, name in enumerate(_AREA_FLAGS):
            columns[name] = pa.array((area_known == k).astype(np.int64))
        return pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))


@functools.cache
def _schema() -> pa.Schema:
    return _Generator(0, False).batch(0).schema


def _check_args(rows: int, seed: int, batch_rows: int) -> None:
    if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < 0:
        raise ValueError(f"rows must be a non-negative integer, got {rows!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise ValueError(f"chunk/batch rows must be a positive integer, got {batch_rows!r}")


def churn_batches(
    rows: int, *, seed: int = 0, drift: bool = False, batch_rows: int = _DEFAULT_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Yield the rows of ``churn_table(rows, seed=seed, drift=drift)`` as record batches.

    Only one batch of ``batch_rows`` rows is in memory at a time; the rows are the
    same whatever ``batch_rows`` is.
    """
    _check_args(rows, seed, batch_rows)
    return _batches(_Generator(int(seed), bool(drift)), int(rows), batch_rows)


def _batches(gen: _Generator, rows: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
    done = 0
    while done < rows:
        n = min(batch_rows, rows - done)
        yield gen.batch(n)
        done += n


def churn_table(rows: int, *, seed: int = 0, drift: bool = False) -> pa.Table:
    """A churn-like table of ``rows`` rows and 70 columns (see the module docstring).

    Integers are ``int64``, minutes ``float64`` and categories ``string``, as a CSV
    reader infers them; that is about 560 bytes a row, so stream big datasets with
    :func:`churn_batches` or :func:`write_csv` instead.
    """
    return pa.Table.from_batches(churn_batches(rows, seed=seed, drift=drift), schema=_schema())


def write_csv(
    path: str | os.PathLike[str],
    rows: int,
    *,
    seed: int = 0,
    drift: bool = False,
    header: bool = True,
    chunk_rows: int = _DEFAULT_BATCH_ROWS,
) -> Path:
    """Stream ``churn_table(rows, seed=seed, drift=drift)`` to a CSV file; return its path.

    Plain comma-separated values, unquoted, no index column, missing values as
    empty fields, a header line unless ``header=False``. A ``.gz`` (or ``.bz2``,
    ``.zst``...) suffix compresses the file. Memory is bounded by ``chunk_rows``.
    The file appears complete or not at all (written aside, then renamed).
    """
    _check_args(rows, seed, chunk_rows)
    out = Path(path)
    options = pacsv.WriteOptions(
        include_header=header,
        batch_size=16_384,
        quoting_style="none",
        quoting_header="none",
    )
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")  # keeps a .gz suffix last
    batches = churn_batches(rows, seed=seed, drift=drift, batch_rows=chunk_rows)
    try:
        _write(partial, batches, options)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
    return out


def _write(path: Path, batches: Iterator[pa.RecordBatch], options: pacsv.WriteOptions) -> None:
    with (
        pa.output_stream(str(path)) as sink,
        pacsv.CSVWriter(sink, _schema(), write_options=options) as writer,
        ThreadPoolExecutor(1) as prefetch,  # draw the next chunk while this one is written
    ):
        pending = prefetch.submit(next, batches, None)
        while (batch := pending.result()) is not None:
            pending = prefetch.submit(next, batches, None)
            writer.write_batch(batch)
