"""Held-out metrics, the RFM-rules baseline and report plots."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, log_loss, precision_score,
                             recall_score, roc_auc_score)

from .decision import decide
from .features import FEATURES
from .labels import CLASSES

ECE_BINS = 15


def ece(y, p, bins=ECE_BINS) -> float:
    """Expected calibration error of the top-label confidence, equal-width bins on [0, 1]."""
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def evaluate(y, p, weights=None, pred=None) -> dict:
    """Held-out metrics. The segment is argmax(p · weights) (plain argmax without weights) or `pred`
    when given (rules that decide by themselves); log loss, AUC and ECE read the probabilities only."""
    y = np.asarray(y)
    p = np.clip(np.asarray(p, np.float64), 1e-15, 1)
    p = p / p.sum(axis=1, keepdims=True)
    if pred is None:
        pred = decide(p, weights)
    pred = np.asarray(pred)
    labels = list(range(len(CLASSES)))
    out = {
        "n": int(len(y)),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro", labels=labels, zero_division=0)),
        "log_loss": float(log_loss(y, p, labels=labels)),
        "ece": ece(y, p),
        "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
    }
    prec = precision_score(y, pred, labels=labels, average=None, zero_division=0)
    rec = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    out["per_class"] = {}
    for i, c in enumerate(CLASSES):
        yi = (y == i).astype(int)
        auc = float(roc_auc_score(yi, p[:, i])) if 0 < yi.sum() < len(yi) else float("nan")
        out["per_class"][c] = {"precision": float(prec[i]), "recall": float(rec[i]), "roc_auc_ovr": auc,
                               "support": int(yi.sum())}
    aucs = [v["roc_auc_ovr"] for v in out["per_class"].values()]
    out["roc_auc_ovr_macro"] = float(np.nanmean(aucs))
    return out


CALIBRATION_BINS = 10


def evaluation_summary(y, p, bins=CALIBRATION_BINS, weights=None) -> dict:
    """The card's "evaluation" key: what the API serves for a calibration plot and a confusion matrix.

    calibration: per class, one-vs-rest reliability over `bins` equal-width bins of the predicted
    probability of that class ([lo, hi), the last bin closed): rows, mean predicted probability and
    observed frequency of the class (null for an empty bin). confusion: rows = actual class,
    columns = predicted class — argmax(p · weights), the served decision rule (plain argmax without
    weights) — in class order."""
    y = np.asarray(y)
    p = np.asarray(p, np.float64)
    labels = list(range(len(CLASSES)))
    edges = np.linspace(0, 1, bins + 1)
    per_class = {}
    for c, key in enumerate(CLASSES):
        pc = p[:, c]
        rows = []
        for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
            m = (pc >= lo) & ((pc < hi) if b < bins - 1 else (pc <= hi))
            n = int(m.sum())
            rows.append({"lower": round(float(lo), 6), "upper": round(float(hi), 6), "count": n,
                         "mean_predicted": float(pc[m].mean()) if n else None,
                         "observed": float((y[m] == c).mean()) if n else None})
        per_class[key] = rows
    return {
        "customers": int(len(y)),
        "calibration": {"method": f"one-vs-rest reliability: {bins} equal-width bins of each class's predicted "
                                  "probability; observed = share of the bin's customers whose actual class it is",
                        "bins": bins, "classes": per_class},
        "confusion": {"classes": list(CLASSES), "rows": "actual",
                      "columns": "predicted (most probable class)" if weights is None else "predicted (the decision rule: argmax of p · weights)",
                      "matrix": confusion_matrix(y, decide(p, weights), labels=labels).tolist()},
    }


def paired_bootstrap(y, pa, pb, seed, n=1000) -> dict:
    """Mean per-row log-loss difference a - b with a 95% percentile bootstrap interval."""
    y = np.asarray(y)
    eps = 1e-15
    la = -np.log(np.clip(pa[np.arange(len(y)), y], eps, 1))
    lb = -np.log(np.clip(pb[np.arange(len(y)), y], eps, 1))
    d = la - lb
    rng = np.random.RandomState(seed)
    boots = np.array([d[rng.randint(0, len(d), len(d))].mean() for _ in range(n)])
    return {"mean": float(d.mean()), "lo": float(np.percentile(boots, 2.5)), "hi": float(np.percentile(boots, 97.5))}


class MajorityClass:
    """Baseline: everyone gets the class frequencies of the training rows (so its predicted segment is
    the majority class)."""

    def fit(self, X, y):
        counts = np.bincount(np.asarray(y), minlength=len(CLASSES)).astype(float) + 1.0
        self.p = counts / counts.sum()
        return self

    def predict_proba(self, X):
        return np.tile(self.p, (len(X), 1))

    def describe(self):
        return {"class_frequencies": self.p.tolist()}


GATE_CRITERION = ("promoted automatically only if, on the held-out customers, the model's log loss is lower than "
                  "each baseline's (majority class, RFM rules) with a 95% paired-bootstrap interval (1000 resamples) "
                  "of the per-customer difference entirely below 0")


def quality_gate(y, p_model, baselines: dict, seed: int = 42) -> dict:
    """The promotion rule: beat every baseline on held-out log loss, the 95% interval excluding 0."""
    comparisons, reasons = {}, []
    for name, p_base in baselines.items():
        d = paired_bootstrap(y, np.asarray(p_model, np.float64), np.asarray(p_base, np.float64), seed)
        d["beats"] = d["hi"] < 0
        comparisons[name] = d
        if not d["beats"]:
            reasons.append(f"log loss minus {name} baseline's = {d['mean']:+.4f}, 95% CI [{d['lo']:+.4f}, {d['hi']:+.4f}] "
                           + ("is worse" if d["lo"] > 0 else "contains 0 (not distinguishable)"))
    passed = not reasons
    return {"passed": passed, "criterion": GATE_CRITERION, "n": int(len(y)), "comparisons": comparisons,
            "reasons": reasons or ["beats every baseline: " + ", ".join(
                f"{k} {v['mean']:+.4f} [{v['lo']:+.4f}, {v['hi']:+.4f}]" for k, v in comparisons.items())]}


class RFMRules:
    """No learning beyond quantiles: R, F, M quintile scores (1..5, edges = 20/40/60/80th percentiles of
    the training rows) mapped to segments by fixed rules:
        lapsing    if R <= 2 (or no order at all)
        high_value if R >= 3 and F >= 4 and M >= 4
        active     otherwise
    R uses recency_days (smaller = better), F purchase_days_all, M spend_all. For the probability
    metrics each rule segment emits the class frequencies of the training rows it covers (Laplace +1).
    Unknown spend (orders without amount: spend_all is NaN) does not count against a customer: the
    high_value rule then reads R and F only (and with no amount at all, M plays no part)."""

    def __init__(self):
        self.ir, self.i_f, self.im = (FEATURES.index("recency_days"), FEATURES.index("purchase_days_all"),
                                      FEATURES.index("spend_all"))

    def fit(self, X, y):
        q = [20, 40, 60, 80]
        r = X[:, self.ir]
        self.r_edges = np.percentile(r[~np.isnan(r)], q)
        self.f_edges = np.percentile(X[:, self.i_f], q)
        m = X[:, self.im]
        self.m_edges = np.percentile(m[~np.isnan(m)], q) if (~np.isnan(m)).any() else None
        seg = self.segments(X)
        self.table = np.ones((3, 3))
        for s, t in zip(seg, y):
            self.table[s, t] += 1
        self.table /= self.table.sum(axis=1, keepdims=True)
        return self

    def scores(self, X):
        r = X[:, self.ir]
        R = 5 - (r[:, None] > self.r_edges[None, :]).sum(axis=1)
        R = np.where(np.isnan(r), 1, R)
        F = 1 + (X[:, self.i_f][:, None] > self.f_edges[None, :]).sum(axis=1)
        m = X[:, self.im]
        if self.m_edges is None:
            M = np.full(len(m), 5)
        else:
            M = np.where(np.isnan(m), 5, 1 + (m[:, None] > self.m_edges[None, :]).sum(axis=1))
        return R, F, M

    def segments(self, X):
        R, F, M = self.scores(X)
        return np.where(R <= 2, 0, np.where((F >= 4) & (M >= 4), 2, 1))

    def predict_proba(self, X):
        return self.table[self.segments(X)]

    def describe(self):
        return {"r_edges_days": self.r_edges.tolist(), "f_edges_purchase_days": self.f_edges.tolist(),
                "m_edges_spend": None if self.m_edges is None else self.m_edges.tolist(), "segment_class_frequencies": self.table.tolist()}


def plot_confusion(results: dict, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4))
    for ax, n in zip(np.atleast_1d(axes), names):
        cm = np.asarray(results[n]["confusion_matrix"], float)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(3):
            for j in range(3):
                ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.2f}", ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
        ax.set_xticks(range(3), CLASSES, rotation=20)
        ax.set_yticks(range(3), CLASSES)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(n)
    fig.suptitle("Confusion matrices (row-normalised; counts above)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_calibration(y, probs: dict, path, bins=10):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    edges = np.linspace(0, 1, bins + 1)
    for c, ax in enumerate(axes):
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        for n, p in probs.items():
            pc = p[:, c]
            xs, ys = [], []
            for lo, hi in zip(edges[:-1], edges[1:]):
                m = (pc >= lo) & (pc < hi) if hi < 1 else (pc >= lo) & (pc <= hi)
                if m.sum() >= 5:
                    xs.append(pc[m].mean())
                    ys.append((y[m] == c).mean())
            ax.plot(xs, ys, marker="o", label=n)
        ax.set_title(f"class {CLASSES[c]} (one-vs-rest)")
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed frequency")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Calibration (reliability) on the held-out set, bins with >= 5 rows")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
