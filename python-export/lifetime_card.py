#!/usr/bin/env python3
"""Adds the `lifetime` section (BG/NBD + Gamma-Gamma, segments/lifetime.py `lifetime_card`) to model
cards that were trained before training wrote it, without retraining anything: only model.json
changes (the ONNX files and golden fixtures stay as they are).

The shipped version 1 cards (trained by `train.py --demo`):
    /usr/bin/python3 python-export/lifetime_card.py --demo
which exports the same demo data as `train.py --demo` (`npm run demo:export -- --customers 10000
--seed 42 --anchor 2026-01-01`), checks its sha256 against each card's training_data.sources, rebuilds
the card's plan (test cutoff) and fits on the training customers before the test cutoff.

Other data: --data DIR --data-end YYYY-MM-DD --version N (the same arguments the cards were trained with).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from segments.data import day_to_ms, load_interface, ms_to_iso  # noqa: E402
from segments.dataset import rolling_plan  # noqa: E402
from segments.lifetime import currency_of_export, lifetime_card  # noqa: E402
from segments.pipeline import MODEL_NAMES, VERSION  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--demo", action="store_true", help="the shipped demo data (as train.py --demo)")
    src.add_argument("--data", help="directory with customers.csv and orders.csv (API export format)")
    ap.add_argument("--data-end", help="YYYY-MM-DD the cards were trained with (--demo: 2026-01-01)")
    ap.add_argument("--horizon-days", type=int, default=90)
    ap.add_argument("--train-cutoffs", type=int, default=4)
    ap.add_argument("--version", default=VERSION)
    ap.add_argument("--models-dir", default=str(ROOT / "models"))
    args = ap.parse_args(argv)

    if args.demo:
        data = Path(tempfile.mkdtemp(prefix="demo-export-"))
        cmd = ["npm", "run", "--silent", "demo:export", "--", "--customers", "10000", "--seed", "42",
               "--anchor", "2026-01-01", "--out", str(data)]
        print("$ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)
        data_end = args.data_end or "2026-01-01"
    else:
        data = Path(args.data)
        if not args.data_end:
            ap.error("--data-end is required with --data")
        data_end = args.data_end
    ds = load_interface(data)
    plan = rolling_plan(ds, args.horizon_days, day_to_ms(data_end), n_train_cutoffs=args.train_cutoffs)
    section = lifetime_card(ds, plan, currency_of_export(data))
    print(f"lifetime: {json.dumps({k: section[k] for k in ('r', 'alpha', 'a', 'b', 'p', 'q', 'v', 'customers')})}")
    hashes = {s["path"]: s["sha256"] for s in ds.sources}
    for name in MODEL_NAMES.values():
        path = Path(args.models_dir) / name / args.version / "model.json"
        if not path.exists():
            continue
        card = json.loads(path.read_text())
        trained = {s["path"]: s["sha256"] for s in card["training_data"]["sources"]}
        if trained != hashes:
            sys.exit(f"{path}: trained on other data (sha256 {trained}) than {data} ({hashes}); not changed")
        if card["task"]["test_cutoff"] != ms_to_iso(plan.test_cutoff):
            sys.exit(f"{path}: test cutoff {card['task']['test_cutoff']} differs from {ms_to_iso(plan.test_cutoff)}; not changed")
        card["lifetime"] = {**section, "added_by": "/usr/bin/python3 python-export/lifetime_card.py "
                            + " ".join(sys.argv[1:] if argv is None else argv)}
        path.write_text(json.dumps(card, indent=2))
        print(f"wrote the lifetime section of {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
