"""UF1 / UAR on the pooled confusion matrix against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from mer_viewer.core.ml.metrics import evaluate


def _check_against_sklearn(y_true, y_pred, classes):
    m = evaluate(y_true, y_pred, classes)
    labels = list(classes)
    kw = dict(labels=labels, average="macro", zero_division=0)
    assert m.uf1 == pytest.approx(skm.f1_score(y_true, y_pred, **kw), abs=1e-12)
    assert m.uar == pytest.approx(skm.recall_score(y_true, y_pred, **kw), abs=1e-12)
    assert m.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-12)
    assert m.confusion == skm.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                     zero_division=0)
    for i, c in enumerate(classes):
        assert m.per_class[c]["precision"] == pytest.approx(p[i], abs=1e-12)
        assert m.per_class[c]["recall"] == pytest.approx(r[i], abs=1e-12)
        assert m.per_class[c]["f1"] == pytest.approx(f[i], abs=1e-12)
        assert m.per_class[c]["support"] == s[i]
    return m


def test_seeded_random_cases_match_sklearn():
    rng = np.random.default_rng(0)
    names = ["negative", "positive", "surprise", "others", "anger", "fear", "sad"]
    for case in range(300):
        k = int(rng.integers(2, 8))
        classes = names[:k]
        n = int(rng.integers(1, 60))
        y_true = list(rng.choice(classes, size=n))
        # Predictions drawn from a random subset: some classes are never predicted.
        pool = list(rng.choice(classes, size=int(rng.integers(1, k + 1)), replace=False))
        y_pred = [t if rng.random() < 0.4 and t in pool else str(rng.choice(pool))
                  for t in y_true]
        _check_against_sklearn(y_true, y_pred, classes)


def test_class_never_predicted_and_class_absent_from_truth():
    classes = ("negative", "positive", "surprise")
    y_true = ["negative", "negative", "positive", "positive"]  # no surprise in truth
    y_pred = ["negative", "surprise", "negative", "negative"]  # positive never predicted
    m = _check_against_sklearn(y_true, y_pred, classes)
    assert m.per_class["positive"]["f1"] == 0.0
    assert m.per_class["surprise"]["recall"] == 0.0 and m.per_class["surprise"]["support"] == 0
    # By hand: negative has TP 1, FP 2, FN 1: F1 = 2/(2 + 2 + 1) = 0.4, recall 1/2;
    # the other two classes score 0 and still count in both means.
    assert m.uf1 == pytest.approx(0.4 / 3)
    assert m.uar == pytest.approx(0.5 / 3)
    assert m.confusion == [[1, 0, 1], [2, 0, 0], [0, 0, 0]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_property_matches_sklearn(pairs):
    classes = ("a", "b", "c", "d")
    _check_against_sklearn([classes[t] for t, _ in pairs], [classes[p] for _, p in pairs], classes)


def test_unknown_label_is_an_error():
    with pytest.raises(ValueError, match="'zzz'"):
        evaluate(["a", "zzz"], ["a", "a"], ("a", "b"))


def test_to_dict_is_json_ready():
    import json

    m = evaluate(["a", "b"], ["a", "a"], ("a", "b"))
    d = json.loads(json.dumps(m.to_dict()))
    assert d["classes"] == ["a", "b"] and d["confusion"] == [[1, 0], [1, 0]]
    assert m.n_samples == 2
