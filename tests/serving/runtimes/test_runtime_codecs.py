"""Payload codecs: every accepted request shape, errors naming the fault, output format."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from modelmon.serving.runtimes import InvocationError, Prediction, decode_request, encode_response

ROWS = np.array([[1.0, 2.5, -3.0], [4.0, 5.0, 6e-3]])


def fails(body: bytes, content_type: str | None, status: int = 400) -> str:
    with pytest.raises(InvocationError) as caught:
        decode_request(body, content_type)
    assert caught.value.status == status
    assert str(caught.value) == caught.value.message
    return caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [[1, 2.5, -3], [4, 5, 0.006]]}',
        b'{"instances": [{"features": [1, 2.5, -3]}, {"features": [4, 5, 0.006]}]}',
        b'{"inputs": [[1, 2.5, -3], [4, 5, 0.006]]}',
        b"[[1, 2.5, -3], [4, 5, 0.006]]",
        b'[{"features": [1, 2.5, -3]}, {"features": [4, 5, 0.006]}]',
    ],
)
def test_json_shapes_with_rows(body):
    got = decode_request(body, "application/json")
    assert got.dtype == np.float64
    assert np.array_equal(got, ROWS)


@pytest.mark.parametrize(
    "body", [b'{"features": [1, 2.5, -3]}', b"[1, 2.5, -3]", b'{"instances": [1, 2.5, -3]}']
)
def test_json_shapes_with_one_row(body):
    assert np.array_equal(decode_request(body, "Application/JSON; charset=utf-8"), ROWS[:1])


def test_json_null_is_nan_and_numeric_strings_are_numbers():
    got = decode_request(b'[[1, null, "2.5"]]', "application/json")
    assert got[0, 0] == 1.0 and math.isnan(got[0, 1]) and got[0, 2] == 2.5


@pytest.mark.parametrize("media", ["application/jsonlines", "application/x-jsonlines"])
def test_jsonlines(media):
    body = b'[1, 2.5, -3]\n{"features": [4, 5, 0.006]}\n'
    assert np.array_equal(decode_request(body, media), ROWS)


@pytest.mark.parametrize(
    "body",
    [
        b"1,2.5,-3\n4,5,0.006",
        b"1,2.5,-3\n4,5,0.006\n",
        b"1,2.5,-3\r\n4,5,0.006\r\n",
        b'"1",2.5,-3\n4,"5",0.006\n',
        b"1, 2.5 ,-3\n4,5,6e-3",
    ],
)
def test_csv_variants(body):
    assert np.array_equal(decode_request(body, "text/csv"), ROWS)


def test_csv_empty_field_is_nan():
    got = decode_request(b"1,,3\n,5,6\n", "text/csv; charset=utf-8")
    assert got.shape == (2, 3)
    assert math.isnan(got[0, 1]) and math.isnan(got[1, 0]) and got[1, 2] == 6.0
    quoted = decode_request(b'1,"",3\n', "text/csv")
    assert math.isnan(quoted[0, 1])


def test_missing_content_type_is_guessed():
    assert np.array_equal(decode_request(b"[[1, 2.5, -3]]", None), ROWS[:1])
    assert np.array_equal(decode_request(b"1,2.5,-3", None), ROWS[:1])


def test_csv_errors_name_row_and_column():
    assert fails(b"1,2,3,4,5\n1,2,3,4,5\n1,2,3,4\n", "text/csv") == (
        "CSV row 3 has 4 values, expected 5"
    )
    assert fails(b"1,2,3,4,5\n1,2,3,abc,5\n", "text/csv") == (
        "CSV row 2, column 4: 'abc' is not a number"
    )
    assert fails(b'1,2\n"3","x,y"\n', "text/csv") == "CSV row 2, column 2: 'x,y' is not a number"


def test_json_errors_name_the_fault():
    assert fails(b"[[1, 2], [3]]", "application/json") == "JSON row 2 has 1 values, expected 2"
    assert fails(b'[[1, 2], [3, "x"]]', "application/json") == (
        'JSON row 2, column 2: "x" is not a number'
    )
    assert fails(b'{"rows": [[1]]}', "application/json") == (
        "JSON object needs an 'instances', 'inputs' or 'features' key; got keys ['rows']"
    )
    assert fails(b"[[1, 2]", "application/json").startswith("the request body is not valid JSON")
    assert fails(b'"text"', "application/json") == "expected a JSON array or object, got a string"
    assert fails(b'[{"values": [1]}]', "application/json").startswith(
        'JSON row 1: expected an array or {"features": [...]}'
    )
    assert fails(b"[1, 2]\n[3]", "application/jsonlines") == (
        "JSON lines row 2 has 1 values, expected 2"
    )
    assert fails(b"[1, 2]\n\n[3, 4]", "application/jsonlines") == "JSON lines row 2 is empty"
    assert fails(b"[1, 2]\n[3, 4", "application/jsonlines").startswith(
        "JSON lines row 2 is not valid JSON"
    )


@pytest.mark.parametrize("media", ["text/csv", "application/json", "application/jsonlines"])
def test_empty_and_non_utf8_bodies_are_400(media):
    assert fails(b"", media).startswith("the request body is empty")
    assert fails(b"\n", media).startswith("the request body is empty")
    assert fails(b"1,2\xff", media) == (
        "the request body is not valid UTF-8 (byte 0xff at position 3)"
    )


def test_unsupported_content_type_is_415():
    assert fails(b"x", "image/png", status=415) == (
        "unsupported Content-Type 'image/png'; this model accepts "
        "text/csv, application/json, application/jsonlines"
    )


def test_unsupported_accept_is_406():
    with pytest.raises(InvocationError) as caught:
        encode_response(np.array([1.0]), "image/png", "text/csv")
    assert caught.value.status == 406
    assert caught.value.message == (
        "unsupported Accept 'image/png'; this model answers "
        "text/csv, application/json, application/jsonlines"
    )


def test_csv_output_format():
    single = encode_response(np.array([0.036397725343704224], dtype=np.float32), None, "text/csv")
    assert single == Prediction(b"0.036397725343704224", "text/csv; charset=utf-8")
    assert encode_response(np.array([0.1, 2.0, 1e-7]), "text/csv", "text/csv").body == (
        b"0.1\n2.0\n1e-07"
    )
    assert encode_response(np.array([1, 0, 1]), None, "text/csv").body == b"1\n0\n1"
    assert encode_response(np.array([[0.25, 0.75], [1.0, 0.0]]), None, "text/csv").body == (
        b"0.25,0.75\n1.0,0.0"
    )
    labels = np.array(["cat", "dog, hot"], dtype=object)
    assert encode_response(labels, "text/csv", "text/csv").body == b'cat\n"dog, hot"'
    assert encode_response(np.array(["a", "b"]), "text/csv", "text/csv").body == b"a\nb"
    assert encode_response(np.array([np.nan]), "text/csv", "text/csv").body == b"nan"


def test_json_and_jsonlines_output_format():
    answer = encode_response(np.array([0.5, 1.25]), None, "application/json")
    assert answer == Prediction(b'{"predictions":[0.5,1.25]}', "application/json")
    labels = encode_response(np.array([1, 0]), "application/json", "text/csv")
    assert json.loads(labels.body) == {"predictions": [1, 0]}
    rows = encode_response(np.array([[0.25, 0.75]]), "application/json", "text/csv")
    assert json.loads(rows.body) == {"predictions": [[0.25, 0.75]]}
    f32 = encode_response(np.array([0.036397725343704224], dtype=np.float32), "application/json")
    assert f32.body == b'{"predictions":[0.036397725343704224]}'
    nan = encode_response(np.array([np.nan, 1.0]), "application/json")
    assert json.loads(nan.body) == {"predictions": [None, 1.0]}
    lines = encode_response(np.array([[1, 2], [3, 4]]), "application/jsonlines")
    assert lines == Prediction(b"[1,2]\n[3,4]", "application/jsonlines")


@pytest.mark.parametrize(
    ("accept", "request_type", "content_type"),
    [
        (None, "text/csv", "text/csv; charset=utf-8"),
        ("*/*", "application/json", "application/json"),
        (None, "application/jsonlines", "application/jsonlines"),
        ("application/json; charset=utf-8", "text/csv", "application/json"),
        ("image/png, text/csv;q=0.5", "application/json", "text/csv; charset=utf-8"),
        ("text/csv;q=0.2, application/json", "text/csv", "application/json"),
        ("text/*", "application/json", "text/csv; charset=utf-8"),
        (None, "text/csv; charset=utf-8", "text/csv; charset=utf-8"),
    ],
)
def test_accept_negotiation(accept, request_type, content_type):
    assert encode_response(np.array([1.0]), accept, request_type).content_type == content_type
