"""Model-quality metrics per problem type (SPEC §3.1), with SageMaker's standard deviations.

Inputs are arrays already parsed (:mod:`~modelmon.analysis.model_quality.labels`):
binary labels and predictions as 0/1 integers with optional probabilities of
class 1, multiclass labels as strings, regression values as floats.

Choices where SPEC is [I] or [U]:

* Classification metrics are scikit-learn's, computed on the distinct
  (label, prediction) pairs weighted by their counts: the same numbers as on
  every record, at the cost of a few pairs. ``zero_division`` is 0. F-scores
  are Spark's formula (1 + β²)·p·r / (β²·p + r) over scikit-learn's precision p
  and recall r (per class, then weighted by support for multiclass): it gives
  the DG example's f0_5 0.3846153846153846 where ``fbeta_score`` rounds to
  0.38461538461538464.
* Binary: ``false_positive_rate`` = FP / (FP + TN) and ``true_negative_rate`` =
  1 − FPR, ``false_negative_rate`` = 1 − TPR (these reproduce the DG example's
  0.33333333333333337). The best constant classifier always predicts class 1.
  ``auc`` is scikit-learn's ``roc_auc_score`` on the probabilities (on the
  predicted classes when there are none); ``NaN`` when one class is absent.
* Curves follow Spark's ``BinaryClassificationMetrics`` (the engine of
  SageMaker's analyzer): one point per distinct score, highest first, ROC framed
  by (0, 0) and (1, 1), the PR curve starting at recall 0 with the first
  point's precision; above :data:`CURVE_BINS` distinct scores they are
  down-sampled as Spark's ``numBins`` does (consecutive scores grouped, the
  last of each group kept).
* Multiclass: weighted averages over the classes present; the best constant
  classifier predicts the most frequent label (ties: the first in class order).
* Regression reproduces Spark's ``RegressionMetrics`` arithmetic (sequential
  sums, the online variance of the observations that skips zeros), which is
  how SageMaker's numbers come out bit for bit; they equal scikit-learn's
  ``mean_absolute_error`` / ``mean_squared_error`` / ``r2_score`` up to the
  last digits. The observation is the ground truth.
* ``standard_deviation``: with at least :data:`MIN_SAMPLES_FOR_STD` records,
  the sample standard deviation (ddof=1) of the metric over
  :data:`RESAMPLES` subsets of ``floor(0.8 n)`` records drawn without replacement
  (``numpy.random.default_rng(SEED).permutation(n)[:k]`` each, kept in record
  order); else ``"NaN"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)

from modelmon.formats.model_quality import (
    BINARY,
    MULTICLASS,
    REGRESSION,
    MetricValue,
    ModelQualityStatistics,
    problem_type,
)

SEED = 0
RESAMPLES = 5
RESAMPLE_FRACTION = 0.8
MIN_SAMPLES_FOR_STD = 200
CURVE_BINS = 1000
BETAS = (("f0_5", 0.5), ("f1", 1.0), ("f2", 2.0))
BCC = "_best_constant_classifier"

Scalars = dict[str, float]


# -- resampling -------------------------------------------------------------------------


def resample_indices(n: int) -> list[np.ndarray]:
    """The record indices of the :data:`RESAMPLES` subsets (empty when n is too small)."""
    if n < MIN_SAMPLES_FOR_STD:
        return []
    rng = np.random.default_rng(SEED)
    size = int(n * RESAMPLE_FRACTION)
    return [np.sort(rng.permutation(n)[:size]) for _ in range(RESAMPLES)]


def _with_deviation(
    compute: Callable[[np.ndarray | None], Scalars], n: int
) -> dict[str, MetricValue]:
    """Every scalar of ``compute(None)`` (all records) with its resampled deviation."""
    full = compute(None)
    samples = [compute(indices) for indices in resample_indices(n)]
    out = {}
    for name, value in full.items():
        std = None
        if samples:
            values = np.array([s[name] for s in samples], dtype=np.float64)
            std = float(np.std(values, ddof=1)) if np.all(np.isfinite(values)) else math.nan
        out[name] = MetricValue(float(value), std)
    return out


# -- binary classification --------------------------------------------------------------


def _pairs(codes: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, predictions, counts) of the distinct pairs of ``codes = label * width + pred``."""
    counts = np.bincount(codes, minlength=width * width)
    present = np.nonzero(counts)[0]
    return present // width, present % width, counts[present]


def _binary_scalars(y: np.ndarray, p: np.ndarray, scores: np.ndarray) -> Scalars:
    labels, preds, weights = _pairs(y.astype(np.int64) * 2 + p, 2)
    tn, fp, fn, tp = (
        confusion_matrix(labels, preds, labels=[0, 1], sample_weight=weights).ravel().tolist()
    )
    common = {"sample_weight": weights, "zero_division": 0.0}
    out: Scalars = {
        "recall": recall_score(labels, preds, labels=[0, 1], **common),
        "precision": precision_score(labels, preds, labels=[0, 1], **common),
        "accuracy": accuracy_score(labels, preds, sample_weight=weights),
    }
    # the best constant classifier: class 1 for every record
    positives = np.bincount(y, minlength=2)
    bcc_labels = np.array([0, 1])[positives > 0]
    bcc_weights = positives[positives > 0]
    bcc_preds = np.ones_like(bcc_labels)
    bcc = {"sample_weight": bcc_weights, "zero_division": 0.0}
    out["recall" + BCC] = recall_score(bcc_labels, bcc_preds, labels=[0, 1], **bcc)
    out["precision" + BCC] = precision_score(bcc_labels, bcc_preds, labels=[0, 1], **bcc)
    out["accuracy" + BCC] = accuracy_score(bcc_labels, bcc_preds, sample_weight=bcc_weights)
    fpr = fp / (fp + tn) if fp + tn else 0.0
    out["true_positive_rate"] = out["recall"]
    out["true_negative_rate"] = 1.0 - fpr
    out["false_positive_rate"] = fpr
    out["false_negative_rate"] = 1.0 - out["recall"] if tp + fn else 0.0
    out["auc"] = _auc(y, scores)
    for name, beta in BETAS:
        out[name] = f_beta(out["precision"], out["recall"], beta)
    for name, beta in BETAS:
        out[name + BCC] = f_beta(out["precision" + BCC], out["recall" + BCC], beta)
    return {k: float(v) for k, v in out.items()}


def f_beta(precision: Any, recall: Any, beta: float) -> Any:
    """Spark's F-measure of precision and recall (0 where both are 0); arrays or floats."""
    b2 = beta * beta
    p, r = np.asarray(precision, dtype=np.float64), np.asarray(recall, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(p + r == 0, 0.0, (1 + b2) * (p * r) / (b2 * p + r))
    return float(f) if f.ndim == 0 else f


def _auc(y: np.ndarray, scores: np.ndarray) -> float:
    if y.min() == y.max():
        return math.nan
    return float(roc_auc_score(y, scores))


def binary_curves(
    y: np.ndarray, scores: np.ndarray, bins: int = CURVE_BINS
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(ROC curve, precision-recall curve) as SageMaker writes them (see the module docstring)."""
    order = np.argsort(-scores, kind="mergesort")
    ranked = scores[order]
    last = np.r_[np.nonzero(np.diff(ranked))[0], len(ranked) - 1]  # last index per score
    tps = np.cumsum(y[order], dtype=np.int64)[last]
    fps = last + 1 - tps
    grouping = len(last) // bins if bins > 0 else 0
    if grouping >= 2:
        keep = np.unique(np.r_[np.arange(grouping - 1, len(last), grouping), len(last) - 1])
        tps, fps = tps[keep], fps[keep]
    positives, negatives = float(tps[-1]), float(fps[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = tps / positives
        fpr = fps / negatives
        precision = tps / (tps + fps)
    roc = {
        "false_positive_rates": [0.0, *fpr.tolist(), 1.0],
        "true_positive_rates": [0.0, *tpr.tolist(), 1.0],
    }
    pr = {
        "precisions": [float(precision[0]), *precision.tolist()],
        "recalls": [0.0, *tpr.tolist()],
    }
    return roc, pr


BINARY_ORDER = (
    "confusion_matrix",
    "recall",
    "precision",
    "accuracy",
    "recall" + BCC,
    "precision" + BCC,
    "accuracy" + BCC,
    "true_positive_rate",
    "true_negative_rate",
    "false_positive_rate",
    "false_negative_rate",
    "receiver_operating_characteristic_curve",
    "precision_recall_curve",
    "auc",
    "f0_5",
    "f1",
    "f2",
    "f0_5" + BCC,
    "f1" + BCC,
    "f2" + BCC,
)


def binary_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None = None
) -> dict[str, Any]:
    """The binary-classification metrics of 0/1 labels and predictions (and class-1 scores)."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    s = p.astype(np.float64) if scores is None else np.asarray(scores, dtype=np.float64)
    counts = np.bincount(y * 2 + p, minlength=4).tolist()
    matrix = {"0": {"0": counts[0], "1": counts[1]}, "1": {"0": counts[2], "1": counts[3]}}

    def compute(indices: np.ndarray | None) -> Scalars:
        if indices is None:
            return _binary_scalars(y, p, s)
        return _binary_scalars(y[indices], p[indices], s[indices])

    scalars = _with_deviation(compute, len(y))
    roc, pr = binary_curves(y, s)
    found: dict[str, Any] = {
        **scalars,
        "confusion_matrix": matrix,
        "receiver_operating_characteristic_curve": roc,
        "precision_recall_curve": pr,
    }
    return {name: found[name] for name in BINARY_ORDER}


# -- multiclass classification ----------------------------------------------------------


def _class_key(name: str) -> tuple[int, float, str]:
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def encode_classes(
    y_true: Sequence[str] | np.ndarray | pa.Array, y_pred: Sequence[str] | np.ndarray | pa.Array
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(classes in natural order, label codes, prediction codes) of two arrays of class names."""
    both = pa.chunked_array(
        [pa.array(y_true, pa.string()), pa.array(y_pred, pa.string())]
    ).combine_chunks()
    encoded = pc.dictionary_encode(both)
    names = encoded.dictionary.to_pylist()
    order = sorted(range(len(names)), key=lambda i: _class_key(names[i]))
    remap = np.empty(len(names), dtype=np.int64)
    remap[order] = np.arange(len(names))
    codes = remap[encoded.indices.to_numpy(zero_copy_only=False)]
    n = len(y_true)
    return [names[i] for i in order], codes[:n], codes[n:]


def _multiclass_scalars(y: np.ndarray, p: np.ndarray, k: int) -> Scalars:
    labels, preds, weights = _pairs(y * k + p, k)
    out: Scalars = {"accuracy": accuracy_score(labels, preds, sample_weight=weights)}
    for suffix, (lab, pred, weight) in (
        ("", (labels, preds, weights)),
        (BCC, _constant_pairs(y, k)),
    ):
        if suffix:
            out["accuracy" + BCC] = accuracy_score(lab, pred, sample_weight=weight)
        classes = np.union1d(lab, pred)
        precision, recall, _, _ = precision_recall_fscore_support(
            lab, pred, labels=classes, average=None, sample_weight=weight, zero_division=0.0
        )
        support = np.bincount(np.searchsorted(classes, lab), weights=weight, minlength=len(classes))
        out["weighted_recall" + suffix] = np.average(recall, weights=support)
        out["weighted_precision" + suffix] = np.average(precision, weights=support)
        for beta_name, beta in BETAS:
            f = f_beta(precision, recall, beta)
            out[f"weighted_{beta_name}" + suffix] = np.average(f, weights=support)
    return {k_: float(v) for k_, v in out.items()}


def _constant_pairs(y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = np.bincount(y, minlength=k)
    majority = int(np.argmax(counts))
    present = np.nonzero(counts)[0]
    return present, np.full(len(present), majority), counts[present]


MULTICLASS_ORDER = (
    "confusion_matrix",
    "accuracy",
    "weighted_recall",
    "weighted_precision",
    "weighted_f0_5",
    "weighted_f1",
    "weighted_f2",
    "accuracy" + BCC,
    "weighted_recall" + BCC,
    "weighted_precision" + BCC,
    "weighted_f0_5" + BCC,
    "weighted_f1" + BCC,
    "weighted_f2" + BCC,
)


def multiclass_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """The multiclass metrics of two equally long arrays of class names."""
    classes, y, p = encode_classes(y_true, y_pred)
    k = len(classes)
    counts = np.bincount(y * k + p, minlength=k * k).reshape(k, k).tolist()
    matrix = {a: {b: counts[i][j] for j, b in enumerate(classes)} for i, a in enumerate(classes)}

    def compute(indices: np.ndarray | None) -> Scalars:
        if indices is None:
            return _multiclass_scalars(y, p, k)
        return _multiclass_scalars(y[indices], p[indices], k)

    found: dict[str, Any] = {**_with_deviation(compute, len(y)), "confusion_matrix": matrix}
    return {name: found[name] for name in MULTICLASS_ORDER}


# -- regression ---------------------------------------------------------------------------


def _sequential_sum(values: np.ndarray) -> float:
    """Left-to-right sum (``cumsum`` adds in order; ``sum`` adds pairwise)."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


def _observation_ss(observations: np.ndarray) -> float:
    """Σ(y − ȳ)² as Spark's online summarizer computes it (zeros skipped, then corrected)."""
    n = float(len(observations))
    mean = m2n = weight = 0.0
    for value in observations[observations != 0.0].tolist():
        diff = value - mean
        mean = mean + diff / (weight + 1.0)
        m2n += (value - mean) * diff
        weight += 1.0
    denominator = n - 1.0
    if denominator <= 0.0:
        return 0.0
    variance = max((m2n + mean * mean * weight * (n - weight) / n) / denominator, 0.0)
    return variance * denominator


def _regression_scalars(y: np.ndarray, p: np.ndarray) -> Scalars:
    error = y - p
    n = float(len(y))
    ss_err = math.sqrt(_sequential_sum(error * error)) ** 2  # Spark: normL2 squared
    mse = ss_err / n
    ss_tot = np.float64(_observation_ss(y))
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = float(1.0 - np.float64(ss_err) / ss_tot)
    return {
        "mae": _sequential_sum(np.abs(error)) / n,
        "mse": mse,
        "rmse": math.sqrt(mse),
        "r2": r2,
    }


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """mae, mse, rmse and r2 of ground truth ``y_true`` and predictions ``y_pred``."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)

    def compute(indices: np.ndarray | None) -> Scalars:
        if indices is None:
            return _regression_scalars(y, p)
        return _regression_scalars(y[indices], p[indices])

    return dict(_with_deviation(compute, len(y)))


# -- the statistics document --------------------------------------------------------------


def model_quality_statistics(
    kind: str,
    y_true: Any,
    y_pred: Any,
    scores: Any = None,
    *,
    evaluation_time: str | None = None,
) -> ModelQualityStatistics:
    """The statistics of one problem type (see the module docstring) for parsed arrays."""
    kind = problem_type(kind)
    n = len(y_true)
    if n == 0:
        raise ValueError("no records to compute metrics of")
    if len(y_pred) != n or (scores is not None and len(scores) != n):
        raise ValueError("labels, predictions and scores differ in length")
    if kind == BINARY:
        metrics = binary_metrics(y_true, y_pred, scores)
    elif kind == MULTICLASS:
        metrics = multiclass_metrics(y_true, y_pred)
    else:
        assert kind == REGRESSION
        metrics = regression_metrics(y_true, y_pred)
    return ModelQualityStatistics(kind, n, metrics, evaluation_time)
