"""CSV reader: values, names, types, gzip, directories, and errors naming file and line."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pytest

from modelmon.analysis.readers import DatasetFormat, SchemaChange, read_batches
from modelmon.analysis.readers import csv as csv_module
from modelmon.errors import InputError

HEADER = DatasetFormat("csv", header=True)
PLAIN = DatasetFormat("csv")
ALLOWED = {pa.int64(), pa.float64(), pa.string(), pa.large_string(), pa.null()}


def write(tmp_path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def read(uri, fmt, **options) -> pa.Table:
    batches = list(read_batches(uri, fmt, **options))
    for batch in batches:
        assert {f.type for f in batch.schema} <= ALLOWED
    return pa.Table.from_batches(batches)


def test_header_values_and_types(tmp_path):
    uri = write(
        tmp_path,
        "a.csv",
        "id,price,name,flag,day,note\n"
        '1,-2.5,"Smith, J.",true,2020-01-01,\n'
        '-2,3,Zoë 東京,false,2020-01-02,""\n'
        '3,1e3,"say ""hi""",TRUE,2020-01-03,"two\nlines"\n',
    )
    table = read(uri, HEADER)
    assert table.schema.names == ["id", "price", "name", "flag", "day", "note"]
    assert table.schema.types[:3] == [pa.int64(), pa.float64(), pa.string()]
    assert table.to_pydict() == {
        "id": [1, -2, 3],
        "price": [-2.5, 3.0, 1000.0],
        "name": ["Smith, J.", "Zoë 東京", 'say "hi"'],
        "flag": ["true", "false", "TRUE"],  # no boolean inference
        "day": ["2020-01-01", "2020-01-02", "2020-01-03"],  # no date inference: as written
        "note": [None, "", "two\nlines"],  # unquoted empty: missing; quoted "": empty string
    }


def test_no_header_uses_spark_names(tmp_path):
    uri = write(tmp_path, "a.csv", "1,a,2.5\n2,b,3.5\n")
    table = read(uri, PLAIN)
    assert table.schema.names == ["_c0", "_c1", "_c2"]
    assert table.column("_c1").to_pylist() == ["a", "b"]


def test_string_columns(tmp_path):
    uri = write(tmp_path, "a.csv", "1,007,2.50\n2,010,3\n")
    table = read(uri, PLAIN, string_columns=frozenset({"_c1", "_c2"}))
    assert table.to_pydict() == {"_c0": [1, 2], "_c1": ["007", "010"], "_c2": ["2.50", "3"]}
    header = write(tmp_path, "h.csv", "a,b\n1,007\n")
    assert read(header, HEADER, string_columns=frozenset({"b", "zz"})).column("b").to_pylist() == [
        "007"
    ]


def test_delimiter_and_crlf(tmp_path):
    uri = write(tmp_path, "a.tsv", "a\tb\r\n1\tx y\r\n2\t\r\n")
    table = read(uri, DatasetFormat("csv", header=True, delimiter="\t"))
    assert table.to_pydict() == {"a": [1, 2], "b": ["x y", None]}


def test_gzip_by_suffix_and_by_magic(tmp_path):
    data = gzip.compress(b"a,b\n1,x\n2,y\n")
    for name in ("a.csv.gz", "a.csv"):
        table = read(write(tmp_path, name, data), HEADER)
        assert table.to_pydict() == {"a": [1, 2], "b": ["x", "y"]}


def test_directory_of_files_in_order(tmp_path):
    write(tmp_path, "d/part-1.csv", "a,b\n3,z\n")
    write(tmp_path, "d/part-0.csv", "a,b\n1,x\n2,y\n")
    write(tmp_path, "d/sub/part-2.csv.gz", gzip.compress(b"a,b\n4,w\n"))
    write(tmp_path, "d/_SUCCESS", "")
    write(tmp_path, "d/.part-0.csv.crc", "garbage")
    table = read(str(tmp_path / "d"), HEADER)
    assert table.column("a").to_pylist() == [1, 2, 3, 4]
    listed = [str(tmp_path / "d" / "part-1.csv"), str(tmp_path / "d" / "part-0.csv")]
    assert read(listed, HEADER).column("a").to_pylist() == [3, 1, 2]


def test_batch_rows(tmp_path):
    uri = write(tmp_path, "a.csv", "".join(f"{i}\n" for i in range(10)))
    sizes = [b.num_rows for b in read_batches(uri, PLAIN, batch_rows=4)]
    assert sizes == [4, 4, 2]


@pytest.fixture
def small_blocks(monkeypatch):
    """Arrow infers types from the first block: make blocks small."""
    monkeypatch.setattr(csv_module, "BLOCK_SIZE", 1 << 10)


@pytest.mark.parametrize("late", ["abc", "3.5"])
def test_late_type_change_raises_schema_change(tmp_path, small_blocks, late):
    rows = "".join(f"{i},x\n" for i in range(2000))
    uri = write(tmp_path, "a.csv", f"n,s\n{rows}{late},y\n")
    with pytest.raises(SchemaChange) as err:
        read(uri, HEADER)
    assert err.value.columns == ["n"]
    assert uri in str(err.value)
    table = read(uri, HEADER, string_columns=frozenset(err.value.columns))
    assert table.column("n").to_pylist()[-2:] == ["1999", late]


def test_late_values_in_an_empty_column(tmp_path, small_blocks):
    rows = "".join(f"{i},\n" for i in range(2000))
    uri = write(tmp_path, "a.csv", f"n,s\n{rows}1,7\n")
    with pytest.raises(SchemaChange) as err:
        read(uri, HEADER)
    assert err.value.columns == ["s"]


# -- bad input: the message names the file and the line -------------------------


def _error(uri, fmt, **options) -> InputError:
    with pytest.raises(InputError) as err:
        read(uri, fmt, **options)
    assert uri in str(err.value)
    return err.value


def test_missing_file(tmp_path):
    error = _error(str(tmp_path / "nope.csv"), HEADER)
    assert "no such file" in str(error)


@pytest.mark.parametrize(
    ("data", "fmt", "reason"),
    [
        ("", PLAIN, "the file is empty"),
        ("", HEADER, "the file is empty"),
        ("\n\n", PLAIN, "the file is empty"),
        ("a,b\n", HEADER, "header but no data rows"),
    ],
)
def test_empty(tmp_path, data, fmt, reason):
    assert reason in str(_error(write(tmp_path, "e.csv", data), fmt))


def test_empty_gzip(tmp_path):
    error = _error(write(tmp_path, "e.csv.gz", gzip.compress(b"")), PLAIN)
    assert "the file is empty" in str(error)


@pytest.mark.parametrize(
    ("fmt", "first_data_line"),
    [(HEADER, 2), (PLAIN, 1)],
)
def test_ragged_row_line_number(tmp_path, fmt, first_data_line):
    header = "a,b,c,d,e,f\n" if fmt.header else ""
    good = "".join(f"{i},2,3,4,5,6\n" for i in range(15))
    uri = write(tmp_path, "r.csv", f"{header}{good}1,2,3,4,5,6,7\n1,2,3,4,5,6\n")
    error = _error(uri, fmt)
    assert error.line == first_data_line + 15
    assert f"line {first_data_line + 15}: expected 6 fields, found 7" in str(error)


def test_ragged_row_after_quoted_newlines_and_blank_lines(tmp_path):
    uri = write(
        tmp_path,
        "r.csv",
        'a,b\n1,"x\ny\nz"\n\n2,ok\n\n3\n',  # the short row is on line 8
    )
    error = _error(uri, HEADER)
    assert (error.line, error.reason) == (8, "expected 2 fields, found 1")


def test_ragged_row_after_a_literal_quote(tmp_path):
    # a quote inside an unquoted field is an ordinary character: no field spans lines
    uri = write(tmp_path, "r.csv", 'a,b\n1,12" pipe\n2,"x ""y"""\n3,"z\nw"\n4\n')
    error = _error(uri, HEADER)
    assert (error.line, error.reason) == (6, "expected 2 fields, found 1")


def test_not_utf8(tmp_path):
    uri = write(tmp_path, "u.csv", b"a,b\n1,x\n2,caf\xe9\n3,z\n")
    error = _error(uri, HEADER)
    assert (error.line, error.reason) == (3, "not UTF-8 text")


def test_not_utf8_in_a_numeric_looking_column(tmp_path, small_blocks):
    rows = "".join(f"{i},x\n" for i in range(2000)).encode()
    uri = write(tmp_path, "u.csv", b"a,b\n" + rows + b"7,\xff\n")
    error = _error(uri, HEADER)
    assert (error.line, error.reason) == (2002, "not UTF-8 text")


def test_not_utf8_header(tmp_path):
    error = _error(write(tmp_path, "u.csv", b"a,\xffb\n1,2\n"), HEADER)
    assert error.line == 1


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("a,b,a", "column 3 of the header repeats the name 'a' of column 1"),
        ("a,,c", "column 2 of the header has no name"),
    ],
)
def test_bad_header(tmp_path, header, reason):
    error = _error(write(tmp_path, "h.csv", f"{header}\n1,2,3\n"), HEADER)
    assert (error.line, error.reason) == (1, reason)
