#!/usr/bin/env python3
"""EXPERIMENT ONLY (no product change): do BG/NBD + Gamma-Gamma features help the served XGBoost on CDNOW?

    nice -n 19 /usr/bin/python3 python-export/tune_cdnow_btyd.py xgb --variants base,percutoff,first --seeds 42,43,44
    nice -n 19 /usr/bin/python3 python-export/tune_cdnow_btyd.py heldout --variants base,percutoff --seeds 42,43,44

Same task, split, rows and XGBoost protocol as tune_cdnow.py `xgb` (T = 1997-10-01, H = 273 d; served settings
xgb_onnx.DEFAULT_PARAMS, nthread 1; early-stopped on the validation customers; recalibrated on the validation
customers of the latest training cutoff; the same `xgb_report` figures ll / auc / auc_latest / f1_in / f1_cf).

Extra columns appended to the 27 features of features.json, per (customer, cutoff c), from the customer's paid
orders before c (segments.lifetime.rfm_summary: one occasion per UTC day; unit = 7 days, as the card):
    btyd_p_alive       BG/NBD P(alive | x, t_x, T)                         (FHL 2005 eq. 11)
    btyd_exp_orders    BG/NBD E[occasions in (c, c + H]] , H = 273 d        (FHL 2005 eq. 10)
    btyd_exp_value     Gamma-Gamma E[M | x, m] (population mean when x = 0)
    btyd_exp_spend     btyd_exp_orders * btyd_exp_value

Fitting (no label and no validation / held-out customer is used): the BG/NBD and Gamma-Gamma parameters are
fitted on the TRAINING customers only (sha256 bucket >= the validation edge: neither validation nor held-out
customers), on their paid orders before the cutoff:
    percutoff  one fit per cutoff c (each training cutoff, and the test cutoff for the held-out rows), on the
               training customers' orders before c; rows at c use c's parameters.
    first      one fit at the earliest training cutoff (1997-04-01), reused for every cutoff.
    base       no extra columns (the served feature vector).
Features are a function of pre-cutoff orders only, so no label window is ever looked at.

heldout: as evaluate.py does for the served XGBoost (pipeline.fit_models + fit_decision_rules): trained on the
training rows, early-stopped on validation, recalibrated on validation's latest cutoff, class weights tuned on
all validation rows (tune_weights, default smoothing), scored on the held-out customers at the test cutoff:
macro-F1 of the rule, AUC-ovr macro, ECE, log loss (segments.metrics.evaluate).
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
from scipy import special  # noqa: E402

from evaluate import DEFAULT_CDNOW, cdnow_plan  # noqa: E402
from segments import xgb_onnx  # noqa: E402
from segments.data import load_cdnow, ms_to_iso  # noqa: E402
from segments.dataset import build_tables, customer_bucket  # noqa: E402
from segments.decision import calibrate, fit_calibration, tune_weights, decide  # noqa: E402
from segments.features import FEATURES  # noqa: E402
from segments import lifetime as lt  # noqa: E402
from segments import metrics as sm  # noqa: E402
from tune_cdnow import Validation, xgb_report  # noqa: E402

UNIT_DAYS = 7.0
EXTRA = ["btyd_p_alive", "btyd_exp_orders", "btyd_exp_value", "btyd_exp_spend"]


def btyd_columns(bg, gg, s, horizon_days):
    """Vectorised lifetime.p_alive / expected_purchases / expected_order_value over an rfm_summary frame."""
    r, alpha, a, b = bg.r, bg.alpha, bg.a, bg.b
    x, t_x, T = s["x"].to_numpy(float), s["t_x"].to_numpy(float), s["T"].to_numpy(float)
    t = horizon_days / UNIT_DAYS
    ratio = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * np.exp((r + x) * np.log((alpha + T) / (alpha + t_x))), 0.0)
    p_alive = 1.0 / (1.0 + ratio)
    z = t / (alpha + T + t)
    f = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    num = (a + b + x - 1) / (a - 1) * (1.0 - np.exp((r + x) * np.log((alpha + T) / (alpha + T + t))) * f)
    exp_orders = num / (1.0 + ratio)
    m = s["m"].to_numpy(float)
    pop = gg.p * gg.v / (gg.q - 1)
    ok = (x > 0) & np.isfinite(m)
    value = np.where(ok, gg.p * (gg.v + x * np.where(ok, m, 0)) / (gg.p * x + gg.q - 1), pop)
    return {"btyd_p_alive": p_alive, "btyd_exp_orders": exp_orders, "btyd_exp_value": value,
            "btyd_exp_spend": exp_orders * value}


def fit_on_training(ds, cutoff, v_edge, log):
    o = ds.orders
    train_ids = o["customer_id"].map(lambda c: customer_bucket(c) >= v_edge).to_numpy()
    s = lt.rfm_summary(o[train_ids], cutoff, UNIT_DAYS)
    t0 = time.time()
    bg, bi = lt.fit_bgnbd(s["x"], s["t_x"], s["T"])
    gg, gi = lt.fit_gamma_gamma(s["x"], s["m"])
    log(f"  fit at {ms_to_iso(cutoff)[:10]} on {len(s)} training customers ({gi['customers']} repeat): "
        f"BG/NBD {json.dumps({k: round(v, 4) for k, v in bg.as_dict().items()})}, "
        f"GG {json.dumps({k: round(v, 4) for k, v in gg.as_dict().items()})}, {time.time() - t0:.0f}s")
    return bg, gg


def add_btyd(ds, tables, variant, log):
    """Adds EXTRA columns (in place) to tables.train / valid / test for the variant."""
    plan = tables.plan
    v_edge = plan.test_fraction + plan.valid_fraction * (1 - plan.test_fraction)
    cutoffs = sorted(plan.train_cutoffs) + [plan.test_cutoff]
    fits = {}
    if variant == "first":
        one = fit_on_training(ds, cutoffs[0], v_edge, log)
        fits = {c: one for c in cutoffs}
    else:
        fits = {c: fit_on_training(ds, c, v_edge, log) for c in cutoffs}
    for c in cutoffs:
        bg, gg = fits[c]
        s = lt.rfm_summary(ds.orders, c, UNIT_DAYS)
        cols = btyd_columns(bg, gg, s, plan.horizon_days)
        if c == cutoffs[-1]:  # spot check the vectorised formulas against the scalar reference
            idx = np.random.default_rng(0).choice(len(s), 200, replace=False)
            for i in idx:
                row = s.iloc[i]
                ref = (lt.p_alive(bg, row["x"], row["t_x"], row["T"]),
                       lt.expected_purchases(bg, plan.horizon_days / UNIT_DAYS, row["x"], row["t_x"], row["T"]),
                       lt.expected_order_value(gg, row["x"], None if np.isnan(row["m"]) else row["m"]))
                got = (cols["btyd_p_alive"][i], cols["btyd_exp_orders"][i], cols["btyd_exp_value"][i])
                assert np.allclose(ref, got, rtol=1e-7, atol=1e-10), (ref, got)
        for df in (tables.train, tables.valid, tables.test):
            m = df["cutoff_ms"].to_numpy(np.int64) == c
            if not m.any():
                continue
            pos = s.index.get_indexer(df.loc[m, "customer_id"])
            for k in EXTRA:
                v = np.full(int(m.sum()), np.nan)
                v[pos >= 0] = cols[k][pos[pos >= 0]]
                df.loc[m, k] = v


def xy(df, cols):
    return df[cols].to_numpy(np.float64), df["label"].to_numpy(np.int64)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["xgb", "heldout"])
    ap.add_argument("--cdnow", default=str(DEFAULT_CDNOW))
    ap.add_argument("--variants", default="base,percutoff,first")
    ap.add_argument("--seeds", default="42,43,44")
    ap.add_argument("--cfg", default="{}", help="XGBoost overrides of DEFAULT_PARAMS")
    ap.add_argument("--nthread", type=int, default=1)
    args = ap.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    ds = load_cdnow(args.cdnow)
    cfg = json.loads(args.cfg)
    for variant in args.variants.split(","):
        tables = build_tables(ds, cdnow_plan())
        cols = list(FEATURES)
        if variant != "base":
            add_btyd(ds, tables, variant, log)
            cols += EXTRA
            for part in ("train", "valid", "test"):
                d = getattr(tables, part)
                log(f"  {variant} {part}: " + ", ".join(f"{k} mean {np.nanmean(d[k]):.4f} nan {int(d[k].isna().sum())}" for k in EXTRA))
        v = Validation(tables)
        X, y = xy(tables.train, cols)
        Xv, yv = xy(tables.valid, cols)
        Xt, yt = xy(tables.test, cols)
        for seed in [int(s) for s in args.seeds.split(",")]:
            t0 = time.time()
            booster, info = xgb_onnx.train(X, y, Xv, yv, seed=seed, params={**cfg, "nthread": args.nthread})
            pv = xgb_onnx.predict_proba(booster, Xv)
            rounds = info["best_iteration"] + 1
            gain = booster.get_score(importance_type="gain")
            tot = sum(gain.values())
            extra_gain = {cols[int(k[1:])]: round(g / tot, 4) for k, g in gain.items() if cols[int(k[1:])] in EXTRA}
            out = {"variant": variant, "cfg": cfg, "seed": seed, "rounds": rounds, "sec": None}
            if args.what == "xgb":
                out |= xgb_report(v, pv)
            else:
                last = int(max(tables.plan.train_cutoffs))
                latest = tables.valid["cutoff_ms"].to_numpy(np.int64) == last
                cal = fit_calibration(pv[latest], yv[latest], "validation, latest cutoff")
                pvc = calibrate(pv, cal)
                rule = tune_weights(pvc, yv, "validation")
                pt = calibrate(xgb_onnx.predict_proba(booster, Xt), cal)
                mt = sm.evaluate(yt, pt, weights=rule["weights_list"])
                out |= {"test_rows": int(len(yt)), "weights": [round(w, 3) for w in rule["weights_list"]],
                        **{k: mt[k] for k in ("macro_f1", "roc_auc_ovr_macro", "ece", "log_loss") if k in mt}}
            out["sec"] = round(time.time() - t0)
            out["extra_gain_share"] = extra_gain
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
