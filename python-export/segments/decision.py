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
from scipy import ndimage, optimize

EPS = 1e-15

# Grid of weights for classes 1.. (class 0 fixed at 1): log-spaced 1/4 .. 8, plus exactly 1.
WEIGHT_GRID = np.unique(np.round(np.concatenate([np.exp(np.linspace(np.log(0.25), np.log(8.0), 36)), [1.0]]), 4))
# The validation macro-F1 surface over the grid is smoothed with a Gaussian of this many grid steps
# (a step is ×1.10 in weight) before its maximum is taken: the centre of a broad plateau carries over
# to new customers better than a single noisy peak of a few thousand validation rows. On CDNOW, weights
# tuned on half of the validation customers and scored on the other half gained about +0.003 macro-F1
# with it, at depth 2 and 4 (python-export/tune_cdnow.py rule; python-export/reports/cdnow.md).
SMOOTH_STEPS = 2.0


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


def tune_weights(p_valid, y_valid, tuned_on: str, grid=WEIGHT_GRID, smooth_steps=SMOOTH_STEPS) -> dict:
    """Class weights maximising the smoothed macro-F1 of argmax(p · w) on the given (validation) rows.

    w_0 = 1 and w_1, w_2 run over `grid`; the macro-F1 surface over the grid is smoothed with a
    Gaussian of `smooth_steps` grid steps (0 = none; edges repeat the border) and its maximum taken;
    ties go to the weights closest to 1 (smallest sum of |log w|), so a flat optimum keeps the rule
    near plain argmax. Returns the card's `decision_rule` (its validation macro-F1 is the unsmoothed
    value at the chosen weights)."""
    p = np.asarray(p_valid, np.float64)
    y = np.asarray(y_valid, np.int64)
    k = p.shape[1]
    if k != 3:
        raise ValueError("tune_weights expects three classes")
    grid = np.asarray(grid, np.float64)
    base = macro_f1(y, decide(p), k)
    surface = np.array([[macro_f1(y, decide(p, [1.0, w1, w2]), k) for w2 in grid] for w1 in grid])
    score = ndimage.gaussian_filter(surface, smooth_steps, mode="nearest") if smooth_steps > 0 else surface
    dist = np.abs(np.log(grid))[:, None] + np.abs(np.log(grid))[None, :]
    top = score.max()
    i, j = min(zip(*np.nonzero(score >= top - 1e-12)), key=lambda ij: dist[ij])
    w = [1.0, float(grid[i]), float(grid[j])]
    return {"kind": "weighted_argmax",
            "rule": "segment = argmax_k(p_k · w_k) over the calibrated probabilities; probability = p of that segment",
            "weights_list": w,
            "objective": (f"validation macro-F1 over a {len(grid)} x {len(grid)} log-spaced grid of "
                          f"({grid[0]:g} .. {grid[-1]:g}) per class, smoothed with a Gaussian of {smooth_steps:g} "
                          "grid steps, maximised" if smooth_steps > 0 else
                          f"validation macro-F1 over a {len(grid)} x {len(grid)} log-spaced grid, maximised"),
            "tuned_on": tuned_on, "rows": int(len(y)),
            "validation_macro_f1": {"argmax": base, "rule": float(surface[i, j])}}


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
