import json

import pytest

from modelmon.formats.jsonfmt import dumps, java_double


@pytest.mark.parametrize(
    ("value", "java"),
    [
        # values checked against java.lang.Double.toString
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (2048.0, "2048.0"),
        (2.31, "2.31"),
        (0.8330066026148891, "0.8330066026148891"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1.5e-10, "1.5E-10"),
        (9999999.0, "9999999.0"),
        (10000000.0, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (-123.25, "-123.25"),
        (1e22, "1.0E22"),
        (60.379999999999995, "60.379999999999995"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_java_double(value: float, java: str) -> None:
    assert java_double(value) == java


def test_layout_matches_jackson_default_pretty_printer() -> None:
    doc = {
        "version": 0.0,
        "dataset": {"item_count": 3},
        "features": [{"name": "a", "data": [[1.0, 2.5], []]}, {"name": 'b\n"q"', "e": {}}],
        "flag": True,
        "nothing": None,
    }
    expected = (
        "{\n"
        '  "version" : 0.0,\n'
        '  "dataset" : {\n'
        '    "item_count" : 3\n'
        "  },\n"
        '  "features" : [ {\n'
        '    "name" : "a",\n'
        '    "data" : [ [ 1.0, 2.5 ], [ ] ]\n'
        "  }, {\n"
        '    "name" : "b\\n\\"q\\"",\n'
        '    "e" : { }\n'
        "  } ],\n"
        '  "flag" : true,\n'
        '  "nothing" : null\n'
        "}"
    )
    assert dumps(doc) == expected
    assert json.loads(dumps(doc)) == doc


def test_non_finite_doubles_are_quoted_like_jackson() -> None:
    assert dumps({"std": float("nan")}) == '{\n  "std" : "NaN"\n}'


def test_unicode_is_written_as_is_and_control_chars_escaped() -> None:
    assert dumps(["héllo ✓", "\x01"]) == '[ "héllo ✓", "\\u0001" ]'


@pytest.mark.reference
@pytest.mark.parametrize(
    "path",
    [
        "sdk_pipeline_quality_check_step/data_quality/statistics.json",
        "sdk_pipeline_quality_check_step/data_quality/good_cases/constraints.json",
        "sdk_pipeline_quality_check_step/model_quality/statistics.json",
    ],
)
def test_real_container_files_reproduce_byte_for_byte(reference, path: str) -> None:
    text = (reference / path).read_text()
    assert dumps(json.loads(text)) == text
