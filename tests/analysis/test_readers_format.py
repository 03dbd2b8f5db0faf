"""DatasetFormat from the CLI and from SageMaker's dataset_format shapes."""

from __future__ import annotations

import pytest

from modelmon.analysis.readers import DatasetFormat
from modelmon.errors import InputError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"csv": {"header": True, "output_columns_position": "START"}},
            DatasetFormat("csv", header=True),
        ),
        ({"csv": {"header": False}}, DatasetFormat("csv")),
        ({"csv": {"header": "true"}}, DatasetFormat("csv", header=True)),
        (
            {"csv": {"output_columns_position": "end"}},
            DatasetFormat("csv", output_columns_position="END"),
        ),
        ({"json": {"lines": True}}, DatasetFormat("json")),
        ({"json": {"line": True}}, DatasetFormat("json")),
        ({"parquet": {}}, DatasetFormat("parquet")),
        ({"sagemakerCaptureJson": {}}, DatasetFormat("capture")),
        (
            {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}},
            DatasetFormat("capture"),
        ),
        ({"Csv": {"Header": True}}, DatasetFormat("csv", header=True)),
        ({"Json": {"Line": True}}, DatasetFormat("json")),
        ({"Parquet": {}}, DatasetFormat("parquet")),
        ('{"csv": {"header": true, "compression": "gzip"}}', DatasetFormat("csv", header=True)),
    ],
)
def test_from_sagemaker(given, expected):
    assert DatasetFormat.from_sagemaker(given) == expected


def test_from_sagemaker_keeps_attributes():
    fmt = DatasetFormat.from_sagemaker(
        {"sagemakerCaptureJson": {}}, features_attribute="$.features", inference_attribute="0"
    )
    assert (fmt.features_attribute, fmt.inference_attribute) == ("$.features", "0")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"avro": {}}, "unknown dataset format 'avro'; expected one of csv, json, parquet"),
        ({}, "exactly one of"),
        ({"csv": {}, "json": {}}, "exactly one of"),
        ({"csv": {"header": "maybe"}}, "'header' must be true or false"),
        ({"csv": {"output_columns_position": "MIDDLE"}}, "START or END"),
        ("{not json", "not valid JSON"),
    ],
)
def test_from_sagemaker_errors(given, message):
    with pytest.raises(InputError, match=message):
        DatasetFormat.from_sagemaker(given)


@pytest.mark.parametrize(
    ("kind", "header", "expected"),
    [
        ("csv", True, DatasetFormat("csv", header=True)),
        ("CSV", None, DatasetFormat("csv", header=True)),
        ("csv", False, DatasetFormat("csv")),
        ("json", None, DatasetFormat("json")),
        ("jsonl", False, DatasetFormat("json")),
        ("parquet", None, DatasetFormat("parquet")),
        ("capture", None, DatasetFormat("capture")),
    ],
)
def test_parse(kind, header, expected):
    assert DatasetFormat.parse(kind, header) == expected


def test_parse_errors():
    with pytest.raises(InputError, match="unknown dataset format 'xls'; expected one of csv, json"):
        DatasetFormat.parse("xls")
    with pytest.raises(InputError, match="header applies only to csv"):
        DatasetFormat.parse("parquet", True)


def test_validation():
    with pytest.raises(InputError, match="delimiter"):
        DatasetFormat("csv", delimiter=";;")
    with pytest.raises(InputError, match="unknown dataset format"):
        DatasetFormat("xml")  # type: ignore[arg-type]
    assert DatasetFormat("csv", delimiter="\t").delimiter == "\t"
