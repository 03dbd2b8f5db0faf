"""DatasetFormat: how to read a dataset, from the CLI or from SageMaker's JSON shapes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from modelmon.errors import InputError

Kind = Literal["csv", "json", "parquet", "capture"]
Position = Literal["START", "END"]

KINDS: tuple[str, ...] = ("csv", "json", "parquet", "capture")
CLI_NAMES: dict[str, str] = {
    "csv": "csv",
    "json": "json",
    "jsonl": "json",
    "parquet": "parquet",
    "capture": "capture",
}
# Container dataset_format keys and API DatasetFormat keys, compared case-insensitively.
_SAGEMAKER_NAMES: dict[str, str] = {
    "csv": "csv",
    "json": "json",
    "parquet": "parquet",
    "sagemakercapturejson": "capture",
}


@dataclass(frozen=True)
class DatasetFormat:
    """How a dataset is read.

    ``header`` and ``delimiter`` apply to CSV files. For capture files,
    ``output_columns_position`` puts the model's output columns before (START)
    or after (END) the input columns, and ``features_attribute`` /
    ``inference_attribute`` (a JSONPath such as ``$.features`` or a plain key)
    select features and predictions from JSON payloads.
    """

    kind: Kind
    header: bool = False
    delimiter: str = ","
    output_columns_position: Position = "START"
    features_attribute: str | None = None
    inference_attribute: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(
                f"unknown dataset format {self.kind!r}; expected one of {', '.join(KINDS)}"
            )
        if len(self.delimiter) != 1 or self.delimiter in '"\r\n':
            raise InputError(
                f"the CSV delimiter must be one character other than a quote or newline, "
                f"got {self.delimiter!r}"
            )
        if self.output_columns_position not in ("START", "END"):
            raise InputError(
                "output_columns_position must be START or END, "
                f"got {self.output_columns_position!r}"
            )

    @classmethod
    def parse(cls, kind: str, header: bool | None = None) -> DatasetFormat:
        """The format named on the command line: csv, json, jsonl, parquet or capture.

        ``header`` None means the default: CSV files have a header line (as with
        the SageMaker SDK's ``DatasetFormat.csv(header=True)``).
        """
        name = CLI_NAMES.get(kind.strip().lower())
        if name is None:
            raise InputError(
                f"unknown dataset format {kind!r}; expected one of {', '.join(CLI_NAMES)}"
            )
        if header and name != "csv":
            raise InputError(f"a header applies only to csv files, not to {kind!r}")
        if header is None:
            header = name == "csv"
        return cls(kind=name, header=header)  # type: ignore[arg-type]

    @classmethod
    def from_sagemaker(
        cls,
        d: Mapping[str, Any] | str,
        *,
        features_attribute: str | None = None,
        inference_attribute: str | None = None,
    ) -> DatasetFormat:
        """The format of SageMaker's ``dataset_format`` (container) or ``DatasetFormat`` (API).

        Accepts ``{"csv": {"header": true, "output_columns_position": "START"}}``,
        ``{"json": {"lines": true}}``, ``{"parquet": {}}``,
        ``{"sagemakerCaptureJson": {...}}`` and ``{"Csv": {"Header": true}}``,
        ``{"Json": {"Line": true}}``, ``{"Parquet": {}}`` (also as a JSON string).
        """
        if isinstance(d, str):
            try:
                d = json.loads(d)
            except json.JSONDecodeError as err:
                raise InputError(f"dataset_format is not valid JSON: {err.msg}") from err
        allowed = "csv, json, parquet, sagemakerCaptureJson"
        if not isinstance(d, Mapping) or len(d) != 1:
            raise InputError(f"dataset_format must name exactly one of {allowed}, got {d!r}")
        ((key, options),) = d.items()
        kind = _SAGEMAKER_NAMES.get(str(key).lower())
        if kind is None:
            raise InputError(f"unknown dataset format {key!r}; expected one of {allowed}")
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise InputError(f"the options of dataset format {key!r} must be an object")
        opts = {str(k).lower().replace("_", ""): v for k, v in options.items()}
        position = str(opts.get("outputcolumnsposition") or "START").upper()
        return cls(
            kind=kind,  # type: ignore[arg-type]
            header=kind == "csv" and _flag(opts.get("header"), "header"),
            delimiter=str(opts.get("delimiter") or ","),
            output_columns_position=position,  # type: ignore[arg-type]
            features_attribute=features_attribute,
            inference_attribute=inference_attribute,
        )


def _flag(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InputError(f"dataset_format option {name!r} must be true or false, got {value!r}")
