#!/usr/bin/env python3
"""Choose the served XGBoost's settings and the decision rule's fitting on CDNOW VALIDATION customers.

    /usr/bin/python3 python-export/tune_cdnow.py xgb  --configs '[{}, {"max_depth": 2}]' [--seeds 42] [--cdnow FILE]
    /usr/bin/python3 python-export/tune_cdnow.py rule --configs '[{}]' --schemes grid,smooth1,smooth2,last-grid [--seed 42]
    /usr/bin/python3 python-export/tune_cdnow.py rule --schemes smooth2,oof-smooth2,oofonly-smooth2 [--oof-folds 5] [--oof-cache F.npz]
    /usr/bin/python3 python-export/tune_cdnow.py oofscore --schemes smooth2,smooth4 [--oof-cache F.npz]
    /usr/bin/python3 python-export/tune_cdnow.py combine [--seeds 42,43,44]   >> python-export/reports/cdnow_combine.jsonl

Same task, split and training rows as evaluate.py (T = 1997-10-01, H = 273 d); the held-out customers
are never predicted here. Each line printed (JSON) is one measurement on the validation customers
(2,791 customers at the six monthly training cutoffs, 16,746 rows):

xgb:  per XGBoost setting (over xgb_onnx.DEFAULT_PARAMS) and seed, early-stopped on the validation
      customers as training does, then recalibrated as the pipeline does: validation log loss
      (`ll`), AUC-ovr macro on all validation rows (`auc`) and on the latest cutoff's (`auc_latest`,
      the one nearest the test cutoff), macro-F1 of the rule tuned and scored on the same rows
      (`f1_in`, optimistic) and cross-fitted (`f1_cf`: tuned on half of the validation customers,
      scored on the other half; 2 folds x 3 random halves).
rule: per way of fitting the class weights: cross-fitted macro-F1 (`crossfit`, 2 folds x 6 halves;
      `cf_halves` per half, the same halves for every scheme, so schemes can be compared pairwise;
      `cf_latest` scores only the latest cutoff's rows) and forward (`forward`: tuned on the
      validation rows of the cutoffs before c, scored at c, for the last three cutoffs). Schemes:
      `grid` = the 36 x 36 log grid maximum; `smoothN` = the same surface smoothed by a Gaussian of
      N grid steps (segments.decision.tune_weights(smooth_steps=N)); `last-` = tuned on the latest
      cutoff's rows only. `oof-` = tuned on the out-of-fold (OOF) rows of all training customers plus
      the validation rows of the fit (the half, or the earlier cutoffs); `oofonly-` = on the OOF rows
      only (of the earlier cutoffs, forward). Whatever the scheme, scores are only ever taken on
      validation rows that were not part of the fit.
oofscore: per smoothing (--schemes smoothN / grid), the other way round: scored on the OOF rows of the
      training customers (none of them a validation customer, about six times as many rows), so the
      validation-only weights can use ALL validation rows: `val_all` = weights tuned on all validation
      rows; `val_half` = tuned on half of them (the cross-fitted protocol's handicap, mean of 6 halves);
      `oof_plus_val_gain` = (weights tuned on half of the OOF customers plus all validation rows) minus
      (weights tuned on all validation rows), both scored on the other half of the OOF customers, mean
      of 2 folds x 3 halves (`oof_plus_val_gain_halves` each).

combine: other model forms and another decision rule, against the served XGBoost (depth 2) and its
      rule (smooth2), with the same fields as `xgb` plus `vs_served` (cross-fitted macro-F1 minus the
      served one's over the same 12 halves, and the halves where it scored higher). Models: the
      logistic regression as shipped; XGBoost depth 1 (an additive model); blends of the two, in log
      space (`logblend`, λ·log p_lr + (1-λ)·log p_xgb, renormalised) and in probability space; a
      hybrid XGBoost boosted from the logistic regression's margin (base_margin = its decision
      function, early-stopped as usual). Rule: `ordinal` thresholds on the served probabilities
      (high_value if p_hv >= t2, else active if p_active + p_hv >= t1, else lapsing; t on a 41 x 41
      grid, the surface smoothed as smooth2), the ordered-classes alternative to argmax(p · w).

OOF rows: the training customers split into --oof-folds folds by customer (customer_bucket, salt
"oof"); per fold an XGBoost with the same parameters and seed, trained on the other folds for the
full model's early-stopped number of rounds (no early stopping, so the validation customers play no
part), predicts the fold. The OOF probabilities are recalibrated as the pipeline does (temperature
and prior shift fitted on the OOF rows of the latest training cutoff), then used for the weights.
--nthread overrides XGBoost's thread count (not logged in cfg; the logged `nthread` field says it);
--max-rounds raises the round cap (600) for slow learning rates (logged as `max_rounds`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402
from scipy import ndimage  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from evaluate import DEFAULT_CDNOW, cdnow_plan  # noqa: E402
from segments import logistic_onnx, xgb_onnx  # noqa: E402
from segments.data import load_cdnow  # noqa: E402
from segments.dataset import build_tables, customer_bucket  # noqa: E402
from segments.decision import calibrate, decide, fit_calibration, macro_f1, tune_weights  # noqa: E402


class Validation:
    def __init__(self, tables):
        self.valid = tables.valid
        self.y = self.valid["label"].to_numpy(np.int64)
        self.cut = self.valid["cutoff_ms"].to_numpy(np.int64)
        self.latest = self.cut == int(max(tables.plan.train_cutoffs))
        self.cids = self.valid["customer_id"]

    def halves(self, n, salt):
        for s in range(n):
            b = self.cids.map(lambda c: customer_bucket(c, f"{salt}-{s}")).to_numpy() < 0.5
            yield b
            yield ~b

    def calibrated(self, p_raw):
        return calibrate(p_raw, fit_calibration(p_raw[self.latest], self.y[self.latest], "validation, latest cutoff"))


def weights_by(scheme, p, y, cut, oof=None):
    """oof: (p, y, cut) of the OOF training rows, for the oof- / oofonly- schemes (the forward protocol
    passes only the OOF rows of the earlier cutoffs)."""
    if scheme.startswith("oofonly-"):
        return weights_by(scheme[8:], *oof)
    if scheme.startswith("oof-"):
        po, yo, co = oof
        return weights_by(scheme[4:], np.concatenate([po, p]), np.concatenate([yo, y]), np.concatenate([co, cut]))
    if scheme.startswith("last-"):
        m = cut == cut.max()
        return weights_by(scheme[5:], p[m], y[m], cut[m])
    steps = 0.0 if scheme == "grid" else float(scheme[len("smooth"):])
    return tune_weights(p, y, "tuning", smooth_steps=steps)["weights_list"]


def xgb_report(v: Validation, p_raw):
    p = v.calibrated(p_raw)
    y = v.y
    ll = float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1))))
    cf = [macro_f1(y[~a], decide(p[~a], weights_by("grid", p[a], y[a], v.cut[a]))) for a in v.halves(3, "h1")]
    return {"ll": ll, "auc": float(roc_auc_score(y, p, multi_class="ovr", average="macro")),
            "auc_latest": float(roc_auc_score(y[v.latest], p[v.latest], multi_class="ovr", average="macro")),
            "f1_in": tune_weights(p, y, "x", smooth_steps=0)["validation_macro_f1"]["rule"], "f1_cf": float(np.mean(cf))}


def oof_predictions(tables, params, seed, rounds, folds, log=print):
    """Raw out-of-fold probabilities of the training rows (see the module docstring)."""
    X, y = tables.xy("train")
    fold = np.minimum((tables.train["customer_id"].map(lambda c: customer_bucket(c, "oof")).to_numpy() * folds)
                      .astype(int), folds - 1)
    p = dict(xgb_onnx.DEFAULT_PARAMS)
    p.update(params)
    p["seed"] = seed
    out = np.full((len(y), 3), np.nan)
    for f in range(folds):
        t0 = time.time()
        tr = fold != f
        d = xgb.DMatrix(np.asarray(X[tr], np.float32), label=y[tr], missing=np.nan)
        b = xgb.train(p, d, num_boost_round=rounds, verbose_eval=False)
        out[~tr] = xgb_onnx.predict_proba(b, X[~tr])
        log(f"  oof fold {f + 1}/{folds}: {int(tr.sum())} training rows, {int((~tr).sum())} predicted, "
            f"{time.time() - t0:.0f}s")
    assert not np.isnan(out).any()
    return out


def calibrated_oof(tables, p_raw):
    y = tables.train["label"].to_numpy(np.int64)
    cut = tables.train["cutoff_ms"].to_numpy(np.int64)
    latest = cut == int(max(tables.plan.train_cutoffs))
    return calibrate(p_raw, fit_calibration(p_raw[latest], y[latest], "OOF, latest cutoff")), y, cut


def rule_report(v: Validation, p_raw, scheme, oof=None):
    p, y, cut = v.calibrated(p_raw), v.y, v.cut
    cf, cfl = [], []
    for a in v.halves(6, "h1r"):
        w = weights_by(scheme, p[a], y[a], cut[a], oof)
        cf.append(macro_f1(y[~a], decide(p[~a], w)))
        m = ~a & v.latest
        cfl.append(macro_f1(y[m], decide(p[m], w)))
    fw = []
    for c in sorted(set(cut))[3:]:
        a = cut < c
        m = cut == c
        oa = None if oof is None else tuple(x[oof[2] < c] for x in oof)
        fw.append(macro_f1(y[m], decide(p[m], weights_by(scheme, p[a], y[a], cut[a], oa))))
    return {"crossfit": float(np.mean(cf)), "cf_sd": float(np.std(cf)), "cf_latest": float(np.mean(cfl)),
            "cf_halves": [round(float(f), 5) for f in cf], "forward": fw, "fwd_mean": float(np.mean(fw)),
            "w_all": weights_by(scheme, p, y, cut, oof)}


def oof_score_report(v: Validation, p_raw, scheme, oof, train_ids):
    p, y = v.calibrated(p_raw), v.y
    po, yo, co = oof
    w_val = weights_by(scheme, p, y, v.cut)
    half = [macro_f1(yo, decide(po, weights_by(scheme, p[a], y[a], v.cut[a]))) for a in v.halves(3, "h1r")]
    gain = []
    for s in range(3):
        b = train_ids.map(lambda c: customer_bucket(c, f"oofscore-{s}")).to_numpy() < 0.5
        for a in (b, ~b):
            w = weights_by(scheme, np.concatenate([po[a], p]), np.concatenate([yo[a], y]), np.concatenate([co[a], v.cut]))
            gain.append(macro_f1(yo[~a], decide(po[~a], w)) - macro_f1(yo[~a], decide(po[~a], w_val)))
    return {"val_all": macro_f1(yo, decide(po, w_val)), "val_half": float(np.mean(half)),
            "oof_plus_val_gain": float(np.mean(gain)), "oof_plus_val_gain_halves": [round(float(g), 5) for g in gain],
            "w_val": w_val}


ORD_T1 = np.linspace(0.10, 0.70, 41)   # threshold on p_active + p_high_value
ORD_T2 = np.linspace(0.05, 0.50, 41)   # threshold on p_high_value


def decide_ordinal(p, t1, t2):
    out = np.zeros(len(p), np.int64)
    out[(p[:, 1] + p[:, 2]) >= t1] = 1
    out[p[:, 2] >= t2] = 2
    return out


def tune_ordinal(p, y, smooth_steps=2.0):
    s = np.array([[macro_f1(y, decide_ordinal(p, a, c)) for c in ORD_T2] for a in ORD_T1])
    s = ndimage.gaussian_filter(s, smooth_steps, mode="nearest")
    i, j = np.unravel_index(s.argmax(), s.shape)
    return float(ORD_T1[i]), float(ORD_T2[j])


def combine_lines(v: Validation, X, y, Xv, yv, seed, threads):
    """The `combine` measurements of one seed (see the module docstring), each a dict."""
    def soft(z):
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def cf_halves(p_raw, rule="smooth2"):
        p = v.calibrated(p_raw)
        out = []
        for a in v.halves(6, "h1r"):
            if rule == "ordinal":
                out.append(macro_f1(v.y[~a], decide_ordinal(p[~a], *tune_ordinal(p[a], v.y[a]))))
            else:
                out.append(macro_f1(v.y[~a], decide(p[~a], weights_by(rule, p[a], v.y[a], v.cut[a]))))
        return np.asarray(out)

    pre, clf = logistic_onnx.train(X, y, seed=seed)
    p_lr = logistic_onnx.predict_proba(pre, clf, Xv)
    served, info = xgb_onnx.train(X, y, Xv, yv, seed=seed, params={"max_depth": 2, **threads})
    p_x = xgb_onnx.predict_proba(served, Xv)
    base = cf_halves(p_x)
    models = [("xgboost depth 2 (served)", p_x, {"rounds": info["best_iteration"] + 1}),
              ("logistic regression", p_lr, {})]
    b1, i1 = xgb_onnx.train(X, y, Xv, yv, seed=seed, params={"max_depth": 1, **threads}, num_boost_round=2000)
    models.append(("xgboost depth 1", xgb_onnx.predict_proba(b1, Xv), {"rounds": i1["best_iteration"] + 1}))
    for lam in (0.25, 0.5, 0.75):
        models.append((f"logblend λ={lam}", soft((1 - lam) * np.log(p_x) + lam * np.log(p_lr)), {}))
    models.append(("probblend λ=0.5", 0.5 * p_x + 0.5 * p_lr, {}))
    m_tr, m_va = clf.decision_function(pre.transform(X)), clf.decision_function(pre.transform(Xv))
    for depth in (1, 2):
        p = {**xgb_onnx.DEFAULT_PARAMS, "max_depth": depth, "seed": seed, **threads}
        dtr = xgb.DMatrix(np.asarray(X, np.float32), label=y, missing=np.nan, base_margin=m_tr)
        dva = xgb.DMatrix(np.asarray(Xv, np.float32), label=yv, missing=np.nan, base_margin=m_va)
        bh = xgb.train(p, dtr, num_boost_round=600, evals=[(dva, "valid")], early_stopping_rounds=40,
                       verbose_eval=False)
        models.append((f"hybrid depth {depth}", bh.predict(dva, iteration_range=(0, bh.best_iteration + 1)),
                       {"rounds": bh.best_iteration + 1}))
    for name, p_raw, extra in models:
        r = xgb_report(v, p_raw)
        h = cf_halves(p_raw)
        yield {"combine": name, "rule": "smooth2", "seed": seed, **extra, "ll": r["ll"], "auc": r["auc"],
               "auc_latest": r["auc_latest"], "f1_cf": float(h.mean()),
               "vs_served": float((h - base).mean()), "higher": int(((h - base) > 0).sum()), "halves": len(h)}
    h = cf_halves(p_x, "ordinal")
    p = v.calibrated(p_x)
    yield {"combine": "xgboost depth 2 (served)", "rule": "ordinal", "seed": seed, "f1_cf": float(h.mean()),
           "vs_served": float((h - base).mean()), "higher": int(((h - base) > 0).sum()), "halves": len(h),
           "thresholds_all": tune_ordinal(p, v.y)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["xgb", "rule", "oofscore", "combine"])
    ap.add_argument("--cdnow", default=str(DEFAULT_CDNOW))
    ap.add_argument("--configs", default="[{}]", help="JSON list of XGBoost parameter overrides")
    ap.add_argument("--seeds", default="42")
    ap.add_argument("--schemes", default="grid,smooth1,smooth2,last-grid,last-smooth1")
    ap.add_argument("--oof-folds", type=int, default=5)
    ap.add_argument("--oof-cache", help="npz file: reuse / store the raw OOF (and validation) probabilities")
    ap.add_argument("--nthread", type=int, help="XGBoost threads (default: xgb_onnx.DEFAULT_PARAMS)")
    ap.add_argument("--max-rounds", type=int, help="XGBoost's round cap before early stopping (default: xgb_onnx.train's)")
    args = ap.parse_args(argv)
    threads = {"nthread": args.nthread} if args.nthread else {}
    ds = load_cdnow(args.cdnow)
    tables = build_tables(ds, cdnow_plan())
    v = Validation(tables)
    X, y = tables.xy("train")
    Xv, yv = tables.xy("valid")
    if args.what == "combine":
        for seed in [int(s) for s in args.seeds.split(",")]:
            for line in combine_lines(v, X, y, Xv, yv, seed, threads):
                print(json.dumps(line), flush=True)
        return
    for cfg in json.loads(args.configs):
        for seed in [int(s) for s in args.seeds.split(",")]:
            t0 = time.time()
            schemes = args.schemes.split(",")
            need_oof = args.what == "oofscore" or (args.what == "rule" and any(s.startswith("oof") for s in schemes))
            cache = Path(args.oof_cache) if args.oof_cache else None
            if need_oof and cache and cache.exists():
                z = np.load(cache, allow_pickle=False)
                if json.loads(str(z["key"])) != {"cfg": cfg, "seed": seed, "folds": args.oof_folds}:
                    raise SystemExit(f"{cache} holds another configuration")
                p_raw, p_oof_raw, rounds = z["p_valid"], z["p_oof"], int(z["rounds"])
                info = {"params": {**xgb_onnx.DEFAULT_PARAMS, **cfg}}
            else:
                booster, info = xgb_onnx.train(X, y, Xv, yv, seed=seed, params={**cfg, **threads},
                                               **({"num_boost_round": args.max_rounds} if args.max_rounds else {}))
                p_raw = xgb_onnx.predict_proba(booster, Xv)
                rounds = info["best_iteration"] + 1
                if need_oof:
                    print(f"full model: {rounds} rounds, {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
                    p_oof_raw = oof_predictions(tables, {**cfg, **threads}, seed, rounds, args.oof_folds,
                                                log=lambda m: print(m, file=sys.stderr, flush=True))
                    if cache:
                        np.savez(cache, p_valid=p_raw, p_oof=p_oof_raw, rounds=rounds,
                                 key=json.dumps({"cfg": cfg, "seed": seed, "folds": args.oof_folds}))
            cfg = {k: info["params"][k] for k in ("max_depth", "min_child_weight")} | cfg  # explicit in the log
            extra = ({"nthread": args.nthread} if args.nthread else {}) | (
                {"max_rounds": args.max_rounds} if args.max_rounds else {})
            if args.what == "xgb":
                print(json.dumps({"cfg": cfg, "seed": seed, "rounds": rounds, **extra,
                                  "sec": round(time.time() - t0), **xgb_report(v, p_raw)}), flush=True)
            else:
                oof = calibrated_oof(tables, p_oof_raw) if need_oof else None
                if need_oof:
                    po, yo, _ = oof
                    extra |= {"oof_folds": args.oof_folds, "oof_rows": int(len(yo)),
                              "oof_ll": float(-np.mean(np.log(np.clip(po[np.arange(len(yo)), yo], 1e-15, 1)))),
                              "oof_auc": float(roc_auc_score(yo, po, multi_class="ovr", average="macro"))}
                for scheme in schemes:
                    if args.what == "oofscore":
                        print(json.dumps({"cfg": cfg, "seed": seed, "oofscore": scheme, **extra,
                                          **oof_score_report(v, p_raw, scheme, oof, tables.train["customer_id"])}),
                              flush=True)
                        continue
                    print(json.dumps({"cfg": cfg, "seed": seed, "scheme": scheme, **extra,
                                      **rule_report(v, p_raw, scheme, oof if scheme.startswith("oof") else None)}),
                          flush=True)


if __name__ == "__main__":
    main()
