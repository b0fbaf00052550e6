"""The shipped models/<name>/1/ folders are consistent with this code: the golden features are what
features.py computes today, the model card's sha256 matches, and the exported graphs (walked in
Python) reproduce the golden probabilities. Plus an end-to-end smoke training run."""
import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from conftest import FIXTURE_DIR
from segments import logistic_onnx, xgb_onnx
from segments.data import day_to_ms
from segments.features import FEATURES, SEQ_LEN, compute_features, compute_sequences, load_spec

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = "1"  # the shipped (demo) version of each model
NAMES = sorted(p.name for p in MODELS.iterdir() if (p / SHIPPED / "model.json").exists()) if MODELS.exists() else []


def _load(name):
    d = MODELS / name / SHIPPED
    return d, json.loads((d / "model.json").read_text()), json.loads((d / "golden.json").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_card_and_golden_features(name, fixture_ds):
    d, card, golden = _load(name)
    b = (d / "model.onnx").read_bytes()
    assert hashlib.sha256(b).hexdigest() == card["onnx"]["sha256"]
    assert json.loads((d / "features.json").read_text()) == load_spec()
    assert card["features"]["ordered"] == FEATURES == golden["feature_names"]
    ids = [c["customer_id"] for c in golden["customers"]]
    f = compute_features(fixture_ds.orders, fixture_ds.customers, golden["as_of_ms"], ids)
    want = np.array([[np.nan if v is None else v for v in c["features"]] for c in golden["customers"]])
    np.testing.assert_array_equal(f[FEATURES].to_numpy(), want)
    if card["kind"] == "transformer":
        seq, mask = compute_sequences(fixture_ds.orders, golden["as_of_ms"], ids, SEQ_LEN)
        for i, c in enumerate(golden["customers"]):
            assert c["mask_length"] == int(mask[i].sum())
            np.testing.assert_array_equal(seq[i, :c["mask_length"]], np.array(c["sequence"]).reshape(-1, 5))


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith(("xgboost", "logistic"))])
def test_walked_graph_reproduces_golden(name):
    d, card, golden = _load(name)
    m = onnx.load(str(d / "model.onnx"))
    X = np.array([[np.nan if v is None else v for v in c["features"]] for c in golden["customers"]])
    want = np.array([c["probabilities"] for c in golden["customers"]])
    if card["kind"] == "xgboost":
        margins = xgb_onnx.onnx_margins(m, X)
        np.testing.assert_allclose(margins, [c["margins"] for c in golden["customers"]], atol=1e-5)
        got = xgb_onnx.softmax(margins)
    else:
        got = logistic_onnx.onnx_eval(m, X)
    assert np.abs(got - want).max() < 1e-5


def test_smoke_training_end_to_end(tmp_path):
    import train
    out = train.main(["--smoke", "--out", str(tmp_path)])
    for name in ["xgboost-segment", "logistic-segment", "transformer-segment"]:
        card = json.loads((out / name / "1" / "model.json").read_text())
        b = (out / name / "1" / "model.onnx").read_bytes()
        assert card["onnx"]["sha256"] == hashlib.sha256(b).hexdigest()
        assert card["smoke"] is True
        assert card["training_data"]["sources"][0]["sha256"]
        assert 0 <= card["metrics_held_out"]["accuracy"] <= 1
        _check_evaluation(card)
        golden = json.loads((out / name / "1" / "golden.json").read_text())
        assert len(golden["customers"]) == 20
        onnx.checker.check_model(onnx.load_from_string(b))


def _check_evaluation(card):
    """The card's "evaluation" (served as ModelInfo.evaluation) agrees with its own held-out metrics."""
    ev = card["evaluation"]
    n = card["metrics_held_out"]["n"]
    assert ev["customers"] == n
    assert ev["confusion"]["matrix"] == card["metrics_held_out"]["confusion_matrix"]
    assert ev["confusion"]["classes"] == [c["key"] for c in sorted(card["classes"], key=lambda c: c["index"])]
    for key, bins in ev["calibration"]["classes"].items():
        assert sum(b["count"] for b in bins) == n, key
        assert bins[0]["lower"] == 0 and bins[-1]["upper"] == 1
        # Rows of the class over all bins = the class's support.
        support = card["metrics_held_out"]["per_class"][key]["support"]
        assert round(sum(b["observed"] * b["count"] for b in bins if b["count"])) == support, key


@pytest.mark.parametrize("name", NAMES)
def test_shipped_card_evaluation(name):
    _, card, _ = _load(name)
    _check_evaluation(card)
