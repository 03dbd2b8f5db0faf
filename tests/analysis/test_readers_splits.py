"""Splits: byte ranges of large CSV files read exactly like one serial read."""

from __future__ import annotations

import gzip
import io
import pickle
import random
from itertools import pairwise

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelmon.analysis.readers import (
    DatasetFormat,
    Split,
    SplitUnsafe,
    plan_splits,
    read_batches,
    read_split,
)
from modelmon.errors import InputError

HEADER = DatasetFormat("csv", header=True)
PLAIN = DatasetFormat("csv")


def _messy_csv(rows: int, seed: int = 7) -> str:
    """Quoted commas, quoted newlines, doubled quotes, unicode, negatives, missing values."""
    rng = random.Random(seed)
    words = ["plain", "with, comma", 'say "hi"', "two\nlines", "Zoë", "東京", "x\r\ny", "-"]
    out = ["id,amount,label,text\n"]
    for i in range(rows):
        word = rng.choice(words)
        text = (
            f'"{word.replace(chr(34), chr(34) * 2)}"' if any(c in word for c in ',"\n\r') else word
        )
        amount = "" if rng.random() < 0.1 else f"{rng.uniform(-100, 100):.3f}"
        out.append(f"{i},{amount},{rng.choice(['a', 'b', ''])},{text}\n")
    return "".join(out)


def _rows(splits, fmt, **options) -> pa.Table:
    batches = [b for s in splits for b in read_split(s, fmt, **options)]
    return pa.Table.from_batches(batches)


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("splits") / "messy.csv"
    path.write_text(_messy_csv(3000), encoding="utf-8")
    return str(path)


def test_ranges_start_after_a_newline_and_share_the_header(messy):
    splits = plan_splits([messy], HEADER, parts=4, min_split_bytes=1 << 12)
    assert len(splits) >= 4
    with open(messy, "rb") as handle:
        data = handle.read()
    assert splits[0].start == data.index(b"\n") + 1  # the header is not in any range
    assert splits[-1].end == len(data)
    for before, after in pairwise(splits):
        assert before.end == after.start
        assert data[after.start - 1 : after.start] == b"\n"
    assert {s.column_names for s in splits} == {("id", "amount", "label", "text")}
    assert sum(s.size for s in splits) == len(data) - splits[0].start


def test_ranges_read_exactly_like_pandas_and_one_serial_read(messy):
    splits = plan_splits([messy], HEADER, parts=5, min_split_bytes=1 << 12)
    assert len(splits) > 1
    serial = pa.Table.from_batches(list(read_batches(messy, HEADER)))
    assert _rows(splits, HEADER).equals(serial)
    text = frozenset({"id", "amount", "label", "text"})
    as_text = _rows(splits, HEADER, string_columns=text).to_pydict()
    expected = pd.read_csv(messy, dtype=str, keep_default_na=False, na_values=[""])
    expected = expected.astype(object).where(expected.notna(), None).to_dict("list")
    assert as_text == expected


def test_ranges_of_a_file_without_header(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("".join(f'{i},{-i}.5,"v,{i}"\n' for i in range(2000)))
    splits = plan_splits([str(path)], PLAIN, parts=3, min_split_bytes=1 << 11)
    assert len(splits) >= 3 and splits[0].start == 0
    table = _rows(splits, PLAIN)
    assert table.schema.names == ["_c0", "_c1", "_c2"]
    assert table.column("_c0").to_pylist() == list(range(2000))
    assert table.column("_c2").to_pylist()[-1] == "v,1999"


def test_ragged_row_in_a_later_range_names_its_line(tmp_path):
    lines = ["a,b,c\n"] + [f'{i},"x\ny",z\n' for i in range(3000)]  # 2 lines per row
    lines[2500] = "1,2\n"  # after the header, lines[k] starts on line 2k
    path = tmp_path / "ragged.csv"
    path.write_text("".join(lines))
    splits = plan_splits([str(path)], HEADER, parts=4, min_split_bytes=1 << 11)
    assert len(splits) >= 4
    with pytest.raises(InputError) as err:
        _rows(splits, HEADER)
    assert (err.value.line, err.value.reason) == (5000, "expected 3 fields, found 2")
    assert str(path) in str(err.value)


def test_not_utf8_in_a_later_range_names_its_line(tmp_path):
    rows = [f"{i},ok\n".encode() for i in range(3000)]
    rows[2000] = b"2000,caf\xe9\n"
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"".join(rows))
    splits = plan_splits([str(path)], PLAIN, parts=4, min_split_bytes=1 << 11)
    with pytest.raises(InputError) as err:
        _rows(splits, PLAIN)
    assert (err.value.line, err.value.reason) == (2001, "not UTF-8 text")


@pytest.mark.parametrize("rest_of_field", ["world and more", "world, and more"])
def test_a_stray_quote_that_fools_the_cut_raises_split_unsafe(tmp_path, rest_of_field):
    # A quote inside an unquoted field is a literal character, but it flips the
    # quote count, so a newline inside the later quoted field looks like a record end.
    head = 'a,b\n1,12" pipe\n2,"hello\n'
    tail = f'{rest_of_field}"\n' + "".join(f"{i},x\n" for i in range(3, 400))
    path = tmp_path / "stray.csv"
    path.write_text(head + tail)
    serial = pa.Table.from_batches(list(read_batches(str(path), HEADER)))
    assert serial.column("b").to_pylist()[:2] == ['12" pipe', f"hello\n{rest_of_field}"]
    splits = plan_splits([str(path)], HEADER, parts=10_000, min_split_bytes=16)
    assert splits[1].start == len(head)  # cut inside the quoted field
    with pytest.raises(SplitUnsafe) as err:
        _rows(splits, HEADER)  # the first range ends inside the quoted field
    assert err.value.source == str(path)
    if "," not in rest_of_field:  # the second range, alone, starts with a short row
        with pytest.raises(SplitUnsafe):
            _rows(splits[1:], HEADER)
    again = plan_splits([str(path)], HEADER, parts=10_000, min_split_bytes=16, byte_ranges=False)
    assert _rows(again, HEADER).equals(serial)


def test_small_compressed_and_non_csv_files_are_one_split(tmp_path):
    big = tmp_path / "big.csv.gz"
    big.write_bytes(gzip.compress(_messy_csv(3000).encode()))
    small = tmp_path / "small.csv"
    small.write_text("a\n1\n")
    splits = plan_splits([str(big), str(small)], HEADER, parts=8, min_split_bytes=64)
    assert splits == [
        Split(str(big), size=big.stat().st_size),
        Split(str(small), size=small.stat().st_size),
    ]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"a": 1}\n' * 1000)
    assert plan_splits([str(jsonl)], DatasetFormat("json"), 8, min_split_bytes=64) == [
        Split(str(jsonl), size=jsonl.stat().st_size)
    ]


def test_parquet_splits_by_row_groups(tmp_path):
    path = tmp_path / "a.parquet"
    table = pa.table({"x": list(range(1000)), "y": [f"v{i}" for i in range(1000)]})
    pq.write_table(table, path, row_group_size=100)
    fmt = DatasetFormat("parquet")
    splits = plan_splits([str(path)], fmt, parts=4, min_split_bytes=1)
    assert len(splits) > 1
    groups = [g for s in splits for g in s.row_groups or ()]
    assert groups == list(range(10))
    assert _rows(splits, fmt).equals(table)


def test_splits_are_picklable(messy):
    splits = plan_splits([messy], HEADER, parts=3, min_split_bytes=1 << 12)
    assert pickle.loads(pickle.dumps(splits)) == splits
    buffer = io.BytesIO()
    pickle.dump(splits[1], buffer)
    assert _rows([pickle.loads(buffer.getvalue())], HEADER).num_rows > 0
