"""Capture records (SPEC §4.1) byte for byte, and their object keys (§4.2)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from modelmon.formats.capture import (
    DEFAULT_CONTENT_TYPE,
    CaptureContentTypes,
    capture_key,
    capture_line,
    encode_part,
    inference_time_text,
)

DEFAULTS = CaptureContentTypes()
SPEC_LINE = (
    b'{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
    b'"data":"132,10,182.9,...,0,0,1","encoding":"CSV"},"endpointOutput":{"observedContentType":'
    b'"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.036397725343704224","encoding":"CSV"}},'
    b'"eventMetadata":{"eventId":"f04a8538-696c-4648-8064-8b680b2e3318",'
    b'"inferenceTime":"2022-04-18T00:21:48Z"},"eventVersion":"0"}\n'
)
WHEN = datetime(2022, 4, 18, 0, 21, 48, 871_234, tzinfo=UTC)


def line(inp=None, out=None, **metadata) -> bytes:
    return capture_line(
        input_part=inp, output_part=out, event_id="e1", inference_time=WHEN, **metadata
    )


def test_spec_example_reproduced_byte_for_byte():
    got = capture_line(
        input_part=encode_part(b"132,10,182.9,...,0,0,1", "text/csv", "INPUT", DEFAULTS),
        output_part=encode_part(
            b"0.036397725343704224", "text/csv; charset=utf-8", "OUTPUT", DEFAULTS
        ),
        event_id="f04a8538-696c-4648-8064-8b680b2e3318",
        inference_time=WHEN,
    )
    assert got == SPEC_LINE


def test_sdk_captured_data_reproduced_byte_for_byte(reference):
    """The SDK's captured-data.jsonl (JSON bodies kept as strings, newlines escaped)."""
    raw = (reference / "sdk_tests_data_monitor" / "captured-data.jsonl").read_bytes()
    lines = raw.splitlines(keepends=True)
    assert lines
    for original in lines:
        record = json.loads(original)
        parts = {
            side: encode_part(p["data"].encode(), p["observedContentType"], p["mode"], DEFAULTS)
            for side, p in record["captureData"].items()
        }
        meta = record["eventMetadata"]
        got = capture_line(
            input_part=parts.get("endpointInput"),
            output_part=parts.get("endpointOutput"),
            event_id=meta["eventId"],
            inference_time=datetime.strptime(meta["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ"),
        )
        assert got == original if original.endswith(b"\n") else got == original + b"\n"


def test_part_key_order_and_text_kept_as_is():
    body = b'{"instances": [1.0, 2.0, 5.0]}'
    part = encode_part(body, "application/json", "INPUT", DEFAULTS)
    assert list(part) == ["observedContentType", "mode", "data", "encoding"]
    assert part == {
        "observedContentType": "application/json",
        "mode": "INPUT",
        "data": '{"instances": [1.0, 2.0, 5.0]}',
        "encoding": "JSON",
    }
    assert b'"data":"{\\"instances\\": [1.0, 2.0, 5.0]}"' in line(part)
    csv = encode_part(b"1,2,3\n4,5,6\n", "text/csv", "INPUT", DEFAULTS)
    assert csv["data"] == "1,2,3\n4,5,6\n" and csv["encoding"] == "CSV"


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("text/csv", "CSV"),
        ("text/csv; charset=utf-8", "CSV"),
        (" Text/CSV ;charset=UTF-8", "CSV"),
        ("application/json", "JSON"),
        ("application/json; charset=utf-8", "JSON"),
        ("application/jsonlines", "BASE64"),
        ("text/csvx", "BASE64"),
        ("image/png", "BASE64"),
        ("application/x-npy", "BASE64"),
    ],
)
def test_encoding_by_media_type(content_type, encoding):
    body = b"1.5,2"
    part = encode_part(body, content_type, "OUTPUT", DEFAULTS)
    assert part["encoding"] == encoding
    assert part["observedContentType"] == content_type  # as observed, parameters and all
    if encoding == "BASE64":
        assert base64.b64decode(part["data"]) == body
    else:
        assert part["data"] == "1.5,2"


def test_not_utf8_falls_back_to_base64():
    body = b"caf\xe9,1"  # Latin-1
    part = encode_part(body, "text/csv", "INPUT", DEFAULTS)
    assert part["encoding"] == "BASE64"
    assert base64.b64decode(part["data"]) == body


def test_missing_content_type_is_octet_stream_base64():
    part = encode_part(b"1,2", None, "INPUT", DEFAULTS)
    assert part["observedContentType"] == DEFAULT_CONTENT_TYPE == "application/octet-stream"
    assert part["encoding"] == "BASE64"
    listed = CaptureContentTypes(csv=("application/octet-stream",))
    assert encode_part(b"1,2", None, "INPUT", listed)["encoding"] == "CSV"


def test_content_types_from_header():
    header = {"CsvContentTypes": ["text/csv", "Text/Plain"], "JsonContentTypes": []}
    types = CaptureContentTypes.from_header(header)
    assert types.csv == ("text/csv", "Text/Plain") and types.json == ()
    assert types.encoding_for("text/plain; charset=us-ascii") == "CSV"
    assert types.encoding_for("application/json") == "BASE64"
    assert types.to_header() == {
        "CsvContentTypes": ["text/csv", "Text/Plain"],
        "JsonContentTypes": [],
    }
    nothing = CaptureContentTypes.from_header(None)  # no header at all: all base64
    assert nothing == CaptureContentTypes(csv=(), json=())
    assert encode_part(b"1,2", "text/csv", "INPUT", nothing)["encoding"] == "BASE64"
    only_json = CaptureContentTypes.from_header({"JsonContentTypes": ["application/json"]})
    assert only_json.csv == () and only_json.encoding_for("application/json") == "JSON"
    assert CaptureContentTypes(csv=["text/csv"]) == DEFAULTS  # lists become tuples
    with pytest.raises(TypeError):
        CaptureContentTypes(csv="text/csv")


def test_bad_mode():
    with pytest.raises(ValueError, match="mode must be"):
        encode_part(b"", "text/csv", "input", DEFAULTS)  # type: ignore[arg-type]


def test_metadata_placement_and_optional_sides():
    inp = encode_part(b"1,2", "text/csv", "INPUT", DEFAULTS)
    out = encode_part(b"0.5", "text/csv", "OUTPUT", DEFAULTS)
    full = line(inp, out, inference_id="abc-1", custom_attributes="c=1; a/b")
    assert full.endswith(
        b'"eventMetadata":{"eventId":"e1","inferenceId":"abc-1",'
        b'"inferenceTime":"2022-04-18T00:21:48Z","customAttributes":"c=1; a/b"},'
        b'"eventVersion":"0"}\n'
    )
    record = json.loads(full)
    assert list(record) == ["captureData", "eventMetadata", "eventVersion"]
    assert list(record["captureData"]) == ["endpointInput", "endpointOutput"]

    output_only = json.loads(line(None, out))
    assert list(output_only["captureData"]) == ["endpointOutput"]
    assert list(output_only["eventMetadata"]) == ["eventId", "inferenceTime"]
    input_only = json.loads(line(inp, None, custom_attributes=""))
    assert list(input_only["captureData"]) == ["endpointInput"]
    assert input_only["eventMetadata"]["customAttributes"] == ""
    assert line(None, None).startswith(b'{"captureData":{},"eventMetadata"')


def test_escaping_matches_jackson():
    """Non-ASCII as UTF-8, '/' as is, control characters with upper-case hex."""
    text = 'a"b\\c/d é 😀 \u2028\x7f\t\n\r\x08\x0c\x00\x0b\x1f\\u001f'
    got = line(encode_part(text.encode(), "text/csv", "INPUT", DEFAULTS))
    expected_data = (
        'a\\"b\\\\c/d é 😀 \u2028\x7f\\t\\n\\r\\b\\f\\u0000\\u000B\\u001F\\\\u001f'
    ).encode()
    assert b'"data":"' + expected_data + b'","encoding":"CSV"' in got
    assert json.loads(got)["captureData"]["endpointInput"]["data"] == text
    assert got.count(b"\n") == 1 and got.endswith(b"\n")


def test_inference_time_in_utc_to_the_second():
    assert inference_time_text(WHEN) == "2022-04-18T00:21:48Z"
    east = timezone(timedelta(hours=2))
    assert inference_time_text(datetime(2022, 4, 18, 2, 21, 48, 999_999, tzinfo=east)) == (
        "2022-04-18T00:21:48Z"
    )
    assert inference_time_text(datetime(2022, 4, 18, 0, 21, 48)) == "2022-04-18T00:21:48Z"


KEY = re.compile(
    r"^s3://bucket/datacapture/my-endpoint/AllTraffic/(\d{4})/(\d{2})/(\d{2})/(\d{2})/"
    r"(\d{2})-(\d{2})-(\d{3})-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    r"\.jsonl$"
)


def test_capture_key_layout():
    key = capture_key("s3://bucket/datacapture/", "my-endpoint", "AllTraffic", WHEN)
    match = KEY.match(key)
    assert match, key
    assert match.groups() == ("2022", "04", "18", "00", "21", "48", "871")
    east = timezone(timedelta(hours=-5))
    other = capture_key(
        "s3://bucket/datacapture", "my-endpoint", "AllTraffic", WHEN.astimezone(east)
    )
    assert KEY.match(other).groups() == match.groups()  # always the UTC hour folder
    assert other != key  # a fresh uuid every time
