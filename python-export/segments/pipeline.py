"""Fit, evaluate and export the segment models (shared by train.py and evaluate.py)."""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnx
import pandas as pd

from . import logistic_onnx, transformer, xgb_onnx
from .data import DAY_MS, Dataset, ms_to_iso
from .dataset import Tables, sequences_for
from .features import FEATURES, SEQ_FEATURES, SEQ_LEN, SPEC, SPEC_PATH, compute_features, compute_sequences
from .labels import CLASSES, HIGH_VALUE_QUANTILE, MIN_ORDER_THRESHOLD
from .metrics import MajorityClass, RFMRules, evaluate, evaluation_summary, quality_gate

MODEL_NAMES = {"xgboost": "xgboost-segment", "logistic": "logistic-segment", "transformer": "transformer-segment"}
VERSION = "1"  # the shipped (demo) version; training from a database writes the next free version


def fit_models(ds: Dataset, tables: Tables, which, seed=42, smoke=False, log=print, transformer_kwargs=None,
               xgb_params=None) -> dict:
    """Returns {kind: {"model": ..., "proba_test": ndarray, "seconds": float, "info": dict}}.
    xgb_params: overrides of xgb_onnx.DEFAULT_PARAMS (train.py --demo: the shipped version's)."""
    X, y = tables.xy("train")
    Xv, yv = tables.xy("valid")
    Xt, _ = tables.xy("test")
    out = {}
    if "majority" in which:
        t0 = time.time()
        r = MajorityClass().fit(X, y)
        out["majority"] = {"model": r, "proba_test": r.predict_proba(Xt), "seconds": time.time() - t0,
                           "info": r.describe()}
    if "rfm" in which:
        t0 = time.time()
        r = RFMRules().fit(X, y)
        out["rfm"] = {"model": r, "proba_test": r.predict_proba(Xt), "seconds": time.time() - t0,
                      "info": r.describe()}
    if "logistic" in which:
        log("  logistic: training…")
        t0 = time.time()
        pre, clf = logistic_onnx.train(X, y, seed=seed)
        out["logistic"] = {"model": (pre, clf), "proba_test": logistic_onnx.predict_proba(pre, clf, Xt),
                           "proba_valid": logistic_onnx.predict_proba(pre, clf, Xv),
                           "seconds": time.time() - t0,
                           "info": {"estimator": "sklearn LogisticRegression(lbfgs, multinomial, C=1.0, max_iter=5000)",
                                    "preprocessing": pre.describe(FEATURES)}}
        log(f"  logistic: {out['logistic']['seconds']:.1f}s")
    if "xgboost" in which:
        log("  xgboost: training…")
        t0 = time.time()
        kw = {"num_boost_round": 150, "early_stopping_rounds": 10, "params": {"eta": 0.2}} if smoke else {}
        if xgb_params:
            kw["params"] = {**kw.get("params", {}), **xgb_params}
        booster, info = xgb_onnx.train(X, y, Xv, yv, seed=seed, **kw)
        # Total gain per feature (features never split on are absent): shows what the trees used.
        info["feature_importance_gain"] = {FEATURES[int(k[1:])]: round(float(v), 6)
                                           for k, v in booster.get_score(importance_type="gain").items()}
        out["xgboost"] = {"model": booster, "proba_test": xgb_onnx.predict_proba(booster, Xt),
                          "proba_valid": xgb_onnx.predict_proba(booster, Xv),
                          "seconds": time.time() - t0, "info": info}
        log(f"  xgboost: {out['xgboost']['seconds']:.1f}s, {info['best_iteration'] + 1} rounds")
    if "transformer" in which:
        log("  transformer: building order sequences, then training (one line per epoch)…")
        t0 = time.time()
        s, m = sequences_for(ds, tables.train, SEQ_LEN)
        sv, mv = sequences_for(ds, tables.valid, SEQ_LEN)
        st, mt = sequences_for(ds, tables.test, SEQ_LEN)
        kw = {"epochs": 2 if smoke else 30, **(transformer_kwargs or {})}
        model, info = transformer.train(X, s, m, y, Xv, sv, mv, yv, seed=seed, log=log, **kw)
        out["transformer"] = {"model": model, "proba_test": transformer.predict_proba(model, Xt, st, mt),
                              "proba_valid": transformer.predict_proba(model, Xv, sv, mv),
                              "seconds": time.time() - t0, "info": info}
        log(f"  transformer: {out['transformer']['seconds']:.1f}s")
    return out


def fit_decision_rules(fitted: dict, tables: Tables, log=print) -> None:
    """Per fitted model (those with validation predictions): recalibration on the validation customers
    of the latest training cutoff (the latest complete label window before the test cutoff), then
    class weights maximising validation macro-F1 over the calibrated probabilities of all validation
    rows. Adds res["calibration"], res["decision_rule"], res["proba_test_served"] (calibrated)."""
    from .decision import calibrate, fit_calibration, tune_weights
    valid = tables.valid
    yv = valid["label"].to_numpy(np.int64)
    last = int(max(tables.plan.train_cutoffs))
    latest = valid["cutoff_ms"].to_numpy(np.int64) == last
    if latest.sum() < 50 or len(np.unique(yv[latest])) < 2:
        latest = np.ones(len(yv), dtype=bool)  # too few rows at the latest cutoff: all validation rows
    cal_on = (f"validation customers at the latest training cutoff {ms_to_iso(last)[:10]} "
              f"(label window ends {ms_to_iso(last + tables.plan.horizon_days * DAY_MS)[:10]}), {int(latest.sum())} rows"
              if not latest.all() or len(tables.plan.train_cutoffs) == 1 else f"all {len(yv)} validation rows")
    for kind, res in fitted.items():
        if "proba_valid" not in res:
            continue
        cal = fit_calibration(res["proba_valid"][latest], yv[latest], cal_on)
        pv = calibrate(res["proba_valid"], cal)
        rule = tune_weights(pv, yv, f"validation customers ({len(yv)} rows at the training cutoffs "
                                    f"{', '.join(ms_to_iso(t)[:10] for t in tables.plan.train_cutoffs)}; "
                                    "never the held-out customers), calibrated probabilities")
        res["calibration"], res["decision_rule"] = cal, rule
        res["proba_test_raw"] = res["proba_test"]
        res["proba_test_served"] = calibrate(res["proba_test"], cal)
        log(f"  {kind}: temperature {cal['temperature']:.3f}, shift {[round(v, 3) for v in cal['log_prior_shift']]}, "
            f"weights {[round(v, 3) for v in rule['weights_list']]} (validation macro-F1 "
            f"{rule['validation_macro_f1']['argmax']:.3f} -> {rule['validation_macro_f1']['rule']:.3f})")


def _sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _json_num(a):
    a = np.asarray(a, np.float64)
    return [None if np.isnan(v) else float(v) for v in a.ravel()] if a.ndim == 1 else [_json_num(r) for r in a]


def onnx_bytes(kind, fitted, n_features) -> bytes:
    if kind == "xgboost":
        return xgb_onnx.convert(fitted, n_features, FEATURES).SerializeToString()
    if kind == "logistic":
        return logistic_onnx.convert(*fitted, n_features).SerializeToString()
    if kind == "transformer":
        return transformer.export(fitted, n_features)
    raise ValueError(kind)


def io_signature(model_bytes: bytes) -> dict:
    m = onnx.load_from_string(model_bytes)

    def shape(vi):
        return [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]

    def dtype(vi):
        return {1: "float32", 7: "int64", 9: "bool", 11: "float64"}[vi.type.tensor_type.elem_type]

    inits = {i.name for i in m.graph.initializer}
    return {
        "inputs": [{"name": i.name, "type": dtype(i), "shape": shape(i)} for i in m.graph.input if i.name not in inits],
        "outputs": [{"name": o.name, "type": dtype(o), "shape": shape(o)} for o in m.graph.output],
        "opset": {(o.domain or "ai.onnx"): o.version for o in m.opset_import},
        "ir_version": m.ir_version,
    }


def golden_rows(golden_ds: Dataset, as_of_ms: int, ids):
    feats = compute_features(golden_ds.orders, golden_ds.customers, as_of_ms, ids)
    seq, mask = compute_sequences(golden_ds.orders, as_of_ms, ids, SEQ_LEN)
    return feats, seq, mask


def _raw_rows(directory: Path, ids):
    c = pd.read_csv(directory / "customers.csv", dtype=str, keep_default_na=False)
    o = pd.read_csv(directory / "orders.csv", dtype=str, keep_default_na=False)
    c = c[c["customer_id"].isin(ids)].set_index("customer_id")
    return {cid: {"customer": {"customer_id": cid, **c.loc[cid].to_dict()},
                  "orders": o[o["customer_id"] == cid].to_dict(orient="records")} for cid in ids}


def card_classes(tables: Tables) -> list:
    """The spec's class definitions; by order count (logs without amounts) they say so instead."""
    by_orders = {
        "active": "at least one paid order in (T, T+H] and fewer than threshold paid orders.",
        "high_value": (f"at least threshold paid orders in (T, T+H]; threshold = max({MIN_ORDER_THRESHOLD}, ceil(80th percentile "
                       "(numpy linear interpolation) of the positive horizon order counts of the training rows)), recorded "
                       "in the model card. Defined by order count, not spend: high_value_threshold.why says why."),
    }
    out = []
    for c in SPEC["labels"]["classes"]:
        c = dict(c)
        if tables.definition == "orders" and c["key"] in by_orders:
            c["definition"] = by_orders[c["key"]]
        if c["key"] == "high_value":
            c["threshold"] = tables.threshold
            c["threshold_unit"] = "orders" if tables.definition == "orders" else "currency"
        out.append(c)
    return out


def high_value_card(tables: Tables) -> dict:
    if tables.definition == "orders":
        return {"value": tables.threshold, "unit": "orders", "definition": "orders",
                "rule": (f"max({MIN_ORDER_THRESHOLD}, ceil({HIGH_VALUE_QUANTILE:.0f}th percentile of positive horizon "
                         "paid-order counts)), training rows"),
                "why": tables.definition_reason}
    return {"value": tables.threshold, "unit": "currency", "definition": "spend",
            "rule": f"{HIGH_VALUE_QUANTILE:.0f}th percentile of positive horizon spend, training rows",
            "why": tables.definition_reason}


def next_version(out_dir: Path, name: str) -> str:
    """The next free version folder of a model (Triton layout: positive integers)."""
    d = out_dir / name
    versions = [int(p.name) for p in d.iterdir() if p.is_dir() and p.name.isdigit()] if d.exists() else []
    return str(max(versions, default=0) + 1)


def card_evaluation(y_test, proba_test, plan, produced_by: str | None = None, weights=None) -> dict:
    """The card's "evaluation" key (calibration bins and confusion matrix on the held-out customers),
    served by the API as ModelInfo.evaluation."""
    return {"held_out": f"held-out customers (never trained on) at the test cutoff {ms_to_iso(plan.test_cutoff)}, "
                        f"labels from the following {plan.horizon_days} days",
            **({"produced_by": produced_by} if produced_by else {}),
            **evaluation_summary(y_test, proba_test, weights=weights)}


def write_model(kind, fitted, res, tables: Tables, ds: Dataset, out_dir: Path, golden_dir: Path,
                golden_as_of: str, golden_ids, seed: int, command: str, extra_card=None, log=print,
                version: str = VERSION, baselines: dict | None = None, training_extra: dict | None = None):
    """Writes out_dir/<name>/<version>/ — into a temporary folder first, renamed when complete, so a
    server polling the repository never loads a half-written version."""
    name = MODEL_NAMES[kind]
    final = out_dir / name / version
    d = out_dir / name / f".tmp-{version}-{int(time.time() * 1000)}"
    d.mkdir(parents=True, exist_ok=True)
    model_bytes = onnx_bytes(kind, fitted, len(FEATURES))
    (d / "model.onnx").write_bytes(model_bytes)
    shutil.copyfile(SPEC_PATH, d / "features.json")
    sig = io_signature(model_bytes)

    # Golden fixtures from the committed fixture dataset (synthetic, not CDNOW).
    from .data import day_to_ms, load_interface
    gds = load_interface(golden_dir)
    as_of_ms = day_to_ms(golden_as_of)
    feats, seq, mask = golden_rows(gds, as_of_ms, golden_ids)
    Xg = feats[FEATURES].to_numpy(np.float64)
    raw = _raw_rows(golden_dir, golden_ids)
    golden = {"model": name, "as_of": ms_to_iso(as_of_ms), "as_of_ms": as_of_ms,
              "source": {"customers_csv": "test/fixtures/models/customers.csv",
                         "orders_csv": "test/fixtures/models/orders.csv",
                         "sha256": {s["path"].split("/")[-1]: s["sha256"] for s in gds.sources}},
              "feature_names": FEATURES, "class_keys": CLASSES,
              "feature_tolerance": 1e-9}
    if kind == "xgboost":
        p = xgb_onnx.predict_proba(fitted, Xg)
        margins = fitted.predict(xgb_onnx.dmatrix(Xg), output_margin=True)
        contribs = xgb_onnx.pred_contribs(fitted, Xg)
        golden["probability_tolerance"] = 1e-5
        golden["notes"] = ("probabilities: xgboost Booster.predict (float32 inputs); margins: output_margin=True; "
                           "shap: Booster.predict(pred_contribs=True) per class, F feature values then the bias "
                           "(last entry); each class's entries sum to its margin.")
    elif kind == "logistic":
        p = logistic_onnx.predict_proba(*fitted, Xg)
        golden["probability_tolerance"] = 1e-5
        golden["notes"] = "probabilities: scikit-learn predict_proba in float64 on the same preprocessing."
    else:
        p = transformer.predict_proba(fitted, Xg, seq, mask)
        golden["probability_tolerance"] = 1e-4
        golden["notes"] = ("probabilities: PyTorch eval mode (float32). sequence/mask: the raw token features "
                           f"{SEQ_FEATURES}, padded to {SEQ_LEN}.")
    rows = []
    for i, cid in enumerate(golden_ids):
        r = {"customer_id": cid, **raw[cid], "features": _json_num(Xg[i]),
             "probabilities": [float(v) for v in p[i]], "label": int(np.argmax(p[i]))}
        if kind == "xgboost":
            r["margins"] = [float(v) for v in margins[i]]
            r["shap"] = {c: [float(v) for v in contribs[i, k]] for k, c in enumerate(CLASSES)}
        if kind == "transformer":
            n = int(mask[i].sum())
            r["sequence"] = seq[i, :n].tolist()
            r["mask_length"] = n
        rows.append(r)
    golden["customers"] = rows
    with open(d / "golden.json", "w") as f:
        json.dump(golden, f, indent=1)

    y_test = tables.test["label"].to_numpy()
    decision_keys = {}
    served_weights = None
    if res.get("decision_rule"):
        # Served = calibrated probabilities + the weighted argmax; the card also shows plain argmax
        # (same probabilities) and the raw ONNX output.
        from .decision import weights_of, with_class_keys
        p_served = res["proba_test_served"]
        served_weights = weights_of(res["decision_rule"], CLASSES)
        metrics = evaluate(y_test, p_served, weights=served_weights)
        decision_keys = {
            "calibration": res["calibration"],
            "decision_rule": with_class_keys(res["decision_rule"], CLASSES),
            "metrics_held_out_argmax": evaluate(y_test, p_served),
            "metrics_held_out_uncalibrated": evaluate(y_test, res["proba_test_raw"]),
            "metrics_note": ("metrics_held_out: calibrated probabilities, segment by the decision rule (what the API "
                             "serves); metrics_held_out_argmax: the same probabilities, plain argmax; "
                             "metrics_held_out_uncalibrated: the ONNX output, plain argmax."),
        }
    else:
        p_served = res["proba_test"]
        metrics = evaluate(y_test, p_served)
    plan = tables.plan
    baseline_metrics, gate = {}, None
    if baselines:
        baseline_metrics = {k: evaluate(y_test, b["proba_test"]) for k, b in baselines.items()}
        gate = quality_gate(y_test, p_served, {k: b["proba_test"] for k, b in baselines.items()}, seed)
        gate["baseline_details"] = {k: b["info"] for k, b in baselines.items()}
    card = {
        "name": name,
        "version": version,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kind": kind,
        "description": {
            "xgboost": "XGBoost multiclass (multi:softprob) exported by our converter to ai.onnx.ml TreeEnsembleClassifier.",
            "logistic": "Multinomial logistic regression with imputation, log1p and standardisation inside the ONNX graph.",
            "transformer": "Sequence Transformer over the last orders plus the tabular features (PyTorch, torch.onnx.export).",
        }[kind],
        "produced_by": command,
        "training_data": {**ds.summary(), **tables.summary(), **(training_extra or {})},
        "task": {**plan.describe(), "label_window": "(T, T + horizon_days * DAY_MS]",
                 "feature_window": "paid orders with ordered_at <= T"},
        "classes": card_classes(tables),
        "high_value_threshold": high_value_card(tables),
        "features": {"spec_file": "features.json", "spec_version": SPEC["spec_version"], "ordered": FEATURES},
        "onnx": {"file": "model.onnx", "sha256": _sha256(model_bytes), "bytes": len(model_bytes), **sig},
        "missing_values": {
            "xgboost": "NaN is passed to the trees; every split routes missing values along XGBoost's learned default direction (nodes_missing_value_tracks_true).",
            "logistic": "NaN is replaced by the training median of that feature (a graph constant; 0 when the feature was never observed in training), then log1p/standardised.",
            "transformer": "Tabular NaN replaced by the training median (graph constant) as for the logistic model; sequences use the mask input.",
        }[kind],
        "metrics_held_out": metrics,
        "evaluation": card_evaluation(y_test, p_served, plan, weights=served_weights),
        **decision_keys,
        **({"baselines": baseline_metrics, "gate": gate} if gate else {}),
        "training_seconds": round(res["seconds"], 2),
        "seeds": {"model": seed, "split_salt": "segments-v1"},
        "training_details": res["info"],
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "xgboost": xgb_onnx.xgb.__version__, "torch": transformer.torch.__version__,
                        "onnx": onnx.__version__},
        "golden": {"file": "golden.json", "as_of": golden["as_of"], "customers": len(golden_ids)},
    }
    if kind == "transformer":
        card["sequence"] = SPEC["sequence"]
        card["role"] = transformer.ROLE
    if kind == "xgboost":
        card["onnx"]["node_cover"] = ("nodes_hitrates of the TreeEnsembleClassifier holds each node's cover "
                                      "(XGBoost sum_hessian), ignored by inference, read by the API's TreeSHAP.")
    if extra_card:
        card.update(extra_card)
    with open(d / "model.json", "w") as f:
        json.dump(card, f, indent=2)
    if final.exists():
        shutil.rmtree(final)  # --demo rewrites the shipped version in place
    d.rename(final)
    log(f"  wrote {final} ({len(model_bytes) / 1024:.0f} KiB onnx)")
    return card
