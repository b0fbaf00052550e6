"""The decision rule and the recalibration stored in each model card.

Served probabilities are the model's, recalibrated outside ONNX:

    p_k  ∝  exp(log q_k / temperature + shift_k)          (q = the ONNX output, shift_0 = 0)

i.e. temperature scaling plus a prior shift (a per-class offset of the log-odds), fitted by
maximum likelihood on validation customers of the latest complete label window. With
temperature 1 and no shift the probabilities are unchanged.

The served segment is then argmax_k(p_k · w_k), with class weights w tuned to maximise validation
macro-F1 (w_0 = 1; plain argmax is w = 1). `probability` stays p of the chosen segment. Cards
without these keys behave as plain argmax of the ONNX output. The TypeScript service applies the
same two steps in one function (src/scoring/decision.ts); tests/test_decision.py checks this module.

Neither step ever sees held-out (test) customers: both take the validation rows only.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

EPS = 1e-15

# Grid of weights for classes 1.. (class 0 fixed at 1): log-spaced 1/4 .. 8, plus exactly 1.
WEIGHT_GRID = np.unique(np.round(np.concatenate([np.exp(np.linspace(np.log(0.25), np.log(8.0), 36)), [1.0]]), 4))


def _norm(p):
    p = np.clip(np.asarray(p, np.float64), EPS, 1.0)
    return p / p.sum(axis=1, keepdims=True)


def calibrate(p, calibration: dict | None) -> np.ndarray:
    """Apply a card's `calibration` (None -> the probabilities, renormalised)."""
    p = _norm(p)
    if not calibration:
        return p
    if calibration.get("kind") != "temperature_prior_shift":
        raise ValueError(f"unknown calibration kind {calibration.get('kind')!r}")
    z = np.log(p) / float(calibration["temperature"]) + np.asarray(calibration["log_prior_shift"], np.float64)[None, :]
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_calibration(p, y, fitted_on: str) -> dict:
    """Maximum-likelihood temperature and prior shift (shift_0 = 0) on validation rows."""
    p = _norm(p)
    y = np.asarray(y, np.int64)
    k = p.shape[1]
    logp = np.log(p)

    def nll(theta):
        t = np.exp(theta[0])
        z = logp / t
        z[:, 1:] += theta[1:]
        z -= z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(lse - z[np.arange(len(y)), y]))

    before = nll(np.zeros(k))
    res = optimize.minimize(nll, np.zeros(k), method="L-BFGS-B",
                            bounds=[(np.log(0.2), np.log(5.0))] + [(-3.0, 3.0)] * (k - 1))
    theta = res.x if res.fun <= before else np.zeros(k)
    return {"kind": "temperature_prior_shift",
            "formula": "p_k ∝ exp(log q_k / temperature + log_prior_shift_k), q = the ONNX probabilities",
            "temperature": float(np.exp(theta[0])),
            "log_prior_shift": [0.0] + [float(v) for v in theta[1:]],
            "fitted_on": fitted_on, "rows": int(len(y)),
            "validation_log_loss": {"before": before, "after": float(min(res.fun, before))}}


def decide(p, weights=None) -> np.ndarray:
    """argmax_k(p_k · w_k), the first class on ties (numpy argmax), as the TypeScript service does."""
    p = np.asarray(p, np.float64)
    if weights is None:
        return p.argmax(axis=1)
    return (p * np.asarray(weights, np.float64)[None, :]).argmax(axis=1)


def macro_f1(y, pred, k=3) -> float:
    y = np.asarray(y, np.int64)
    pred = np.asarray(pred, np.int64)
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(np.float64)
    tp = np.diag(cm)
    denom = cm.sum(axis=0) + cm.sum(axis=1)
    f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
    return float(f1.mean())


def tune_weights(p_valid, y_valid, tuned_on: str, grid=WEIGHT_GRID) -> dict:
    """Class weights maximising macro-F1 of argmax(p · w) on the given (validation) rows.

    w_0 = 1 and w_1, w_2 run over `grid`; ties go to the weights closest to 1 (smallest sum of
    |log w|), so a flat optimum keeps the rule near plain argmax. Returns the card's `decision_rule`."""
    p = np.asarray(p_valid, np.float64)
    y = np.asarray(y_valid, np.int64)
    k = p.shape[1]
    if k != 3:
        raise ValueError("tune_weights expects three classes")
    base = macro_f1(y, decide(p), k)
    best = (base, 0.0, (1.0, 1.0))
    for w1 in grid:
        for w2 in grid:
            f = macro_f1(y, decide(p, [1.0, w1, w2]), k)
            dist = abs(np.log(w1)) + abs(np.log(w2))
            if f > best[0] + 1e-12 or (abs(f - best[0]) <= 1e-12 and dist < best[1]):
                best = (f, dist, (float(w1), float(w2)))
    w = [1.0, *best[2]]
    return {"kind": "weighted_argmax",
            "rule": "segment = argmax_k(p_k · w_k) over the calibrated probabilities; probability = p of that segment",
            "weights_list": w,
            "tuned_on": tuned_on, "rows": int(len(y)),
            "validation_macro_f1": {"argmax": base, "rule": best[0]}}


def with_class_keys(rule: dict, classes) -> dict:
    """The card form: weights keyed by class (the list form stays for Python)."""
    out = {k: v for k, v in rule.items() if k != "weights_list"}
    out["weights"] = {c: w for c, w in zip(classes, rule["weights_list"])}
    return out


def weights_of(rule: dict | None, classes) -> list | None:
    if not rule:
        return None
    if "weights_list" in rule:
        return rule["weights_list"]
    return [float(rule["weights"][c]) for c in classes]
