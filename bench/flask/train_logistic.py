#!/usr/bin/env python3
"""Fit the logistic segment model with the project's training code and pickle it for the Flask baseline.

The served model (models/logistic-segment/1) comes from `python-export/train.py --demo`, which fits
`segments.logistic_onnx.train(X, y, seed=42)` on the demo export (10,000 customers, seed 42, anchor
2026-01-01, data end 2026-01-01, horizon 90 days, 4 rolling training cutoffs). This script runs the
same steps with the same functions and parameters:

    npm run demo:export -- --customers 10000 --seed 42 --anchor 2026-01-01 --out <tmp>
    ds = load_interface(<tmp>); plan = rolling_plan(ds, 90, day_to_ms("2026-01-01"), n_train_cutoffs=4)
    tables = build_tables(ds, plan); X, y = tables.xy("train")
    pre, clf = logistic_onnx.train(X, y, seed=42)       # Preprocessor + sklearn LogisticRegression(lbfgs)

then checks that the fitted (pre, clf) is the served model: the preprocessing constants of
models/logistic-segment/1/model.onnx (medians, log1p mask, means, stds) must equal the refit's float32
values, and its coefficients and intercepts the refit's within 1 % (where lbfgs stops depends on the
machine); the estimator then takes the served coefficients, and its predict_proba must reproduce the
probabilities in golden.json. Only then is {"pre": pre, "clf": clf} pickled to --out (the Flask app
unpickles it at start-up).

Usage: /usr/bin/python3 bench/flask/train_logistic.py --out /tmp/logistic.pkl
"""
from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python-export"))

from segments import logistic_onnx  # noqa: E402
from segments.data import day_to_ms, load_interface  # noqa: E402
from segments.dataset import build_tables, rolling_plan  # noqa: E402

SERVED = ROOT / "models" / "logistic-segment" / "1"  # the shipped version


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    card = json.loads((SERVED / "model.json").read_text())
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        subprocess.run(["npm", "run", "--silent", "demo:export", "--", "--customers", "10000", "--seed", "42",
                        "--anchor", "2026-01-01", "--out", tmp], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        ds = load_interface(tmp)
        expected = {s["path"]: s["sha256"] for s in card["training_data"]["sources"]}
        got = {s["path"]: s["sha256"] for s in ds.sources}
        if got != expected:
            sys.exit(f"demo export differs from the served model's training data: {got} != {expected}")
        plan = rolling_plan(ds, 90, day_to_ms("2026-01-01"), n_train_cutoffs=4)
        tables = build_tables(ds, plan)
    X, y = tables.xy("train")
    pre, clf = logistic_onnx.train(X, y, seed=42)

    # The served graph's constants must be the refit's (as float32, the graph's type).
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(SERVED / "model.onnx")).graph.initializer}
    f32 = np.float32
    pairs = {
        "impute_median": pre.median.astype(f32).reshape(1, -1),
        "scaler_mean": pre.mean.astype(f32).reshape(1, -1),
        "scaler_std": pre.std.astype(f32).reshape(1, -1),
        "coef": clf.coef_.T.astype(f32),
        "intercept": clf.intercept_.astype(f32).reshape(1, -1),
    }
    # The preprocessing constants are exact functions of the data. The coefficients are where lbfgs
    # stopped, within its tolerance, and that point depends on the BLAS, the CPU and the thread count:
    # refits of the same data on other machines moved them by up to 0.6 % of the largest one. So the
    # refit must agree with the served coefficients to 1 %, and the pickled estimator then carries
    # the served coefficients themselves: both services answer with one model, on any machine.
    worst = {"preprocessing": 0.0, "classifier": 0.0}
    for name, mine in pairs.items():
        diff = float(np.max(np.abs(inits[name].astype(np.float64) - mine.astype(np.float64))))
        scale = float(np.max(np.abs(mine))) or 1.0
        part = "classifier" if name in ("coef", "intercept") else "preprocessing"
        worst[part] = max(worst[part], diff / scale)
        if diff > (1e-2 if part == "classifier" else 1e-5) * scale:
            sys.exit(f"refit differs from the served model in {name}: max |diff| {diff:g}")
    clf.coef_ = inits["coef"].astype(np.float64).T.copy()
    clf.intercept_ = inits["intercept"].astype(np.float64).reshape(-1).copy()
    if not np.array_equal(inits["log1p_mask"], pre.log_mask.reshape(1, -1)):
        sys.exit("refit differs from the served model in log1p_mask")

    golden = json.loads((SERVED / "golden.json").read_text())
    Xg = np.array([[np.nan if v is None else v for v in r["features"]] for r in golden["customers"]], np.float64)
    pg = np.array([r["probabilities"] for r in golden["customers"]])
    pdiff = float(np.max(np.abs(logistic_onnx.predict_proba(pre, clf, Xg) - pg)))
    if pdiff > 1e-6:
        sys.exit(f"the pickled model's probabilities differ from golden.json by {pdiff:g}")

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as f:
        pickle.dump({"pre": pre, "clf": clf, "model": card["name"], "version": card["version"]}, f)
    print(json.dumps({"out": args.out, "train_rows": int(len(y)), "refit_max_rel_diff": worst,
                      "max_golden_probability_diff": pdiff}))


if __name__ == "__main__":
    main()
