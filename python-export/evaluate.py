#!/usr/bin/env python3
"""Train and evaluate all four approaches on the CDNOW transaction log and write the report.

    /usr/bin/python3 python-export/evaluate.py [--cdnow ../shared/datasets/cdnow/CDNOW_master.txt]

Task (the literature's split): features from weeks 1-39 (orders before 1997-10-01), label from the
following 39 weeks (1997-10-01 .. 1998-06-30), on held-out customers. Training rows: the other
customers at monthly cutoffs 1997-04-01 .. 1997-09-01, each with its own 39-week label window.
Writes python-export/reports/cdnow.md, cdnow_confusion.png, cdnow_calibration.png, cdnow_metrics.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from segments import transformer  # noqa: E402
from segments.data import day_to_ms, load_cdnow  # noqa: E402
from segments.dataset import Plan, build_tables  # noqa: E402
from segments.labels import CLASSES  # noqa: E402
from segments.metrics import evaluate, paired_bootstrap, plot_calibration, plot_confusion  # noqa: E402
from segments.pipeline import fit_models  # noqa: E402

DEFAULT_CDNOW = ROOT.parent / "shared" / "datasets" / "cdnow" / "CDNOW_master.txt"
LABELS = {"rfm": "RFM rules", "logistic": "Logistic regression", "xgboost": "XGBoost", "transformer": "Transformer"}


def cdnow_plan(horizon_days=273) -> Plan:
    return Plan(horizon_days=horizon_days,
                train_cutoffs=[day_to_ms(f"1997-{m:02d}-01") for m in range(4, 10)],
                test_cutoff=day_to_ms("1997-10-01"), data_end=day_to_ms("1998-07-01"),
                notes=["CDNOW: 18 months of data allow one 39-week horizon after a 39-week calibration period, "
                       "so training label windows (monthly cutoffs Apr-Sep 1997) overlap the test label window in "
                       "calendar time; they never share a customer with the test set."])


def table(results, seconds) -> str:
    head = ("| model | accuracy | macro-F1 | log loss | ECE | ROC AUC (OvR macro) | "
            + " | ".join(f"P/R/AUC {c}" for c in CLASSES) + " | train s |")
    lines = [head, "|" + "---|" * (7 + len(CLASSES))]
    for k, m in results.items():
        pc = " | ".join(f"{m['per_class'][c]['precision']:.3f} / {m['per_class'][c]['recall']:.3f} / "
                        f"{m['per_class'][c]['roc_auc_ovr']:.3f}" for c in CLASSES)
        lines.append(f"| {LABELS[k]} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['log_loss']:.4f} | "
                     f"{m['ece']:.4f} | {m['roc_auc_ovr_macro']:.3f} | {pc} | {seconds[k]:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cdnow", default=str(DEFAULT_CDNOW))
    ap.add_argument("--out", default=str(HERE / "reports"))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--models", default="rfm,logistic,xgboost,transformer")
    ap.add_argument("--transformer-epochs", type=int, default=12)
    ap.add_argument("--transformer-batch", type=int, default=1024)
    args = ap.parse_args(argv)
    t0 = time.time()
    ds = load_cdnow(args.cdnow)
    plan = cdnow_plan()
    tables = build_tables(ds, plan)
    print(f"data: {ds.summary()}\ntables: {tables.summary()}")
    kinds = [k for k in args.models.split(",") if k]
    fitted = fit_models(ds, tables, kinds, seed=args.seed, transformer_kwargs={
        "epochs": args.transformer_epochs, "batch": args.transformer_batch, "patience": 3})
    y = tables.test["label"].to_numpy()
    results = {k: evaluate(y, fitted[k]["proba_test"]) for k in kinds}
    seconds = {k: fitted[k]["seconds"] for k in kinds}
    md_table = table(results, seconds)
    print("\n" + md_table)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_confusion({LABELS[k]: results[k] for k in kinds}, out / "cdnow_confusion.png")
    plot_calibration(y, {LABELS[k]: fitted[k]["proba_test"] for k in kinds}, out / "cdnow_calibration.png")
    summ = tables.summary()
    metrics = {"data": ds.summary(), "plan": plan.describe(), "tables": summ, "results": results,
               "training_seconds": seconds, "seed": args.seed,
               "details": {k: fitted[k]["info"] for k in kinds if k in ("rfm", "xgboost")} | (
                   {"transformer": {kk: v for kk, v in fitted["transformer"]["info"].items() if kk != "history"}}
                   if "transformer" in kinds else {})}
    with open(out / "cdnow_metrics.json", "w") as f:
        json.dump(metrics, f, indent=2, default=float)

    best = min(kinds, key=lambda k: results[k]["log_loss"])
    pairs = [(a, b) for a, b in [("transformer", "xgboost"), ("xgboost", "logistic"), ("transformer", "logistic"),
                                 ("logistic", "rfm")] if a in kinds and b in kinds]
    diffs = {f"{a}-{b}": paired_bootstrap(y, fitted[a]["proba_test"], fitted[b]["proba_test"], args.seed)
             for a, b in pairs}
    metrics["log_loss_differences"] = diffs
    with open(out / "cdnow_metrics.json", "w") as f:
        json.dump(metrics, f, indent=2, default=float)
    lines = []
    for a, b in pairs:
        d = diffs[f"{a}-{b}"]
        sig = "lower" if d["hi"] < 0 else ("higher" if d["lo"] > 0 else "not distinguishable (CI contains 0)")
        lines.append(f"| {LABELS[a]} − {LABELS[b]} | {d['mean']:+.4f} | [{d['lo']:+.4f}, {d['hi']:+.4f}] | {sig} |")
    verdict = ""
    if "transformer-xgboost" in diffs:
        d = diffs["transformer-xgboost"]
        verdict = ("**The Transformer does not beat XGBoost**" if d["hi"] >= 0 else "**The Transformer beats XGBoost**")
        verdict += (f" on held-out log loss: difference {d['mean']:+.4f}, 95% paired-bootstrap CI "
                    f"[{d['lo']:+.4f}, {d['hi']:+.4f}]; macro-F1 {results['transformer']['macro_f1']:.3f} vs "
                    f"{results['xgboost']['macro_f1']:.3f}.")
    diff_table = ("| comparison (log loss) | difference | 95% CI | verdict |\n|---|---|---|---|\n" + "\n".join(lines))
    md = f"""# CDNOW evaluation: forward-looking customer segments

Generated by `/usr/bin/python3 python-export/evaluate.py` (`npm run evaluate`) in {time.time() - t0:.0f} s
(2 CPU threads); seed {args.seed}. Input: `CDNOW_master.txt` (sha256 `{ds.sources[0]['sha256']}`,
{ds.sources[0]['rows']} rows, {ds.summary()['customers']} customers, {ds.summary()['first_order'][:10]} .. {ds.summary()['last_order'][:10]}),
read from `../shared/datasets/cdnow/` (not copied into the repository).

## Task

- Features (python-export/features.json) at cutoff T from paid orders with ordered_at <= T; CDNOW rows are
  stamped at 12:00Z of their date and every row is one order (several rows on one day = one purchase day).
  CDNOW has no demographics, so `age_years` and `is_female` are missing (NaN) for every row.
- Label from orders in (T, T + 273 days] (39 weeks): `lapsing` (no order), `active`, `high_value`
  (horizon spend >= **{tables.threshold:.2f} USD**, the 80th percentile of positive horizon spend in the training rows).
- Held-out set: {summ['test']['rows']} customers (sha256 bucket < 0.2) at T = 1997-10-01 (the literature's
  39/39-week calibration/holdout split). Training: the other customers at monthly cutoffs
  1997-04-01 .. 1997-09-01 ({summ['train']['rows']} rows; {summ['validation']['rows']} validation rows for early stopping).
  CDNOW's 18 months allow only one non-overlapping 39-week horizon after a 39-week calibration period, so the
  training label windows overlap the test label window in calendar time (never in customers).
- Class counts: train {summ['train']['class_counts']}, held-out {summ['test']['class_counts']}.

## Results (held-out customers, T = 1997-10-01)

{md_table}

P/R/AUC = precision / recall / one-vs-rest ROC AUC per class. ECE = expected calibration error of the
top-label confidence (15 equal-width bins). Lowest log loss: **{LABELS[best]}**.

Paired bootstrap over held-out customers (1000 resamples) of the per-customer log-loss difference:

{diff_table}

{verdict}

- RFM rules: R, F, M quintile scores from the training rows (R on recency_days, F on purchase_days_all,
  M on spend_all); `lapsing` if R <= 2, `high_value` if R >= 3 and F >= 4 and M >= 4, else `active`. No learning
  beyond the quintiles; its probabilities are the training class frequencies of each rule segment
  (needed for log loss, AUC and ECE).
- Logistic regression: median imputation, log1p and standardisation (the same constants live in the ONNX graph).
- XGBoost: multi:softprob, depth 4, eta 0.05, early stopping on the validation customers.
- Transformer: 2 layers, d=32, 4 heads over the last 32 orders + an MLP over the tabular features, AdamW,
  early stopping on the validation customers.

![confusion matrices](cdnow_confusion.png)

![calibration](cdnow_calibration.png)

Full numbers (including confusion matrices and training details): `cdnow_metrics.json`.
"""
    (out / "cdnow.md").write_text(md)
    print(f"\nreport: {out / 'cdnow.md'} ({time.time() - t0:.0f}s)")


if __name__ == "__main__":
    main()
