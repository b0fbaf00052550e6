#!/usr/bin/env python3
"""Train the segment models and write models/<name>/<version>/ (model.onnx, model.json, golden.json, features.json).

Shipped models, version 1 (demo data exported by the TypeScript generator; `npm run train -- --demo`):
    /usr/bin/python3 python-export/train.py --demo
which runs `npm run demo:export -- --customers 10000 --seed 42 --anchor 2026-01-01 --out <tmp>` and then
trains on <tmp> with --data-end 2026-01-01. Equivalent by hand:
    npm run demo:export -- --customers 10000 --seed 42 --anchor 2026-01-01 --out /tmp/demo
    /usr/bin/python3 python-export/train.py --data /tmp/demo --data-end 2026-01-01

Smoke run on the committed fixture (CI; writes to a temporary directory unless --out is given):
    /usr/bin/python3 python-export/train.py --smoke

From the shop's database (`npm run train`, src/training/cli.ts): the TypeScript side exports the paid
orders and customers into a temporary --data folder and describes the source in --source-json; this
writes the next free version of each model, with baselines and the quality gate's verdict in the card.
Too little data exits 3 with a message saying what is missing.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from segments.data import day_to_ms, load_cdnow, load_interface  # noqa: E402
from segments.dataset import DefinitionError, InsufficientData, build_tables, check_enough_data, rolling_plan  # noqa: E402
from segments.pipeline import MODEL_NAMES, VERSION, fit_decision_rules, fit_models, next_version, write_model  # noqa: E402
from segments.metrics import evaluate  # noqa: E402
from segments.lifetime import currency_of_export, lifetime_card  # noqa: E402

FIXTURE = ROOT / "test" / "fixtures" / "models"
GOLDEN_AS_OF = "2026-01-01"
GOLDEN_IDS = [f"fx-{i:04d}" for i in range(1, 21)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--data", help="directory with customers.csv and orders.csv (API export format)")
    src.add_argument("--demo", action="store_true",
                     help="export the demo data with `npm run demo:export` (see --demo-*) and train on it")
    src.add_argument("--cdnow", help="path of CDNOW_master.txt (for experiments; the shipped models use --data)")
    ap.add_argument("--demo-customers", type=int, default=10000)
    ap.add_argument("--demo-seed", type=int, default=42)
    ap.add_argument("--demo-anchor", default="2026-01-01")
    ap.add_argument("--smoke", action="store_true", help="tiny fast run on the committed fixture (CI)")
    ap.add_argument("--horizon-days", type=int, default=90)
    ap.add_argument("--data-end", help="YYYY-MM-DD: end of the observed data (default: the UTC day after the last order)")
    ap.add_argument("--train-cutoffs", type=int, default=4, help="number of rolling training cutoffs")
    ap.add_argument("--models", default="xgboost,logistic,transformer")
    ap.add_argument("--out", help="output directory (default: <repo>/models; --smoke: a temporary directory)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--command", help="command line recorded in the model cards (default: this invocation)")
    ap.add_argument("--version", help="version folder to write: a number, or 'next' (default: next; --demo: the shipped version 1)")
    ap.add_argument("--min-customers", type=int, default=500,
                    help="refuse with fewer customers having a paid order before the test cutoff (default 500)")
    ap.add_argument("--source-json", help="JSON file describing the data source, recorded in the cards (training_data.source)")
    ap.add_argument("--result-json", help="write what was trained (versions, folders, gate verdicts) to this JSON file")
    ap.add_argument("--quick", action="store_true", help="the smoke run's small model settings on any data (tests)")
    ap.add_argument("--high-value-by", choices=["auto", "spend", "orders"], default="auto",
                    help="how high_value is defined: spend (threshold in currency), orders (threshold in paid orders), "
                         "auto (default): spend when every paid order in the label windows has an amount, else orders")
    ap.add_argument("--shuffle-labels", action="store_true",
                    help="permute the training labels (a check that the quality gate refuses a model that learned nothing)")
    args = ap.parse_args(argv)
    try:
        return run(ap, args, argv)
    except InsufficientData as e:
        print(f"train: {e}", file=sys.stderr)
        if argv is not None:
            raise
        sys.exit(3)
    except DefinitionError as e:
        print(f"train: {e}", file=sys.stderr)
        if argv is not None:
            raise
        sys.exit(2)


def run(ap, args, argv):

    t_start = time.time()
    export_dir = None  # where the orders' currency is read for the lifetime section
    if args.smoke:
        ds = load_interface(FIXTURE)
        export_dir = FIXTURE
        data_end = args.data_end or "2026-04-01"
        plan = rolling_plan(ds, 90, day_to_ms(data_end), n_train_cutoffs=3, min_history_days=60)
    else:
        if args.demo:
            demo_dir = Path(tempfile.mkdtemp(prefix="demo-export-"))
            cmd = ["npm", "run", "--silent", "demo:export", "--", "--customers", str(args.demo_customers),
                   "--seed", str(args.demo_seed), "--anchor", args.demo_anchor, "--out", str(demo_dir)]
            print("$ " + " ".join(cmd), flush=True)
            subprocess.run(cmd, cwd=ROOT, check=True)
            ds = load_interface(demo_dir)
            export_dir = demo_dir
            ds.name = f"demo (npm run demo:export -- --customers {args.demo_customers} --seed {args.demo_seed} --anchor {args.demo_anchor})"
            args.data_end = args.data_end or args.demo_anchor
        elif args.cdnow:
            ds = load_cdnow(args.cdnow)
        elif args.data:
            ds = load_interface(args.data)
            export_dir = args.data
        else:
            ap.error("one of --demo, --data, --cdnow or --smoke is required")
        if args.source_json:
            ds.name = json.loads(Path(args.source_json).read_text()).get("name", ds.name)
        paid = ds.orders[ds.orders["paid"]]
        if len(paid) == 0:
            raise InsufficientData("not enough data to train: there are no paid orders")
        data_end_ms = day_to_ms(args.data_end) if args.data_end else (int(paid["t_ms"].max()) // 86_400_000 + 1) * 86_400_000
        if not args.demo:
            enough = check_enough_data(ds, args.horizon_days, data_end_ms, args.min_customers)
            print(f"data check: {enough}", flush=True)
        plan = rolling_plan(ds, args.horizon_days, data_end_ms, n_train_cutoffs=args.train_cutoffs)
    out = Path(args.out) if args.out else (Path(tempfile.mkdtemp(prefix="models-smoke-")) if args.smoke else ROOT / "models")
    command = args.command or ("/usr/bin/python3 python-export/train.py " + " ".join(sys.argv[1:] if argv is None else argv))

    print(f"data: {ds.summary()}", flush=True)
    tables = build_tables(ds, plan, args.high_value_by)
    print(f"plan: {plan.describe()}", flush=True)
    print(f"tables: {tables.summary()}", flush=True)
    unit = "paid orders" if tables.definition == "orders" else "(currency)"
    print(f"high_value: at least {tables.threshold:g} {unit} in the next {plan.horizon_days} days — "
          f"{tables.definition_reason}", flush=True)
    if args.shuffle_labels:
        import numpy as np
        rng = np.random.RandomState(args.seed)
        for part in (tables.train, tables.valid):
            part["label"] = rng.permutation(part["label"].to_numpy())
        print("training labels shuffled (--shuffle-labels)", flush=True)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    n_rows = len(tables.train) + len(tables.valid)
    print(f"training {', '.join(kinds)} on {n_rows} rows, after the baselines majority and rfm"
          + (" — the Transformer is by far the slowest: one progress line per epoch (up to "
             f"{2 if (args.smoke or args.quick) else 30}, early stopping)" if "transformer" in kinds else ""), flush=True)
    from segments.xgb_onnx import V1_PARAMS
    fitted = fit_models(ds, tables, kinds + ["rfm", "majority"], seed=args.seed, smoke=args.smoke or args.quick,
                        xgb_params=V1_PARAMS if args.demo else None)
    fit_decision_rules(fitted, tables)
    y = tables.test["label"].to_numpy()
    print(f"\nheld-out ({len(y)} rows, test cutoff {plan.describe()['test_cutoff']}):")
    print(f"{'model':<12} {'acc':>6} {'macroF1':>8} {'logloss':>8} {'AUC':>6} {'ECE':>6} {'seconds':>8}")
    for k, r in fitted.items():
        m = evaluate(y, r["proba_test"])
        print(f"{k:<12} {m['accuracy']:6.3f} {m['macro_f1']:8.3f} {m['log_loss']:8.3f} {m['roc_auc_ovr_macro']:6.3f} "
              f"{m['ece']:6.3f} {r['seconds']:8.1f}")
    extra = {"smoke": True} if args.smoke else {}
    if args.shuffle_labels:
        extra["shuffled_labels"] = True
    source = json.loads(Path(args.source_json).read_text()) if args.source_json else None
    baselines = {"majority": fitted["majority"], "rfm": fitted["rfm"]}
    # Lifetime value (BG/NBD + Gamma-Gamma), one fit per training run, in every card it writes.
    currency = (source or {}).get("currency") or (currency_of_export(export_dir) if export_dir else None) or (
        "USD" if args.cdnow else None)
    extra["lifetime"] = lifetime_card(ds, plan, currency)
    lt = extra["lifetime"]
    print(f"lifetime: BG/NBD r={lt['r']:.4f} alpha={lt['alpha']:.4f} a={lt['a']:.4f} b={lt['b']:.4f}; "
          f"Gamma-Gamma p={lt['p']:.4f} q={lt['q']:.4f} v={lt['v']:.4f} ({lt['customers']} training customers)", flush=True)
    result = {"out": str(out), "seconds": None, "models": {}}
    for k in kinds:
        name = MODEL_NAMES[k]
        version = args.version if args.version and args.version != "next" else (
            VERSION if args.demo and not args.version else next_version(out, name))
        card = write_model(k, fitted[k]["model"], fitted[k], tables, ds, out, FIXTURE, GOLDEN_AS_OF, GOLDEN_IDS,
                           args.seed, command, extra_card=extra or None, version=version,
                           baselines=None if args.demo else baselines,
                           training_extra={"source": source, **({"currency": source["currency"]} if source.get("currency") else {})}
                           if source else None)
        gate = card.get("gate")
        if gate:
            verdict = "passes the quality gate" if gate["passed"] else "fails the quality gate (stays a candidate)"
            print(f"{name} version {version} {verdict}: " + "; ".join(gate["reasons"]), flush=True)
        result["models"][name] = {"version": version, "dir": str(out / name / version), "kind": k,
                                  "gate": gate, "log_loss": card["metrics_held_out"]["log_loss"],
                                  "seconds": round(fitted[k]["seconds"], 1),
                                  "high_value": card["high_value_threshold"]}
    result["seconds"] = round(time.time() - t_start, 1)
    if args.result_json:
        Path(args.result_json).write_text(json.dumps(result, indent=2))
    print(f"\ndone in {time.time() - t_start:.1f}s -> {out}")
    return out


if __name__ == "__main__":
    main()
