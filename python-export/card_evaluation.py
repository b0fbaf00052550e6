#!/usr/bin/env python3
"""Adds the "evaluation" key (calibration bins and confusion matrix on the held-out customers) to the
shipped version-1 model cards, by evaluating each shipped model.onnx — unchanged — on the demo
held-out customers it was evaluated on at training time. New versions get the key from train.py.

    /usr/bin/python3 python-export/card_evaluation.py [--models-dir models] [--version 1]

Rebuilds the demo data exactly as `train.py --demo` does (`npm run demo:export -- --customers 10000
--seed 42 --anchor 2026-01-01`), the same rolling plan and held-out split, runs each ONNX file with
onnxruntime-node (src/models/predict-rows.ts: the runtime the API serves it with), and refuses to
write unless the result reproduces the card's own held-out confusion matrix and accuracy: that proves
the rows are the held-out customers the card's metrics describe. Only the "evaluation" key changes,
and "baselines" is added when the card has none: the same held-out metrics of the majority-class and
RFM-rules baselines, fitted on the card's training rows exactly as train.py does for new versions.

With --decision-rule it also gives each card the class weights of the served decision rule
(segment = argmax_k(p_k · w_k), src/scoring/decision.ts), tuned exactly as train.py tunes them for
new versions (segments.decision.tune_weights: maximum validation macro-F1) on the demo VALIDATION
customers, from the same ONNX file's own outputs; never on the held-out customers. The shipped
versions keep their probabilities as the ONNX file outputs them (no "calibration" key: their golden
fixtures and every served probability stay the same), so the weights are tuned on those. The card's
plain-argmax metrics move to "metrics_held_out_argmax" and "metrics_held_out" becomes the served
rule's, as train.py writes them.
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

import numpy as np  # noqa: E402

from segments.data import day_to_ms, load_interface  # noqa: E402
from segments.dataset import build_tables, rolling_plan, sequences_for  # noqa: E402
from segments.features import FEATURES, SEQ_LEN  # noqa: E402
from segments.decision import tune_weights, weights_of, with_class_keys  # noqa: E402
from segments.labels import CLASSES  # noqa: E402
from segments.metrics import evaluate  # noqa: E402
from segments.pipeline import card_evaluation, fit_models  # noqa: E402

DEMO = {"customers": 10000, "seed": 42, "anchor": "2026-01-01"}


def demo_tables(tmp: Path):
    out = tmp / "demo"
    cmd = ["npm", "run", "--silent", "demo:export", "--", "--customers", str(DEMO["customers"]), "--seed", str(DEMO["seed"]),
           "--anchor", DEMO["anchor"], "--out", str(out)]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    ds = load_interface(out)
    plan = rolling_plan(ds, 90, day_to_ms(DEMO["anchor"]), n_train_cutoffs=4)
    return ds, build_tables(ds, plan)


def predict(model_dir: Path, X, seqs, tmp: Path) -> np.ndarray:
    rows = {"features": [[None if np.isnan(v) else float(v) for v in r] for r in X]}
    if seqs is not None:
        rows["sequences"] = seqs
    rows_file, out_file = tmp / f"{model_dir.parent.name}-rows.json", tmp / f"{model_dir.parent.name}-out.json"
    rows_file.write_text(json.dumps(rows))
    subprocess.run(["node", "--import", "tsx", "src/models/predict-rows.ts", str(model_dir), str(rows_file), str(out_file)],
                   cwd=ROOT, check=True)
    return np.asarray(json.loads(out_file.read_text())["probabilities"], np.float64)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models-dir", default=str(ROOT / "models"))
    ap.add_argument("--version", default="1")
    ap.add_argument("--dry-run", action="store_true", help="check and print, write nothing")
    ap.add_argument("--decision-rule", action="store_true",
                    help="also tune the class weights of the decision rule on the demo validation customers and write them")
    args = ap.parse_args(argv)
    models = Path(args.models_dir)
    tmp = Path(tempfile.mkdtemp(prefix="card-evaluation-"))
    ds, tables = demo_tables(tmp)
    test = tables.test
    X = test[FEATURES].to_numpy(np.float64)
    y = test["label"].to_numpy()
    seq, mask = sequences_for(ds, test, SEQ_LEN)
    seqs = [seq[i, :int(mask[i].sum())].tolist() for i in range(len(test))]
    valid = tables.valid
    Xv, yv = valid[FEATURES].to_numpy(np.float64), valid["label"].to_numpy()
    if args.decision_rule:
        sv, mv = sequences_for(ds, valid, SEQ_LEN)
        seqs_v = [sv[i, :int(mv[i].sum())].tolist() for i in range(len(valid))]
        cutoffs = ", ".join(t[:10] for t in tables.plan.describe()["train_cutoffs"])
    print(f"held-out: {len(y)} customers at {tables.plan.describe()['test_cutoff']}", flush=True)
    fitted = fit_models(ds, tables, ["rfm", "majority"], log=lambda *_: None)
    baselines = {k: evaluate(y, fitted[k]["proba_test"]) for k in ("majority", "rfm")}
    for card_file in sorted(models.glob(f"*/{args.version}/model.json")):
        card = json.loads(card_file.read_text())
        if card.get("smoke"):
            continue
        if not str(card.get("training_data", {}).get("name", "")).startswith("demo (npm run demo:export"):
            print(f"{card_file}: not trained on the demo data, skipped")
            continue
        p = predict(card_file.parent, X, seqs if card["kind"] == "transformer" else None, tmp)
        got = evaluate(y, p)
        # Plain argmax of the ONNX output: what a card without a decision rule reports as metrics_held_out.
        want = card.get("metrics_held_out_argmax", card["metrics_held_out"])
        if got["confusion_matrix"] != want["confusion_matrix"] or abs(got["accuracy"] - want["accuracy"]) > 1e-9 \
                or abs(got["log_loss"] - want["log_loss"]) > 1e-4 or got["n"] != want["n"]:
            raise SystemExit(f"{card_file}: the shipped ONNX on the rebuilt held-out set gives confusion {got['confusion_matrix']}, "
                             f"accuracy {got['accuracy']}, log loss {got['log_loss']}; the card says {want['confusion_matrix']}, "
                             f"{want['accuracy']}, {want['log_loss']}: not the same held-out data, nothing written")
        print(f"{card['name']} {card['version']}: confusion matrix and accuracy reproduced "
              f"(log loss {got['log_loss']:.6f} vs card {want['log_loss']:.6f})", flush=True)
        rule = None
        if args.decision_rule:
            if card.get("calibration"):
                raise SystemExit(f"{card_file}: the card recalibrates its probabilities; tune its weights with train.py")
            pv = predict(card_file.parent, Xv, seqs_v if card["kind"] == "transformer" else None, tmp)
            rule = tune_weights(pv, yv, f"demo validation customers ({len(yv)} rows at the training cutoffs {cutoffs}; "
                                        "never the held-out customers), the ONNX probabilities as served (no recalibration)")
            rule["rule"] = ("segment = argmax_k(p_k · w_k) over the ONNX probabilities (this version has no "
                            "recalibration); probability = p of that segment")
            rule["produced_by"] = ("/usr/bin/python3 python-export/card_evaluation.py --decision-rule (the shipped model.onnx "
                                   "run by onnxruntime-node on the rebuilt demo validation customers)")
            ruled = evaluate(y, p, weights=rule["weights_list"])
            print(f"  decision rule: weights {[round(w, 4) for w in rule['weights_list']]}, validation macro-F1 "
                  f"{rule['validation_macro_f1']['argmax']:.4f} -> {rule['validation_macro_f1']['rule']:.4f}; held-out "
                  f"macro-F1 {got['macro_f1']:.4f} -> {ruled['macro_f1']:.4f}, accuracy {got['accuracy']:.4f} -> "
                  f"{ruled['accuracy']:.4f}", flush=True)
        elif card.get("decision_rule"):
            rule = {**card["decision_rule"], "weights_list": weights_of(card["decision_rule"], CLASSES)}
        evaluation = card_evaluation(y, p, tables.plan, weights=rule["weights_list"] if rule else None, produced_by=(
            "/usr/bin/python3 python-export/card_evaluation.py (the shipped model.onnx run by onnxruntime-node on the "
            "rebuilt demo held-out customers; reproduces metrics_held_out)"))
        if args.dry_run:
            continue
        if args.decision_rule:
            card["decision_rule"] = with_class_keys(rule, CLASSES)
            card["metrics_held_out"] = ruled
            card["metrics_held_out_argmax"] = got
            card["metrics_note"] = ("metrics_held_out: the ONNX probabilities (version 1 has no recalibration), segment by "
                                    "the decision rule (what the API serves); metrics_held_out_argmax: the same "
                                    "probabilities, plain argmax.")
        card["evaluation"] = evaluation
        card.setdefault("baselines", baselines)
        card_file.write_text(json.dumps(card, indent=2) + ("\n" if card_file.read_text().endswith("\n") else ""))
        print(f"  wrote {card_file} (evaluation)")


if __name__ == "__main__":
    main()
