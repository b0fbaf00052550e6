"""95 % bootstrap intervals for every held-out metric, all models on the same resamples.

A resample is a multinomial weight vector over the held-out customers (w_i = how often customer i
was drawn); every metric is computed as a weighted sum in O(N) (AUC by groups of tied scores), so
1000 resamples of ten models take seconds. With w = 1 the metrics equal segments.metrics.evaluate.
"""
from __future__ import annotations

import numpy as np

from .metrics import ECE_BINS


def _auc_groups(score, pos):
    """Sorted unique-score groups for a weighted Mann-Whitney AUC with ties counted 1/2."""
    _, inv = np.unique(np.asarray(score, np.float64), return_inverse=True)
    return inv, int(inv.max()) + 1, np.asarray(pos, bool)


def _auc(w, groups):
    inv, g, pos = groups
    wp = np.bincount(inv, weights=w * pos, minlength=g)
    wn = np.bincount(inv, weights=w * ~pos, minlength=g)
    P, N = wp.sum(), wn.sum()
    if P <= 0 or N <= 0:
        return np.nan
    below = np.cumsum(wn) - wn
    return float((wp * (below + 0.5 * wn)).sum() / (P * N))


class Scored:
    """One model's held-out outputs: probabilities p [N, K], the segment it decides `pred`, and an
    optional score for "any purchase in the horizon" (default 1 - p[:, 0])."""

    def __init__(self, y, p, pred=None, any_score=None, k=3):
        y = np.asarray(y, np.int64)
        p = np.clip(np.asarray(p, np.float64), 1e-15, 1)
        p = p / p.sum(axis=1, keepdims=True)
        pred = p.argmax(axis=1) if pred is None else np.asarray(pred, np.int64)
        self.k, self.n = k, len(y)
        self.ll = -np.log(p[np.arange(len(y)), y])
        self.correct = (pred == y).astype(np.float64)
        self.cm_idx = y * k + pred
        conf = p.max(axis=1)
        top_ok = (p.argmax(axis=1) == y).astype(np.float64)
        edges = np.linspace(0, 1, ECE_BINS + 1)
        b = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, ECE_BINS - 1)  # (lo, hi] bins, 0 in the first
        self.ece_bin, self.conf, self.top_ok = b, conf, top_ok
        self.auc_groups = [_auc_groups(p[:, c], y == c) for c in range(k)]
        score = 1 - p[:, 0] if any_score is None else np.asarray(any_score, np.float64)
        self.any_groups = _auc_groups(score, y != 0)

    def metrics(self, w) -> dict:
        W = w.sum()
        cm = np.bincount(self.cm_idx, weights=w, minlength=self.k * self.k).reshape(self.k, self.k)
        tp = np.diag(cm)
        denom = cm.sum(axis=0) + cm.sum(axis=1)
        f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
        bw = np.bincount(self.ece_bin, weights=w, minlength=ECE_BINS)
        bc = np.bincount(self.ece_bin, weights=w * self.conf, minlength=ECE_BINS)
        bo = np.bincount(self.ece_bin, weights=w * self.top_ok, minlength=ECE_BINS)
        ece = float(np.abs(bo - bc).sum() / W)
        aucs = [_auc(w, g) for g in self.auc_groups]
        return {"accuracy": float((w * self.correct).sum() / W), "macro_f1": float(f1.mean()),
                "log_loss": float((w * self.ll).sum() / W), "ece": ece,
                "roc_auc_ovr_macro": float(np.nanmean(aucs)), "auc_any_purchase": _auc(w, self.any_groups)}


METRICS = ["accuracy", "macro_f1", "log_loss", "ece", "roc_auc_ovr_macro", "auc_any_purchase"]


def bootstrap(models: dict, n=1000, seed=42) -> dict:
    """{name: Scored} -> {name: {metric: {"value", "lo", "hi"}}} (percentile 95 % intervals)."""
    names = list(models)
    N = models[names[0]].n
    rng = np.random.RandomState(seed)
    point = {k: models[k].metrics(np.ones(N)) for k in names}
    draws = {k: {m: [] for m in METRICS} for k in names}
    for _ in range(n):
        w = np.bincount(rng.randint(0, N, N), minlength=N).astype(np.float64)
        for k in names:
            for m, v in models[k].metrics(w).items():
                draws[k][m].append(v)
    out = {}
    for k in names:
        out[k] = {}
        for m in METRICS:
            d = np.asarray(draws[k][m], np.float64)
            d = d[~np.isnan(d)]
            lo, hi = (np.percentile(d, 2.5), np.percentile(d, 97.5)) if len(d) else (np.nan, np.nan)
            out[k][m] = {"value": point[k][m], "lo": float(lo), "hi": float(hi)}
    return out
