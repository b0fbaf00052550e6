"""The decision rule (class weights tuned on validation), the recalibration and the CDNOW loader's
created_at."""
import numpy as np
import pandas as pd
import pytest

from segments.data import DAY_MS, day_to_ms, load_cdnow
from segments.dataset import Plan, Tables
from segments.decision import (calibrate, decide, fit_calibration, macro_f1, tune_weights, weights_of,
                               with_class_keys)
from segments.features import compute_features, population
from segments.metrics import ece
from segments.pipeline import fit_decision_rules


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sample(n, rng, prior=(0.7, 0.22, 0.08)):
    """True class probabilities from a Dirichlet-ish model and labels drawn from them: argmax rarely
    picks the minority classes although they are well ranked (as on CDNOW)."""
    logits = rng.normal(0, 1.0, (n, 3)) + np.log(np.asarray(prior))[None, :]
    p = softmax(logits)
    y = np.array([rng.choice(3, p=row) for row in p])
    return p, y


def test_weights_improve_validation_macro_f1_over_argmax():
    rng = np.random.RandomState(0)
    p, y = sample(6000, rng)
    rule = tune_weights(p, y, "constructed validation rows")
    f_argmax = macro_f1(y, decide(p))
    f_rule = macro_f1(y, decide(p, rule["weights_list"]))
    assert rule["validation_macro_f1"]["argmax"] == pytest.approx(f_argmax)
    assert rule["validation_macro_f1"]["rule"] == pytest.approx(f_rule)
    assert f_rule > f_argmax + 0.03, (f_argmax, f_rule)
    # minority classes are up-weighted relative to the majority class
    assert rule["weights_list"][0] == 1.0 and rule["weights_list"][2] > 1.0
    # and it carries over to fresh rows from the same distribution (not only fitted noise)
    p2, y2 = sample(6000, rng)
    assert macro_f1(y2, decide(p2, rule["weights_list"])) > macro_f1(y2, decide(p2)) + 0.02


def test_weights_stay_plain_argmax_when_argmax_is_already_best():
    # perfectly separable: argmax is right everywhere; ties in F1 go to the weights closest to 1
    y = np.repeat([0, 1, 2], 50)
    p = np.full((150, 3), 0.1)
    p[np.arange(150), y] = 0.8
    rule = tune_weights(p, y, "separable")
    assert rule["weights_list"] == [1.0, 1.0, 1.0]


def test_card_form_round_trips():
    rule = tune_weights(*sample(500, np.random.RandomState(1)), "x")
    card = with_class_keys(rule, ["lapsing", "active", "high_value"])
    assert set(card["weights"]) == {"lapsing", "active", "high_value"} and "weights_list" not in card
    assert weights_of(card, ["lapsing", "active", "high_value"]) == rule["weights_list"]


def _tables(valid_p, valid_y, test_p, test_y, cutoffs):
    def frame(y, cut):
        return pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(y))], "cutoff_ms": cut, "label": y})
    vcut = np.array([cutoffs[i % len(cutoffs)] for i in range(len(valid_y))], dtype=np.int64)
    plan = Plan(horizon_days=90, train_cutoffs=cutoffs, test_cutoff=cutoffs[-1] + 90 * DAY_MS,
                data_end=cutoffs[-1] + 180 * DAY_MS)
    return Tables(frame(valid_y[:0], 0), frame(valid_y, vcut), frame(test_y, plan.test_cutoff), 100.0, plan)


def test_decision_rule_and_calibration_never_read_the_held_out_customers():
    rng = np.random.RandomState(2)
    pv, yv = sample(4000, rng)
    pt, yt = sample(2000, rng)
    cutoffs = [day_to_ms("2025-01-01"), day_to_ms("2025-04-01")]

    def fit(pv_, yv_, pt_, yt_):
        fitted = {"m": {"proba_valid": pv_, "proba_test": pt_}}
        fit_decision_rules(fitted, _tables(pv_, yv_, pt_, yt_, cutoffs), log=lambda *_: None)
        return fitted["m"]

    a = fit(pv, yv, pt, yt)
    # the held-out labels and probabilities changed completely: the same rule and calibration
    b = fit(pv, yv, pt[::-1].copy(), (yt + 1) % 3)
    assert a["decision_rule"]["weights_list"] == b["decision_rule"]["weights_list"]
    assert a["calibration"]["temperature"] == b["calibration"]["temperature"]
    assert "never the held-out" in a["decision_rule"]["tuned_on"]
    # calibration is fitted on the latest training cutoff's validation rows only
    assert a["calibration"]["rows"] == int((np.arange(4000) % 2 == 1).sum())
    assert "2025-04-01" in a["calibration"]["fitted_on"]
    # the validation rows do decide it
    c = fit(pv, (yv + 1) % 3, pt, yt)
    assert c["decision_rule"]["weights_list"] != a["decision_rule"]["weights_list"]
    # served test probabilities are the calibrated ONNX ones
    np.testing.assert_allclose(a["proba_test_served"], calibrate(pt, a["calibration"]))


def test_temperature_and_prior_shift_are_recovered():
    rng = np.random.RandomState(3)
    p, y = sample(20000, rng)
    # an over-confident model (temperature 0.5) that also under-states class 2 by a factor e^-0.7
    q = softmax(np.log(p) / 0.5 + np.array([0.0, 0.0, -0.7]))
    cal = fit_calibration(q, y, "constructed")
    assert cal["temperature"] == pytest.approx(2.0, rel=0.08)
    assert cal["log_prior_shift"][0] == 0.0
    # log q / T + b = log p + (-0.7 / T + b) - const: the shift that undoes it is 0.7 / 2
    assert cal["log_prior_shift"][2] == pytest.approx(0.35, abs=0.12)
    r = calibrate(q, cal)
    assert cal["validation_log_loss"]["after"] < cal["validation_log_loss"]["before"] - 0.05
    assert ece(y, r) < 0.02 < ece(y, q)
    np.testing.assert_allclose(r.sum(axis=1), 1.0)


def test_identity_calibration_changes_nothing():
    p, _ = sample(100, np.random.RandomState(4))
    cal = {"kind": "temperature_prior_shift", "temperature": 1.0, "log_prior_shift": [0.0, 0.0, 0.0]}
    np.testing.assert_allclose(calibrate(p, cal), p, atol=1e-12)
    np.testing.assert_allclose(calibrate(p, None), p, atol=1e-12)
    with pytest.raises(ValueError):
        calibrate(p, {"kind": "isotonic"})


def _write_cdnow(path, rows):
    path.write_text("customer_id date number_of_cds dollar_value\n"
                    + "".join(f"{c} {d} {n} {v}\n" for c, d, n, v in rows))


def test_cdnow_created_at_is_the_first_order_and_reveals_nothing_before_it(tmp_path):
    rows = [("00001", "19970101", 1, "11.77"), ("00001", "19970315", 2, "20.00"),
            ("00002", "19970110", 1, "5.00"),
            # customer 3 first buys after the cutoff 1997-03-01
            ("00003", "19970320", 3, "30.00"), ("00003", "19970401", 1, "9.99")]
    full = tmp_path / "full.txt"
    _write_cdnow(full, rows)
    ds = load_cdnow(full)
    c = ds.customers.set_index("customer_id")["created_ms"]
    assert c["00001"] == day_to_ms("1997-01-01") + 12 * 3_600_000
    assert c["00003"] == day_to_ms("1997-03-20") + 12 * 3_600_000
    T = day_to_ms("1997-03-01")
    assert list(population(ds.orders, ds.customers, T)) == ["00001", "00002"]
    # asked for explicitly, customer 3 is unknown at T: tenure NaN (not a negative tenure from the future)
    f = compute_features(ds.orders, ds.customers, T, ["00001", "00002", "00003"])
    assert np.isnan(f.loc["00003", "tenure_days"])
    assert f.loc["00001", "tenure_days"] == pytest.approx((T - c["00001"]) / DAY_MS)
    # the features at T are the same as from a file that ends at T
    cut = tmp_path / "cut.txt"
    _write_cdnow(cut, [r for r in rows if r[1] < "19970301"])
    ds_cut = load_cdnow(cut)
    f_cut = compute_features(ds_cut.orders, ds_cut.customers, T, ["00001", "00002", "00003"])
    pd.testing.assert_frame_equal(f, f_cut)


def test_bootstrap_point_metrics_equal_evaluate():
    from segments.bootstrap import Scored, bootstrap
    from segments.metrics import evaluate
    rng = np.random.RandomState(5)
    p, y = sample(3000, rng)
    p[:40] = p[0]  # ties
    w = [1.0, 1.8, 3.0]
    s = Scored(y, p, pred=decide(p, w))
    m = s.metrics(np.ones(len(y)))
    e = evaluate(y, p, weights=w)
    for k in ("accuracy", "macro_f1", "log_loss", "ece", "roc_auc_ovr_macro"):
        assert m[k] == pytest.approx(e[k], abs=1e-12), k
    from sklearn.metrics import roc_auc_score
    assert m["auc_any_purchase"] == pytest.approx(roc_auc_score(y != 0, 1 - p[:, 0]), abs=1e-12)
    b = bootstrap({"m": s}, n=200, seed=1)["m"]
    for k, v in b.items():
        assert v["lo"] <= v["value"] <= v["hi"], k
    assert b["macro_f1"]["hi"] - b["macro_f1"]["lo"] > 0.005
