"""Record preprocessor and post-analytics scripts (SPEC §5.2–5.3), alone and inside a job."""

from __future__ import annotations

import json
import logging
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelmon.analysis.api import baseline
from modelmon.analysis.readers import DatasetFormat
from modelmon.monitoring.container import main
from modelmon.monitoring.scripts import (
    POSTPROCESS_HANDLER_INVALID,
    PREPROCESS_FORMAT_UNSUPPORTED,
    PREPROCESS_HANDLER_INVALID,
    PREPROCESS_RAISED,
    CapturedData,
    ScriptError,
    load_preprocessor,
    preprocess_dataset,
    run_postprocessor,
)

CAPTURE_FORMAT = (
    '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput","endpointOutput"]}}'
)
HOUR = datetime(2024, 1, 2, 3, tzinfo=UTC)

RECORD = {
    "captureData": {
        "endpointInput": {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": "132,25,113.2",
            "encoding": "CSV",
        },
        "endpointOutput": {
            "observedContentType": "text/csv; charset=utf-8",
            "mode": "OUTPUT",
            "data": "0.0107",
            "encoding": "CSV",
        },
        "batchTransformOutput": {"data": "1", "encoding": "CSV"},
    },
    "groundTruthData": {"data": "1", "encoding": "CSV"},
    "eventMetadata": {
        "eventId": "feca1ab1-8025-47e3-8f6a-99e3fdd7b8d9",
        "inferenceId": "inf-7",
        "inferenceTime": "2019-11-20T23:33:12Z",
        "customAttributes": "tenant=a",
    },
    "eventVersion": "0",
}


def script(tmp_path: Path, body: str, name: str = "script.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


# -- the inference_record classes ---------------------------------------------------------


def test_captured_data_has_sagemakers_attributes() -> None:
    record = CapturedData(RECORD)
    meta = record.event_metadata
    assert meta is not None
    assert (meta.event_id, meta.event_time, meta.custom_attribute, meta.inference_id) == (
        "feca1ab1-8025-47e3-8f6a-99e3fdd7b8d9",
        "2019-11-20T23:33:12Z",
        "tenant=a",
        "inf-7",
    )
    assert record.endpoint_input is not None and record.endpoint_output is not None
    assert record.endpoint_input.data == "132,25,113.2"
    assert record.endpoint_input.encoding == "CSV"
    assert record.endpoint_input.mode == "INPUT"
    assert record.endpoint_output.observedContentType == "text/csv; charset=utf-8"
    assert record.batch_transform_output is not None
    assert record.batch_transform_output.data == "1"
    assert record.ground_truth is not None and record.ground_truth.data == "1"
    assert record.event_version == "0"
    assert record.event_dict is RECORD
    assert str(record) == str(RECORD)
    bare = CapturedData({"captureData": {"endpointInput": RECORD["captureData"]["endpointInput"]}})
    assert bare.endpoint_output is None and bare.event_metadata is None


# -- loading and calling a preprocessor ---------------------------------------------------


def test_handler_with_and_without_logger(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plain = load_preprocessor(
        script(
            tmp_path,
            """
            def preprocess_handler(inference_record):
                return {"id": inference_record.event_metadata.event_id}
            """,
            "plain.py",
        )
    )
    assert not plain.wants_logger
    assert plain(CapturedData(RECORD)) == {"id": "feca1ab1-8025-47e3-8f6a-99e3fdd7b8d9"}

    logged = load_preprocessor(
        script(
            tmp_path,
            """
            def preprocess_handler(inference_record, logger):
                logger.info("saw %s", inference_record.event_metadata.inference_id)
                return {"x": 1}
            """,
            "logged.py",
        )
    )
    assert logged.wants_logger
    with caplog.at_level(logging.INFO, logger="modelmon.monitoring.preprocessor"):
        assert logged(CapturedData(RECORD)) == {"x": 1}
    assert "saw inf-7" in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        "def other(inference_record):\n    return {}\n",
        "preprocess_handler = 3\n",
        "def preprocess_handler():\n    return {}\n",
        "def preprocess_handler(record, extra):\n    return {}\n",
    ],
)
def test_handler_missing_or_malformed(tmp_path: Path, body: str) -> None:
    with pytest.raises(ScriptError) as err:
        load_preprocessor(script(tmp_path, body))
    assert str(err.value).startswith(PREPROCESS_HANDLER_INVALID)


def test_handler_raising_and_script_failing_to_import(tmp_path: Path) -> None:
    raising = load_preprocessor(
        script(
            tmp_path,
            """
            def preprocess_handler(inference_record):
                raise KeyError("feature0")
            """,
        )
    )
    with pytest.raises(ScriptError) as err:
        raising(CapturedData(RECORD), "capture.jsonl, line 3")
    assert str(err.value) == (f"{PREPROCESS_RAISED} (capture.jsonl, line 3: KeyError: 'feature0')")
    assert isinstance(err.value.__cause__, KeyError)
    with pytest.raises(ScriptError) as err:
        load_preprocessor(script(tmp_path, "def preprocess_handler(r)\n", "broken.py"))
    assert str(err.value).startswith(PREPROCESS_RAISED)
    assert "SyntaxError" in str(err.value)


def test_rows_stream_to_json_lines_in_key_order(tmp_path: Path) -> None:
    source = tmp_path / "data.jsonl"
    source.write_text('{"b": 1, "a": 2}\n\n{"b": 3, "a": 4}\n{"b": 5, "a": 6}\n')
    pre = load_preprocessor(
        script(
            tmp_path,
            """
            import numpy as np

            def preprocess_handler(inference_record):
                if inference_record["b"] == 3:
                    return []
                if inference_record["b"] == 5:
                    return [{"z": 1}, {"z": 2}]
                return {2: np.float64(0.5), "a": inference_record["a"], "nan": float("nan")}
            """,
        )
    )
    out = tmp_path / "rows.jsonl"
    counts = preprocess_dataset(pre, [str(source)], DatasetFormat("json"), str(out))
    assert (counts.records, counts.dropped, counts.rows) == (3, 1, 3)
    assert out.read_text().splitlines() == [
        '{"2":0.5,"a":2,"nan":null}',
        '{"z":1}',
        '{"z":2}',
    ]


def test_handler_returning_something_else(tmp_path: Path) -> None:
    source = tmp_path / "data.jsonl"
    source.write_text('{"b": 1}\n')
    pre = load_preprocessor(script(tmp_path, "def preprocess_handler(r):\n    pass\n"))
    with pytest.raises(ScriptError) as err:
        preprocess_dataset(pre, [str(source)], DatasetFormat("json"), str(tmp_path / "o"))
    assert str(err.value) == (
        f"preprocess_handler returned NoneType for the record at {source}, line 1; "
        "expected a flat dict of column values, or [] to drop the record"
    )


def test_parquet_is_not_supported(tmp_path: Path) -> None:
    pre = load_preprocessor(script(tmp_path, "def preprocess_handler(r):\n    return r\n"))
    with pytest.raises(ScriptError) as err:
        preprocess_dataset(pre, [], DatasetFormat("parquet"), str(tmp_path / "o"))
    assert str(err.value) == PREPROCESS_FORMAT_UNSUPPORTED.format("parquet")
    assert str(err.value) == "Preprocessor script not supported for format parquet"


# -- post-analytics ----------------------------------------------------------------------------


def test_postprocessor_runs_and_missing_handler(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    run_postprocessor(
        script(
            tmp_path,
            f"""
            from pathlib import Path

            def postprocess_handler():
                Path({str(marker)!r}).write_text("done")
            """,
        )
    )
    assert marker.read_text() == "done"
    for body in ("x = 1\n", "def postprocess_handler(a):\n    pass\n"):
        with pytest.raises(ScriptError) as err:
            run_postprocessor(script(tmp_path, body, "bad.py"))
        assert str(err.value).startswith(POSTPROCESS_HANDLER_INVALID)


# -- inside a job -----------------------------------------------------------------------------


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "label": rng.integers(0, 2, n),
            "x": rng.normal(0.0, 1.0, n).round(4),
            "cat": rng.choice(["a", "b"], n),
        }
    )


def write_capture(root: Path, data: pd.DataFrame, *, shadow_every: int = 0) -> Path:
    folder = root / "ep" / "AllTraffic" / HOUR.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"00-00-000-{uuid.uuid4()}.jsonl"
    with path.open("w") as out:
        for i, row in enumerate(data.itertuples(index=False)):
            meta: dict[str, Any] = {
                "eventId": f"event-{i}",
                "inferenceTime": (HOUR + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            if shadow_every and i % shadow_every == 0:
                meta["invocationSource"] = "ShadowExperiment"
            record = {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": f"{row.x:.4f},{row.cat}",
                        "encoding": "CSV",
                    },
                    "endpointOutput": {
                        "observedContentType": "text/csv",
                        "mode": "OUTPUT",
                        "data": str(row.label),
                        "encoding": "CSV",
                    },
                },
                "eventMetadata": meta,
                "eventVersion": "0",
            }
            out.write(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("baseline")
    frame(1000, seed=1).to_csv(folder / "train.csv", index=False)
    baseline(str(folder / "train.csv"), str(folder), format="csv", header=True, workers=1)
    return folder


def job(tmp_path: Path, source: Path, base: Path, **extra: str) -> dict[str, str]:
    return {
        "dataset_format": CAPTURE_FORMAT,
        "dataset_source": str(source),
        "output_path": str(tmp_path / "output"),
        "baseline_constraints": str(base / "constraints.json"),
        "baseline_statistics": str(base / "statistics.json"),
        "MODELMON_ANALYZER_WORKERS": "1",
        **extra,
    }


def outputs(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "output"
    statistics = out / "statistics.json"
    return (out / "message").read_text(), (
        json.loads(statistics.read_text()) if statistics.exists() else {}
    )


# A preprocessor that keeps every other record it sees, refuses shadow traffic and
# names columns as the baseline does (so the run checks them against it).
EVERY_OTHER = """
seen = 0

def preprocess_handler(inference_record, logger):
    global seen
    meta = inference_record.event_metadata
    assert meta.event_id.startswith("event-")
    assert "invocationSource" not in inference_record.event_dict["eventMetadata"]
    seen += 1
    if seen % 2 == 0:
        return []
    x, cat = inference_record.endpoint_input.data.split(",")
    return {"label": int(inference_record.endpoint_output.data), "x": float(x), "cat": cat}
"""


def test_preprocessor_dropping_every_other_record_halves_item_count(
    tmp_path: Path, base: Path
) -> None:
    capture = tmp_path / "capture"
    data = frame(301, seed=2)
    write_capture(capture, data, shadow_every=10)  # records 0, 10, ..., 300: 31 shadow
    env = job(tmp_path, capture, base, record_preprocessor_script=script(tmp_path, EVERY_OTHER))
    assert main(env) == 0
    line, statistics = outputs(tmp_path)
    assert line == "Completed: Job completed successfully with no violations."
    kept = data[[i % 10 != 0 for i in range(len(data))]].iloc[::2]
    assert statistics["dataset"]["item_count"] == (301 - 31 + 1) // 2 == len(kept)
    assert [f["name"] for f in statistics["features"]] == ["label", "x", "cat"]
    x = statistics["features"][1]["numerical_statistics"]
    assert x["sum"] == pytest.approx(kept.x.sum(), rel=1e-12)
    assert (x["min"], x["max"]) == (kept.x.min(), kept.x.max())


def test_preprocessor_sees_csv_lines_and_json_objects(tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    (source / "a.csv").write_text("h1,h2\n1,x\n2,y\n\n3,z\n")
    pre = script(
        tmp_path,
        """
        def preprocess_handler(inference_record):
            assert isinstance(inference_record, str) and "\\n" not in inference_record
            n, word = inference_record.split(",")
            return {"n": n, "word": word}
        """,
    )
    env = {
        "dataset_format": '{"csv": {"header": true}}',
        "dataset_source": str(source),
        "output_path": str(tmp_path / "output"),
        "record_preprocessor_script": pre,
        "MODELMON_ANALYZER_WORKERS": "1",
    }
    assert main(env) == 0
    _, statistics = outputs(tmp_path)
    assert statistics["dataset"]["item_count"] == 3
    n = statistics["features"][0]
    assert (n["name"], n["inferred_type"]) == ("n", "Integral")
    assert n["numerical_statistics"]["sum"] == 6.0

    (source / "a.csv").unlink()
    (source / "b.jsonl").write_text('{"v": 1.5}\n{"v": 2.5}\n')
    env["dataset_format"] = '{"json": {"lines": true}}'
    env["record_preprocessor_script"] = script(
        tmp_path,
        """
        def preprocess_handler(inference_record):
            assert isinstance(inference_record, dict)
            return {"twice": inference_record["v"] * 2}
        """,
        "json_pre.py",
    )
    assert main(env) == 0
    _, statistics = outputs(tmp_path)
    assert statistics["features"][0]["numerical_statistics"]["sum"] == 8.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("def handler(r):\n    return {}\n", f"Failed: {PREPROCESS_HANDLER_INVALID} ("),
        (
            "def preprocess_handler(r):\n    raise ValueError('bad record')\n",
            f"Failed: {PREPROCESS_RAISED} (",
        ),
        ("def preprocess_handler(r):\n    return []\n", "Failed: No data to analyze"),
    ],
)
def test_preprocessor_failures_fail_the_job(
    tmp_path: Path, base: Path, body: str, expected: str
) -> None:
    capture = tmp_path / "capture"
    path = write_capture(capture, frame(5, seed=3))
    env = job(tmp_path, capture, base, record_preprocessor_script=script(tmp_path, body))
    assert main(env) == 1
    line, _ = outputs(tmp_path)
    assert line.startswith(expected)
    if "raise" in body:
        assert line.endswith(f"({path}, line 1: ValueError: bad record)")
    if "return []" in body:
        assert line.endswith("(the record preprocessor dropped every record)")


def test_preprocessor_on_parquet_fails_the_job(tmp_path: Path) -> None:
    env = {
        "dataset_format": '{"parquet": {}}',
        "dataset_source": str(tmp_path),
        "output_path": str(tmp_path / "output"),
        "record_preprocessor_script": script(
            tmp_path, "def preprocess_handler(r):\n    return r\n"
        ),
    }
    assert main(env) == 1
    assert outputs(tmp_path)[0] == "Failed: Preprocessor script not supported for format parquet"


POST = """
import os
from pathlib import Path

def postprocess_handler():
    out = Path(os.environ["output_path"])
    violations = (out / "constraint_violations.json").read_text()
    Path(os.environ["MARKER"]).write_text("after analysis: " + str(len(violations) > 0))
"""


def test_post_analytics_runs_after_the_analysis(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    write_capture(capture, frame(50, seed=4))
    marker = tmp_path / "marker"
    env = job(
        tmp_path,
        capture,
        base,
        post_analytics_processor_script=script(tmp_path, POST),
        MARKER=str(marker),
    )
    assert main(env) == 0
    assert marker.read_text() == "after analysis: True"
    assert "MARKER" not in __import__("os").environ  # exported for the run only

    env["post_analytics_processor_script"] = script(tmp_path, "def handler():\n    pass\n", "p.py")
    assert main(env) == 1
    assert outputs(tmp_path)[0].startswith(f"Failed: {POSTPROCESS_HANDLER_INVALID} (")

    env["post_analytics_processor_script"] = script(
        tmp_path, "def postprocess_handler():\n    raise RuntimeError('upload refused')\n", "q.py"
    )
    assert main(env) == 1
    assert outputs(tmp_path)[0].endswith("RuntimeError: upload refused)")
