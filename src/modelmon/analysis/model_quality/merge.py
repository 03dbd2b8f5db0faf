"""The ground-truth merge: captured inferences joined with their labels (SPEC §3.4).

An inference's id is its capture's ``eventMetadata.inferenceId`` when present,
else its ``eventId`` (batch transform: ``SageMakerInferenceId``); a label's is
its ``eventMetadata.eventId``. Nothing is dropped silently; the
:class:`MergeSummary` counts:

* ``inferences``: inference records in the window; ``labels``: label records read;
* ``matched``: inferences with a label; ``unmatched_inferences``: those without;
* ``unmatched_labels``: distinct label ids no inference in the window has;
* ``duplicate_labels``: label records superseded by a later one for the same id
  (the latest collected wins: later hour folder, then later file name, then later line).

:func:`write_merged` writes the matched records for audit as ``sagemakerMergeJson``
JSON Lines: the captured record with ``groundTruthData`` added.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelmon.analysis.model_quality.sources import Inferences, Labels, read_raw_lines
from modelmon.storage.files import atomic_write_bytes

MERGE_DIR = "merge"


@dataclass(frozen=True)
class MergeSummary:
    """The counts of one merge (see the module docstring)."""

    inferences: int
    labels: int
    matched: int
    unmatched_inferences: int
    unmatched_labels: int
    duplicate_labels: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def text(self) -> str:
        return (
            f"{self.inferences} inference(s), {self.labels} label record(s): "
            f"{self.matched} matched, {self.unmatched_inferences} inference(s) without a label, "
            f"{self.unmatched_labels} label id(s) without an inference in the window, "
            f"{self.duplicate_labels} duplicate label record(s) superseded"
        )


@dataclass
class Merged:
    """Matched rows: ``inference_rows[i]`` of the inferences has label row ``label_rows[i]``."""

    inference_rows: np.ndarray
    label_rows: np.ndarray
    summary: MergeSummary


def merge(inferences: Inferences, labels: Labels) -> Merged:
    """Join inferences with labels by id (a hash join in Arrow), in inference order."""
    assert inferences.ids is not None
    found = pc.index_in(inferences.ids, value_set=labels.ids)
    matched_mask = ~np.asarray(found.is_null())
    inference_rows = np.nonzero(matched_mask)[0]
    label_rows = pc.fill_null(found, 0).to_numpy(zero_copy_only=False)[inference_rows]
    used = np.zeros(len(labels.ids), dtype=bool)
    used[label_rows] = True
    summary = MergeSummary(
        inferences=len(inferences.ids),
        labels=labels.records,
        matched=len(inference_rows),
        unmatched_inferences=len(inferences.ids) - len(inference_rows),
        unmatched_labels=int(len(used) - used.sum()),
        duplicate_labels=labels.duplicates,
    )
    return Merged(inference_rows.astype(np.int64), label_rows.astype(np.int64), summary)


_PLAIN = re.compile(r'[^"\\\x00-\x1f\x7f-\U0010ffff]*')


def _truth_json(data: str, encoding: str) -> bytes:
    """``{"data":...,"encoding":...}`` (plain text spliced in; anything else through json)."""
    if _PLAIN.fullmatch(data) and _PLAIN.fullmatch(encoding):
        return f'{{"data":"{data}","encoding":"{encoding}"}}'.encode()
    return json.dumps(
        {"data": data, "encoding": encoding}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def _relative_dir(uri: str, root: str) -> str:
    root = root.rstrip("/")
    parent = os.path.dirname(uri)
    if parent == root:
        return ""
    if parent.startswith(root + "/"):
        return parent[len(root) + 1 :]
    return ""


def write_merged(
    inferences: Inferences,
    labels: Labels,
    merged: Merged,
    directory: str,
    source_root: str,
) -> list[str]:
    """Write the matched records under ``directory``: one ``merged.jsonl`` per folder of
    input files (``{endpoint}/{variant}/yyyy/mm/dd/hh/`` kept), each written atomically,
    records in file and line order; returns the files written."""
    if not len(merged.inference_rows):
        return []
    where = inferences.where
    files = where.file[merged.inference_rows]
    lines = where.line[merged.inference_rows]
    truths: dict[tuple[str, str], bytes] = {}
    order = np.lexsort((lines, files))
    written: list[str] = []
    folder, records = None, []

    def flush() -> None:
        if folder is not None and records:
            target = "/".join(p for p in (directory.rstrip("/"), folder, "merged.jsonl") if p)
            atomic_write_bytes(target, b"".join(records))
            written.append(target)

    boundaries = np.nonzero(np.diff(files[order]))[0] + 1
    for group in np.split(order, boundaries):  # files in path order: folders are contiguous
        uri = where.files[int(files[group[0]])]
        here = _relative_dir(uri, source_root)
        if here != folder:
            flush()
            folder, records = here, []
        kind = inferences.raw_kind
        raw_lines = read_raw_lines(uri) if kind != "parquet" else []
        ids = (
            inferences.ids.take(pa.array(merged.inference_rows[group])).to_pylist()
            if kind == "parquet" and inferences.ids is not None
            else []
        )
        rows = pa.array(merged.label_rows[group])
        data = labels.data.take(rows).to_pylist()
        encodings = labels.encoding.take(rows).to_pylist()
        for j, i in enumerate(group.tolist()):
            key = (data[j], encodings[j])
            truth = truths.get(key)
            if truth is None:
                truth = _truth_json(*key)
                if len(truths) < 10_000:
                    truths[key] = truth
            if kind == "parquet":
                meta = json.dumps({"inferenceId": ids[j]}, ensure_ascii=False).encode()
                records.append(
                    b'{"eventMetadata":'
                    + meta
                    + b',"eventVersion":"0","groundTruthData":'
                    + truth
                    + b"}\n"
                )
                continue
            line = raw_lines[int(lines[i]) - 1 + inferences.header_lines]
            records.append(_merged_line(line, truth, kind))
    flush()
    return written


_BATCH_TYPES = {"json": ("application/jsonlines", b"JSON"), "csv": ("text/csv", b"CSV")}


def _merged_line(raw: bytes, truth: bytes, kind: str) -> bytes:
    """A captured record with ``groundTruthData`` added; a batch transform output line
    becomes the ``batchTransformOutput`` of a record."""
    text = raw.strip()
    if kind == "capture" and text.endswith(b"}"):
        return text[:-1] + b',"groundTruthData":' + truth + b"}\n"
    content_type, encoding = _BATCH_TYPES["json" if kind == "json" else "csv"]
    return (
        b'{"captureData":{"batchTransformOutput":{"observedContentType":"'
        + content_type.encode()
        + b'","mode":"OUTPUT","data":'
        + json.dumps(text.decode("utf-8")).encode("utf-8")
        + b',"encoding":"'
        + encoding
        + b'"}},"eventVersion":"0","groundTruthData":'
        + truth
        + b"}\n"
    )
