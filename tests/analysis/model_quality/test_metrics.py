"""Model-quality metrics against scikit-learn computed independently, and SageMaker's examples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from modelmon.analysis.model_quality import (
    binary_metrics,
    model_quality_statistics,
    multiclass_metrics,
    regression_metrics,
)
from modelmon.analysis.model_quality.metrics import binary_curves

REL = 1e-12


def sklearn_resamples(n: int) -> list[np.ndarray]:
    """The documented resampling, written out again: seed 0, 5 × floor(0.8 n) without
    replacement, each kept in record order."""
    rng = np.random.default_rng(0)
    return [np.sort(rng.permutation(n)[: int(n * 0.8)]) for _ in range(5)]


def sample_std(values: list[float]) -> float:
    return float(np.std(np.array(values), ddof=1))


def binary_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    scores = np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1).round(3)  # ties on purpose
    return y, (scores >= 0.5).astype(int), scores


def sk_binary(y: np.ndarray, p: np.ndarray, s: np.ndarray) -> dict[str, float]:
    tn, fp, fn, tp = skm.confusion_matrix(y, p, labels=[0, 1]).ravel()
    ones = np.ones_like(y)
    out = {
        "recall": skm.recall_score(y, p, zero_division=0),
        "precision": skm.precision_score(y, p, zero_division=0),
        "accuracy": skm.accuracy_score(y, p),
        "recall_best_constant_classifier": skm.recall_score(y, ones, zero_division=0),
        "precision_best_constant_classifier": skm.precision_score(y, ones, zero_division=0),
        "accuracy_best_constant_classifier": skm.accuracy_score(y, ones),
        "true_positive_rate": tp / (tp + fn),
        "true_negative_rate": tn / (tn + fp),
        "false_positive_rate": fp / (fp + tn),
        "false_negative_rate": fn / (fn + tp),
        "auc": skm.roc_auc_score(y, s),
    }
    for name, beta in (("f0_5", 0.5), ("f1", 1.0), ("f2", 2.0)):
        out[name] = skm.fbeta_score(y, p, beta=beta, zero_division=0)
        out[f"{name}_best_constant_classifier"] = skm.fbeta_score(
            y, ones, beta=beta, zero_division=0
        )
    return out


def test_binary_metrics_equal_sklearn_with_resampled_deviation() -> None:
    y, p, s = binary_data(1000, seed=3)
    found = binary_metrics(y, p, s)
    expected = sk_binary(y, p, s)
    resampled = [sk_binary(y[i], p[i], s[i]) for i in sklearn_resamples(len(y))]
    for name, value in expected.items():
        assert found[name].value == pytest.approx(value, rel=REL, abs=1e-15), name
        std = sample_std([r[name] for r in resampled])
        assert found[name].standard_deviation == pytest.approx(std, rel=1e-9, abs=1e-15), name
    tn, fp, fn, tp = skm.confusion_matrix(y, p).ravel().tolist()
    assert found["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}


def test_binary_curves_follow_sklearn_points_with_spark_framing() -> None:
    y, _, s = binary_data(500, seed=4)
    found = binary_metrics(y, (s >= 0.5).astype(int), s)
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    roc = found["receiver_operating_characteristic_curve"]
    # sklearn starts at (0, 0); Spark's curve also ends with an extra (1, 1)
    assert roc["false_positive_rates"] == pytest.approx([*fpr.tolist(), 1.0])
    assert roc["true_positive_rates"] == pytest.approx([*tpr.tolist(), 1.0])
    precision, recall, _ = skm.precision_recall_curve(y, s, drop_intermediate=False)
    # sklearn: increasing thresholds, then (precision 1, recall 0); ours: decreasing
    # thresholds after a first point at recall 0 with the first threshold's precision
    pr = found["precision_recall_curve"]
    points = list(zip(recall[:-1][::-1].tolist(), precision[:-1][::-1].tolist(), strict=True))
    assert pr["recalls"][1:] == pytest.approx([r for r, _ in points])
    assert pr["precisions"][1:] == pytest.approx([q for _, q in points])
    assert pr["recalls"][0] == 0.0 and pr["precisions"][0] == pr["precisions"][1]


def test_binary_curves_are_binned_above_the_limit() -> None:
    y, _, s = binary_data(5000, seed=5)
    s = s + np.arange(5000) * 1e-9  # all distinct
    roc, pr = binary_curves(y, s, bins=100)
    # 5000 distinct scores in groups of 50: 100 points, plus (0, 0) and (1, 1)
    assert len(roc["false_positive_rates"]) == 102
    assert len(pr["recalls"]) == 101
    assert roc["true_positive_rates"][-2] == 1.0 and pr["recalls"][-1] == 1.0


def test_multiclass_metrics_equal_sklearn_with_resampled_deviation() -> None:
    rng = np.random.default_rng(6)
    n = 600
    classes = np.array(["cat", "dog", "fish", "7"])
    y = rng.choice(classes, n, p=[0.4, 0.3, 0.2, 0.1])
    p = np.where(rng.random(n) < 0.6, y, rng.choice(classes, n))
    found = multiclass_metrics(y, p)

    def sk(yy: np.ndarray, pp: np.ndarray) -> dict[str, float]:
        majority = max(
            sorted(set(yy), key=lambda c: (0, float(c)) if c == "7" else (1, c)),
            key=lambda c: int(np.sum(yy == c)),
        )
        const = np.full(len(yy), majority)
        out = {
            "accuracy": skm.accuracy_score(yy, pp),
            "accuracy_best_constant_classifier": skm.accuracy_score(yy, const),
        }
        for suffix, pred in (("", pp), ("_best_constant_classifier", const)):
            kw = {"average": "weighted", "zero_division": 0}
            out["weighted_recall" + suffix] = skm.recall_score(yy, pred, **kw)
            out["weighted_precision" + suffix] = skm.precision_score(yy, pred, **kw)
            for name, beta in (("f0_5", 0.5), ("f1", 1.0), ("f2", 2.0)):
                out[f"weighted_{name}{suffix}"] = skm.fbeta_score(yy, pred, beta=beta, **kw)
        return out

    expected = sk(y, p)
    resampled = [sk(y[i], p[i]) for i in sklearn_resamples(n)]
    for name, value in expected.items():
        assert found[name].value == pytest.approx(value, rel=REL), name
        std = sample_std([r[name] for r in resampled])
        assert found[name].standard_deviation == pytest.approx(std, rel=1e-9, abs=1e-15), name
    order = ["7", "cat", "dog", "fish"]  # numbers first, then text
    matrix = skm.confusion_matrix(y, p, labels=order)
    assert list(found["confusion_matrix"]) == order
    assert found["confusion_matrix"] == {
        a: {b: int(matrix[i][j]) for j, b in enumerate(order)} for i, a in enumerate(order)
    }


def test_regression_metrics_equal_sklearn_with_resampled_deviation() -> None:
    rng = np.random.default_rng(8)
    n = 400
    y = rng.normal(3.0, 2.0, n)
    y[::17] = 0.0  # zeros: Spark's summarizer skips them
    p = y + rng.normal(0.0, 0.5, n)
    found = regression_metrics(y, p)

    def sk(yy: np.ndarray, pp: np.ndarray) -> dict[str, float]:
        mse = skm.mean_squared_error(yy, pp)
        return {
            "mae": skm.mean_absolute_error(yy, pp),
            "mse": mse,
            "rmse": math.sqrt(mse),
            "r2": skm.r2_score(yy, pp),
        }

    expected = sk(y, p)
    resampled = [sk(y[i], p[i]) for i in sklearn_resamples(n)]
    for name, value in expected.items():
        assert found[name].value == pytest.approx(value, rel=REL), name
        std = sample_std([r[name] for r in resampled])
        assert found[name].standard_deviation == pytest.approx(std, rel=1e-9), name


@pytest.mark.parametrize(("n", "known"), [(199, False), (200, True)])
def test_standard_deviation_needs_200_samples(n: int, known: bool) -> None:
    y, p, s = binary_data(n, seed=9)
    statistics = model_quality_statistics("BinaryClassification", y, p, s)
    for metric in statistics.scalars().values():
        assert (metric.standard_deviation is not None) is known
    text = statistics.to_json()
    assert ('"standard_deviation" : "NaN"' in text) is not known


def test_dg_example_values_exactly() -> None:
    """SPEC §3.1's DG example (labels 1,0,0,0; predicted 1,1,1,0), digit for digit."""
    found = binary_metrics(np.array([1, 0, 0, 0]), np.array([1, 1, 1, 0]))
    expected = {
        "recall": 1.0,
        "precision": 0.3333333333333333,
        "accuracy": 0.5,
        "recall_best_constant_classifier": 1.0,
        "precision_best_constant_classifier": 0.25,
        "accuracy_best_constant_classifier": 0.25,
        "true_positive_rate": 1.0,
        "true_negative_rate": 0.33333333333333337,
        "false_positive_rate": 0.6666666666666666,
        "false_negative_rate": 0.0,
        "f0_5": 0.3846153846153846,
        "f1": 0.5,
        "f2": 0.7142857142857143,
        "f0_5_best_constant_classifier": 0.29411764705882354,
        "f1_best_constant_classifier": 0.4,
        "f2_best_constant_classifier": 0.625,
    }
    assert {k: found[k].value for k in expected} == expected
    # no probabilities: the predicted classes are the scores
    assert found["auc"].value == skm.roc_auc_score([1, 0, 0, 0], [1, 1, 1, 0])


def test_model_card_binary_example(reference: Path) -> None:
    """The binary fixture of reference/sdk_model_card from 4 records built to match it.

    Matched: the confusion matrix (1 positive of 4; predicted 1,1,1,0), every scalar
    value (auc 1: the positive gets the highest probability) to the fixture's 14
    digits, and "NaN" deviations (4 < 200 samples). Not matched, because the fixture
    contradicts itself there: its curves step recall by 0.25, which needs 4 positives,
    and it gives deviations 0.2 and 0.1 for 4 samples.
    """
    fixture = json.loads(
        (
            reference / "sdk_model_card/model_monitor_model_quality_binary_classification.json"
        ).read_text()
    )["binary_classification_metrics"]
    labels = np.array([1, 0, 0, 0])
    probabilities = np.array([0.9, 0.7, 0.6, 0.2])
    found = model_quality_statistics(
        "BinaryClassification", labels, (probabilities >= 0.5).astype(int), probabilities
    ).to_dict()["binary_classification_metrics"]
    assert found["confusion_matrix"] == fixture["confusion_matrix"]
    assert set(found) == set(fixture)
    for name, item in fixture.items():
        if "value" not in item:
            continue
        assert found[name]["value"] == pytest.approx(item["value"], abs=1e-13), name
        if item["standard_deviation"] == "NaN":
            assert found[name]["standard_deviation"] == "NaN", name
