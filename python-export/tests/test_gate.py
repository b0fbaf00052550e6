"""Training on a shop's data: the quality gate, versioned output and the refusal on too little data.
Runs on the committed fixture with the quick (smoke) model settings."""
import json

import numpy as np
import pytest

import train
from conftest import FIXTURE_DIR
from segments.dataset import InsufficientData, check_enough_data
from segments.metrics import quality_gate
from segments.data import day_to_ms


def test_gate_needs_an_interval_that_excludes_zero():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 400)
    prior = np.tile([1 / 3, 1 / 3, 1 / 3], (400, 1))
    good = np.full((400, 3), 0.1)
    good[np.arange(400), y] = 0.8
    assert quality_gate(y, good, {"majority": prior})["passed"] is True
    same = quality_gate(y, prior, {"majority": prior})
    assert same["passed"] is False
    assert "contains 0" in same["reasons"][0]
    worse = quality_gate(y, prior, {"majority": good})
    assert worse["passed"] is False and "is worse" in worse["reasons"][0]


def _train(tmp_path, *extra):
    out = tmp_path / "models"
    result = tmp_path / "result.json"
    train.main(["--data", str(FIXTURE_DIR), "--quick", "--models", "logistic", "--min-customers", "100",
                "--out", str(out), "--result-json", str(result), *extra])
    return out, json.loads(result.read_text())


def test_writes_the_next_version_with_baselines_and_the_gate(tmp_path):
    out, result = _train(tmp_path)
    assert result["models"]["logistic-segment"]["version"] == "1"
    out, result = _train(tmp_path)  # a second run: the next version, the first untouched
    assert result["models"]["logistic-segment"]["version"] == "2"
    assert sorted(p.name for p in (out / "logistic-segment").iterdir()) == ["1", "2"]
    card = json.loads((out / "logistic-segment" / "2" / "model.json").read_text())
    assert card["version"] == "2"
    assert set(card["baselines"]) == {"majority", "rfm"}
    assert card["gate"]["passed"] is True
    assert card["metrics_held_out"]["log_loss"] < card["baselines"]["rfm"]["log_loss"] < card["baselines"]["majority"]["log_loss"]
    assert card["gate"]["comparisons"]["majority"]["hi"] < 0


def test_gate_refuses_a_model_trained_on_shuffled_labels(tmp_path):
    out, result = _train(tmp_path, "--shuffle-labels")
    gate = result["models"]["logistic-segment"]["gate"]
    assert gate["passed"] is False
    assert any("majority" in r for r in gate["reasons"])
    card = json.loads((out / "logistic-segment" / "1" / "model.json").read_text())
    assert card["shuffled_labels"] is True and card["gate"]["passed"] is False


def test_refuses_too_little_data_saying_what_is_missing(fixture_ds):
    end = day_to_ms("2026-07-01")
    with pytest.raises(InsufficientData, match=r"389 customers have a paid order before the test cutoff 2026-04-02, at least 500"):
        check_enough_data(fixture_ds, 90, end, 500)
    with pytest.raises(InsufficientData, match=r"less than two horizons \(1400 days for --horizon-days 700\)"):
        check_enough_data(fixture_ds, 700, end, 10)
    assert check_enough_data(fixture_ds, 90, end, 300)["customers_before_test_cutoff"] == 389
