#!/usr/bin/env python3
"""Does the sequence Transformer earn its place? Transformer variants against XGBoost and BG/NBD on
CDNOW and on a generated line-item log (segments/lineitems.py).

    /usr/bin/python3 python-export/evaluate_transformer.py [--datasets lineitems,cdnow] [--seeds 42]
        [--bootstrap 1000] [--customers 30000] [--cdnow ../shared/datasets/cdnow/CDNOW_master.txt]

Models, all on the same rows, features and held-out customers:
  XGBoost                          the served tabular model (27 features)
  XGBoost + item aggregates        the same plus hand-made summaries of the item tokens
                                   (item_tokens.item_aggregates): does the gain need a sequence model?
  Transformer (served)             transformer.py as shipped: order tokens (amount, items, gap, ...)
  Transformer + items              item_transformer.py: each order token also pools its lines'
                                   category / product embeddings, unit price and quantity
  Transformer + items + next-orders  the same with an auxiliary Poisson head on the number of
                                   orders in (T, T+H] (a next-order likelihood)
  BG/NBD                           lifetime.py, fitted on the training customers' orders before T;
                                   "any purchase in H" scored by E[orders in H] and by P(alive)
  XGBoost + hidden state (generated data only): the generator's true state at T as a feature — an
                                   oracle no shop has, shown as the ceiling of what item structure can tell

Each dataset writes reports/transformer_<dataset>.json; the report files reports/transformer.md
(verdict + CDNOW) and reports/lineitems.md (the generated dataset) are rendered from the JSON files
present, so the datasets can run separately. --render-only re-renders without fitting.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from segments import item_transformer, transformer, xgb_onnx  # noqa: E402
from segments.bootstrap import Scored, bootstrap  # noqa: E402
from segments.data import DAY_MS, day_to_ms, load_cdnow, ms_to_iso  # noqa: E402
from segments.dataset import Plan, build_tables, customer_bucket, rolling_plan  # noqa: E402
from segments.decision import decide  # noqa: E402
from segments.features import FEATURES, SEQ_LEN  # noqa: E402
from segments.item_tokens import item_aggregates, item_tokens_for  # noqa: E402
from segments.lifetime import expected_purchases, fit_bgnbd, p_alive, rfm_summary  # noqa: E402
from segments.lineitems import CATEGORIES, PRODUCTS_PER_CATEGORY, STATES, cdnow_items, generate  # noqa: E402
from segments.metrics import paired_bootstrap  # noqa: E402
from segments.pipeline import fit_decision_rules  # noqa: E402

REPORTS = HERE / "reports"
DEFAULT_CDNOW = HERE.parent.parent / "shared" / "datasets" / "cdnow" / "CDNOW_master.txt"
NAMES = {"xgboost": "XGBoost (27 features)", "xgboost_items": "XGBoost + item aggregates",
         "xgboost_oracle": "XGBoost + hidden state (oracle)", "transformer": "Transformer (served: order tokens)",
         "transformer_items": "Transformer + item tokens", "transformer_items_aux": "Transformer + item tokens + next-orders head",
         "bgnbd_e": "BG/NBD E[orders in H]", "bgnbd_alive": "BG/NBD P(alive)"}
LINEITEMS = {"customers": 20000, "seed": 7, "start": "2024-01-01", "end": "2026-01-01", "horizon_days": 90,
             "train_cutoffs": 3, "max_lines": 4}
# Transformer training per dataset (the flags override); not tuned on the held-out customers. CDNOW: evaluate.py's
# batch, a shorter cap and patience for the machine's time (evaluate.py's served Transformer is best at epoch 2 and
# this run reproduces it exactly). Generated data: cap 12,
# patience 3 (the served Transformer reaches the cap with its best validation loss at epoch 12; a further run with
# cap 25, `--variants transformer --epochs 25 --tag cap25`, stops at epoch 15 with the same best epoch and the same
# held-out numbers, so the cap does not bind); the batch keeps ~50 AdamW steps an epoch on the ~26k training rows.
ALL_VARIANTS = "xgboost_items,xgboost_oracle,transformer,transformer_items,transformer_items_aux"
# On CDNOW the item tokens hold only the unit price (one line per order) and the item aggregates only its trend,
# so the CDNOW run keeps the served Transformer and the full variant (item tokens + next-orders head): a CDNOW
# Transformer epoch takes 90-250 s on the shared machine.
VARIANTS = {"lineitems": ALL_VARIANTS, "cdnow": "transformer,transformer_items_aux"}
TRAINING = {"lineitems": {"epochs": 12, "batch": 512, "patience": 3},
            "cdnow": {"epochs": 6, "batch": 1024, "patience": 2}}


def cdnow_plan() -> Plan:
    # evaluate.py's plan (the literature's 39-week split; monthly training cutoffs Apr-Sep 1997).
    return Plan(horizon_days=273, train_cutoffs=[day_to_ms(f"1997-{m:02d}-01") for m in range(4, 10)],
                test_cutoff=day_to_ms("1997-10-01"), data_end=day_to_ms("1998-07-01"))


def load(name, args):
    if name == "cdnow":
        ds = load_cdnow(args.cdnow)
        return ds, cdnow_items(ds), None, cdnow_plan(), 1, 1, 1
    c = LINEITEMS
    ds, items, states = generate(args.customers, c["seed"], c["start"], c["end"])
    plan = rolling_plan(ds, c["horizon_days"], day_to_ms(c["end"]), n_train_cutoffs=c["train_cutoffs"])
    return ds, items, states, plan, len(CATEGORIES), len(CATEGORIES) * PRODUCTS_PER_CATEGORY, c["max_lines"]


def bgnbd_scores(ds, tables, unit_days=7.0):
    """BG/NBD fitted on the training customers' orders before the test cutoff; for each held-out
    customer E[orders in (T, T+H]] and P(alive) at T."""
    plan = tables.plan
    o = ds.orders
    is_train = o["customer_id"].map(lambda c: customer_bucket(c) >= plan.test_fraction).to_numpy()
    s = rfm_summary(o[is_train], plan.test_cutoff, unit_days)
    model, info = fit_bgnbd(s["x"].to_numpy(), s["t_x"].to_numpy(), s["T"].to_numpy())
    st = rfm_summary(o[o["customer_id"].isin(set(tables.test["customer_id"]))], plan.test_cutoff, unit_days)
    h = plan.horizon_days / unit_days
    e, a = np.zeros(len(tables.test)), np.zeros(len(tables.test))
    for i, cid in enumerate(tables.test["customer_id"]):
        if cid in st.index:
            r = st.loc[cid]
            e[i] = expected_purchases(model, h, float(r["x"]), float(r["t_x"]), float(r["T"]))
            a[i] = p_alive(model, float(r["x"]), float(r["t_x"]), float(r["T"]))
    return e, a, {"params": model.as_dict(), "unit_days": unit_days, **info}


def state_at(ds, states, df):
    """The generator's hidden state of each row's last order at or before its cutoff (one-hot)."""
    o = ds.orders[["order_id", "customer_id", "t_ms"]].merge(states, on="order_id")
    out = np.full((len(df), len(STATES)), np.nan)
    for t, idx in df.groupby("cutoff_ms").indices.items():
        last = o[o["t_ms"] <= t].sort_values("t_ms").groupby("customer_id").tail(1).set_index("customer_id")["state"]
        s = last.reindex(df["customer_id"].to_numpy()[idx]).to_numpy()
        for j, name in enumerate(STATES):
            out[idx, j] = np.where(pd.isna(s), np.nan, (s == name).astype(float))
    return out


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(name, args, log=print):
    t_start, c_start, load0 = time.time(), cpu(), os.getloadavg()
    ds, items, states, plan, n_cat, n_prod, max_lines = load(name, args)
    tables = build_tables(ds, plan)
    log(f"[{name}] data {ds.summary()['paid_orders']} paid orders, {len(items)} lines; tables {tables.summary()}")
    (X, y), (Xv, yv), (Xt, yt) = tables.xy("train"), tables.xy("valid"), tables.xy("test")
    tok = {p: item_tokens_for(ds, items, getattr(tables, p), SEQ_LEN, max_lines) for p in ("train", "valid", "test")}
    ho = tables.train["horizon_orders"].to_numpy()
    fitted, seconds = {}, {}
    seeds = [int(s) for s in args.seeds.split(",")]
    tkw = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in TRAINING[name].items()}
    agg = {p: item_aggregates(tok[p], n_cat)[0] for p in tok}
    agg_names = item_aggregates(tok["test"], n_cat)[1]
    want = set((args.variants or VARIANTS[name]).split(",")) | {"xgboost"}
    extra = {"xgboost": None, "xgboost_items": agg}
    if states is not None:
        extra["xgboost_oracle"] = {p: state_at(ds, states, getattr(tables, p)) for p in tok}
    extra = {k: v for k, v in extra.items() if k in want}
    per_seed = {}
    for s in seeds:
        res = {}
        for k, ex in extra.items():
            t0, c0 = time.time(), cpu()
            A = [X, Xv, Xt] if ex is None else [np.hstack([M, ex[p]]) for M, p in zip([X, Xv, Xt], ["train", "valid", "test"])]
            booster, info = xgb_onnx.train(A[0], y, A[1], yv, seed=s)
            res[k] = {"proba_test": xgb_onnx.predict_proba(booster, A[2]), "proba_valid": xgb_onnx.predict_proba(booster, A[1]),
                      "info": {"best_iteration": info["best_iteration"]}}
            seconds[f"{k}@{s}"] = {"wall": time.time() - t0, "cpu": cpu() - c0}
            log(f"[{name}] seed {s} {k}: {seconds[f'{k}@{s}']['wall']:.1f}s, {info['best_iteration'] + 1} rounds")
        if "transformer" in want:
            t0, c0 = time.time(), cpu()
            model, info = transformer.train(X, tok["train"]["seq"], tok["train"]["mask"], y, Xv, tok["valid"]["seq"],
                                          tok["valid"]["mask"], yv, seed=s, log=log, **tkw)
            res["transformer"] = {"proba_test": transformer.predict_proba(model, Xt, tok["test"]["seq"], tok["test"]["mask"]),
                                  "proba_valid": transformer.predict_proba(model, Xv, tok["valid"]["seq"], tok["valid"]["mask"]),
                                  "info": {k: v for k, v in info.items() if k in ("epochs_run", "best_valid_loss", "history")}}
            seconds[f"transformer@{s}"] = {"wall": time.time() - t0, "cpu": cpu() - c0}
        for k, aux in (("transformer_items", 0.0), ("transformer_items_aux", args.aux_weight)):
            if k not in want:
                continue
            t0, c0 = time.time(), cpu()
            model, info = item_transformer.train(X, tok["train"], y, ho, Xv, tok["valid"], yv, n_cat, n_prod,
                                                 use_items=True, aux_weight=aux, seed=s, log=log, **tkw)
            res[k] = {"proba_test": item_transformer.predict_proba(model, Xt, tok["test"]),
                      "proba_valid": item_transformer.predict_proba(model, Xv, tok["valid"]),
                      "info": {kk: v for kk, v in info.items() if kk in ("epochs_run", "best_valid_loss", "history", "aux_weight")}}
            seconds[f"{k}@{s}"] = {"wall": time.time() - t0, "cpu": cpu() - c0}
        fit_decision_rules(res, tables, log=log)
        per_seed[s] = res
    # ---- scoring (first seed with intervals; every seed as point values) ----
    s0 = seeds[0]
    e, alive, bg_info = bgnbd_scores(ds, tables)
    rows = {}
    for k, r in per_seed[s0].items():
        rows[k] = Scored(yt, r["proba_test_raw"])
        rows[k + ":rule"] = Scored(yt, r["proba_test_served"], pred=decide(r["proba_test_served"], r["decision_rule"]["weights_list"]))
    rows["bgnbd_e"] = Scored(yt, per_seed[s0]["xgboost"]["proba_test_raw"], any_score=e)
    rows["bgnbd_alive"] = Scored(yt, per_seed[s0]["xgboost"]["proba_test_raw"], any_score=alive)
    boot = bootstrap(rows, n=args.bootstrap, seed=s0)
    pt = {k: per_seed[s0][k]["proba_test_raw"] for k in per_seed[s0]}
    pairs = [("transformer_items", "transformer"), ("transformer_items_aux", "transformer_items"),
             ("transformer_items_aux", "transformer"),
             ("transformer", "xgboost"), ("transformer_items", "xgboost"), ("transformer_items_aux", "xgboost"),
             ("xgboost_items", "xgboost"), ("transformer_items", "xgboost_items"), ("transformer_items_aux", "xgboost_items")]
    paired = {f"{a} - {b}": paired_bootstrap(yt, pt[a], pt[b], s0, n=args.bootstrap) for a, b in pairs if a in pt and b in pt}
    # one-order customers: where the basket is the only sequence information
    one = Xt[:, FEATURES.index("orders_all")] == 1
    sub = {"one_order": {"n": int(one.sum())}, "several_orders": {"n": int((~one).sum())}}
    for grp, m in (("one_order", one), ("several_orders", ~one)):
        if m.sum() < 50:
            continue
        sub[grp]["log_loss"] = {k: Scored(yt[m], p[m]).metrics(np.ones(int(m.sum())))["log_loss"] for k, p in pt.items()}
        sub[grp]["paired"] = {f"{a} - {b}": paired_bootstrap(yt[m], pt[a][m], pt[b][m], s0, n=args.bootstrap)
                              for a, b in (("transformer_items", "xgboost"), ("transformer_items", "xgboost_items"),
                                           ("transformer", "xgboost")) if a in pt and b in pt}
    per_seed_points = {s: {k: Scored(yt, r["proba_test_raw"]).metrics(np.ones(len(yt))) for k, r in res.items()}
                       for s, res in per_seed.items()}
    out = {
        "dataset": name, "data": ds.summary(), "lines": int(len(items)), "tables": tables.summary(),
        "plan": plan.describe(), "generator": LINEITEMS | {"customers": args.customers} if name != "cdnow" else None,
        "hidden_state_shares": states["state"].value_counts(normalize=True).round(4).to_dict() if states is not None else None,
        "orders_per_customer_share_one": float((ds.orders.groupby("customer_id").size() == 1).mean()),
        "test_share_one_order": float(one.mean()),
        "seeds": seeds, "transformer_settings": tkw | {"aux_weight": args.aux_weight, "max_lines": max_lines},
        "item_aggregate_features": agg_names, "bootstrap": boot, "bootstrap_resamples": args.bootstrap,
        "paired_log_loss": paired, "subgroups": sub, "per_seed": per_seed_points, "bgnbd": bg_info,
        "histories": {k: r["info"] for k, r in per_seed[s0].items()},
        "seconds": seconds, "total_wall_seconds": time.time() - t_start, "total_cpu_seconds": cpu() - c_start,
        "load_average_start": load0, "load_average_end": os.getloadavg(),
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    return out


# ------------------------------------------------------------------ rendering

def ci(m, fmt=".3f"):
    return f"{m['value']:{fmt}} [{m['lo']:{fmt}}, {m['hi']:{fmt}}]"


def table(r):
    b = r["bootstrap"]
    lines = ["| model | log loss | macro-F1 (argmax) | macro-F1 (decision rule) | AUC-ovr (macro) | AUC any purchase in H |",
             "|---|---|---|---|---|---|"]
    for k in ("xgboost", "xgboost_items", "transformer", "transformer_items", "transformer_items_aux", "xgboost_oracle"):
        if k not in b:
            continue
        m = b[k]
        lines.append(f"| {NAMES[k]} | {ci(m['log_loss'], '.4f')} | {ci(m['macro_f1'])} | {ci(b[k + ':rule']['macro_f1'])} | "
                     f"{ci(m['roc_auc_ovr_macro'])} | {ci(m['auc_any_purchase'])} |")
    for k in ("bgnbd_e", "bgnbd_alive"):
        lines.append(f"| {NAMES[k]} | – | – | – | – | {ci(b[k]['auc_any_purchase'])} |")
    lines += ["", "Log loss and AUC-ovr from the models' own probabilities (the ONNX output for the served kinds); "
              "macro-F1 at the argmax and with the decision rule (recalibration and class weights fitted on the "
              "validation customers, as served). BG/NBD predicts no segment, so only its \"any purchase in H\" AUC is "
              "shown; its P(alive) is 1 for every customer without a repeat purchase (in BG/NBD a customer can drop "
              "out only after a purchase occasion), so it ranks the one-order customers — most of whom lapse — first: "
              "E[orders in H] is the BG/NBD score to compare."]
    return "\n".join(lines)


def paired_table(r):
    lines = ["| log loss difference (per held-out customer, a − b) | mean | 95 % interval |", "|---|---|---|"]
    for key, v in r["paired_log_loss"].items():
        a, b = key.split(" - ")
        lines.append(f"| {NAMES[a]} − {NAMES[b]} | {v['mean']:+.4f} | [{v['lo']:+.4f}, {v['hi']:+.4f}] |")
    return "\n".join(lines)


def sub_table(r):
    sub = r["subgroups"]
    keys = [k for k in ("xgboost", "xgboost_items", "transformer", "transformer_items", "transformer_items_aux") if k in r["bootstrap"]]
    lines = ["| held-out customers | n | " + " | ".join(NAMES[k] for k in keys) + " |", "|---|---|" + "---|" * len(keys)]
    for grp, label in (("one_order", "one order before T"), ("several_orders", "two or more orders")):
        g = sub[grp]
        if "log_loss" not in g:
            continue
        lines.append(f"| {label} | {g['n']} | " + " | ".join(f"{g['log_loss'][k]:.4f}" for k in keys) + " |")
    return "\n".join(lines)


def verdict(r):
    """Plain words from the paired intervals (computed, not written by hand)."""
    p = r["paired_log_loss"]

    def say(key):
        if key not in p:
            return "not run"
        v = p[key]
        if v["hi"] < 0:
            return f"better (log loss {v['mean']:+.4f}, interval [{v['lo']:+.4f}, {v['hi']:+.4f}] below 0)"
        if v["lo"] > 0:
            return f"worse (log loss {v['mean']:+.4f}, interval [{v['lo']:+.4f}, {v['hi']:+.4f}] above 0)"
        return f"not distinguishable (log loss {v['mean']:+.4f}, interval [{v['lo']:+.4f}, {v['hi']:+.4f}] contains 0)"
    rows = [("transformer - xgboost", "Transformer (served, order tokens) vs XGBoost"),
            ("transformer_items - transformer", "Transformer + item tokens vs the served Transformer"),
            ("transformer_items - xgboost", "Transformer + item tokens vs XGBoost"),
            ("transformer_items_aux - xgboost", "Transformer + item tokens + next-orders head vs XGBoost"),
            ("transformer_items_aux - transformer", "Transformer + item tokens + next-orders head vs the served Transformer"),
            ("xgboost_items - xgboost", "XGBoost + item aggregates vs XGBoost"),
            ("transformer_items - xgboost_items", "Transformer + item tokens vs XGBoost + item aggregates"),
            ("transformer_items_aux - transformer_items", "The next-orders head on top of item tokens")]
    return [f"- {label}: {say(key)}." for key, label in rows if key in p]


def run_facts(r):
    sec = r["seconds"]
    s = ", ".join(f"{NAMES[k.split('@')[0]]} {v['cpu']:.0f} s CPU ({v['wall']:.0f} s wall)" for k, v in sec.items())
    la0 = "/".join(f"{v:.1f}" for v in r["load_average_start"])
    la1 = "/".join(f"{v:.1f}" for v in r["load_average_end"])
    hist = "; ".join(f"{NAMES[k]}: {h['epochs_run']} epochs (best validation loss {h['best_valid_loss']:.4f})"
                     for k, h in r["histories"].items() if "epochs_run" in h)
    return (f"Run finished {r['run_at']} on the shared 2-core machine (load average {la0} at the start, {la1} at the end; "
            f"wall times are disturbed, CPU times less so): {s}. Whole run {r['total_cpu_seconds']:.0f} s CPU, "
            f"{r['total_wall_seconds']:.0f} s wall. Seeds {', '.join(map(str, r['seeds']))}; intervals from "
            f"{r['bootstrap_resamples']} bootstrap resamples of the held-out customers (seed {r['seeds'][0]}). "
            f"Transformer settings {json.dumps(r['transformer_settings'])}. Early stopping: {hist}.")


def tables_line(r):
    t = r["tables"]
    def cc(x):
        c = x["class_counts"]
        return f"{x['rows']} rows ({c['lapsing']} / {c['active']} / {c['high_value']})"
    return (f"Rows (lapsing / active / high_value): train {cc(t['train'])}, validation {cc(t['validation'])}, "
            f"held-out {cc(t['test'])}; high_value = horizon spend ≥ {t['high_value_threshold']:.2f}. "
            f"{100 * r['test_share_one_order']:.0f} % of the held-out customers have one order before T.")


def render(results: dict):
    li, cd = results.get("lineitems"), results.get("cdnow")
    out = ["# Does the Transformer earn its place?", "",
           "Produced by `/usr/bin/python3 python-export/evaluate_transformer.py` (see its docstring; the numbers below are "
           "read from `transformer_<dataset>.json` written by that run, nothing is typed in by hand). The question "
           "(tracker issue 13, item 5): does the sequence Transformer add anything over XGBoost on the 27 tabular features, "
           "and does it when it is given what the tabular features lack — the line items of each order, and a next-order "
           "target?", "",
           "The item-level Transformer is **evaluation-only**: the product stores orders (amount, item count), not their "
           "lines (the line-item import sums them into orders), so the served `transformer-segment` and the live "
           "feature path are unchanged.", ""]
    out += ["## Verdict", ""]
    if cd:
        out += ["**CDNOW** (real data, one row per order: date, number of CDs, amount):", ""] + verdict(cd) + [""]
        for tag, r in cd.get("_extra", []):
            out += [f"Further CDNOW run **{tag}** (seed {', '.join(map(str, r['seeds']))}, Transformer settings "
                    f"{json.dumps(r['transformer_settings'])}):", ""] + verdict(r) + [""]
    if li:
        out += ["**Generated line-item log** (synthetic, built to contain item structure; [lineitems.md](lineitems.md)):", ""] \
            + verdict(li) + [""]
        for tag, r in li.get("_extra", []):
            out += [f"Further run **{tag}** (seed {', '.join(map(str, r['seeds']))}, Transformer settings "
                    f"{json.dumps(r['transformer_settings'])}):", ""] + verdict(r) + [""]
    out += ["Reading: a row says *better* only when the 95 % paired-bootstrap interval of the per-customer log-loss "
            "difference lies below 0. See the conclusion in the README's model section and the "
            "`transformer-segment` card (`models/README.md`).", ""]
    if cd:
        out += ["## CDNOW", "",
                f"evaluate.py's plan: features at T, labels from (T, T+273 d]; training cutoffs monthly 1997-04-01 .. "
                f"1997-09-01, held-out customers at 1997-10-01 (the same customers and labels as [cdnow.md](cdnow.md)). "
                "CDNOW has no line items: each order becomes one line (quantity = CDs, unit price = amount / CDs, one "
                "category, one product), so the item tokens add the unit price only, which the order tokens already "
                "carry as log amount − log items, and the item aggregates reduce to the last order's line count and "
                "unit-price trend; this run therefore trains only the served Transformer and the full variant (item tokens "
                "+ next-orders head), whose new part on CDNOW is the next-orders head. The served Transformer row is the "
                "same model as cdnow.md's (same plan, batch, learning rate and seed; best epoch 2 in both)."
                + (" Further runs (below) add other variants." if cd.get("_extra") else ""), "", tables_line(cd), "", table(cd), "", paired_table(cd), "",
                "Held-out log loss by history length:", "", sub_table(cd), "",
                f"BG/NBD (weeks) fitted on the training customers' orders before T: {json.dumps(cd['bgnbd']['params'])}.", "",
                run_facts(cd), ""] + further_runs(cd.get("_extra", []))
    files = [f"`transformer_{n}.json`" for n in results] + [f"`transformer_{n}_{t}.json`" for n, r in results.items()
                                                          for t, _ in r.get("_extra", [])]
    out += ["Full numbers (per-seed points, histories, timings, BG/NBD fits): " + ", ".join(files) + "."]
    text = "\n".join(out) + "\n"
    li_text = render_lineitems(li) if li else None
    return text, li_text


def further_runs(extra: list) -> list:
    """Extra runs of the same dataset (reports/transformer_<dataset>_<tag>.json: another seed, another epoch cap):
    their point log losses and paired verdicts, so the main result's robustness is visible."""
    if not extra:
        return []
    out = ["## Further runs (robustness)", "",
           "Same data, split and code; each run's own settings. Log loss on the held-out customers and the paired "
           "verdicts:", ""]
    for tag, r in extra:
        b = r["bootstrap"]
        keys = [k for k in NAMES if k in b and not k.startswith("bgnbd")]
        out.append(f"**{tag}** (seed {', '.join(map(str, r['seeds']))}, Transformer settings {json.dumps(r['transformer_settings'])}, "
                   f"finished {r['run_at']}): " + "; ".join(f"{NAMES[k]} {b[k]['log_loss']['value']:.4f}" for k in keys) + ".")
        out += [""] + verdict(r) + [""]
        out.append("Early stopping: " + "; ".join(f"{NAMES[k]}: {h['epochs_run']} epochs (best validation loss "
                                                   f"{h['best_valid_loss']:.4f})" for k, h in r["histories"].items()
                                                   if "epochs_run" in h) + ".")
        out.append("")
    return out


def story():
    """The hidden-state part of the generative story, from segments.lineitems' constants (not typed by hand)."""
    from segments import lineitems as L

    def pct(a):
        return " / ".join(f"{100 * v:.0f}" for v in a)
    mix = "; ".join(f"{st} " + ", ".join(f"{100 * L.CATEGORY_MIX[i][j]:.0f} % {L.CATEGORIES[j]}"
                                         for j in np.argsort(-L.CATEGORY_MIX[i])[:2]) for i, st in enumerate(STATES))
    trans = "; ".join(f"{st} → " + ", ".join(f"{L.STATES[j]} {100 * v:.0f} %" for j, v in enumerate(L.TRANSITION[i]) if v > 0)
                      for i, st in enumerate(STATES))
    return (f"- A hidden state drives every order: {' / '.join(STATES)} (initial {pct(L.INITIAL)} %). It sets the basket — "
            f"number of lines 1 + Poisson({' / '.join(f'{v:g}' for v in L.EXTRA_LINES)}), category mix (overlapping; the two "
            f"largest shares: {mix}), quantities (refills larger), unit-price level (× {' / '.join(f'{v:g}' for v in L.PRICE_LEVEL)}, "
            f"and × {L.FADING_STEP:g} for each further consecutive fading order: trading down) — and what follows: after each "
            f"order the customer stops for good with probability {pct(L.DEATH)} %, else moves to the next state ({trans}) and "
            f"orders again after Exponential({' / '.join(f'{v:g}' for v in L.GAP_DAYS)} days ÷ rate multiplier), in the new "
            "state's column.")


def render_lineitems(r):
    g = r["generator"]
    return "\n".join([
        "# Generated line-item log: can the Transformer use item structure?", "",
        "**This dataset is synthetic and was built on purpose to contain structure that RFM-style features cannot "
        "see well.** It is a test bench for the question \"when line items exist and matter, does the sequence model "
        "use them?\", not evidence about any real shop: on real data the size of the effect depends on how much the "
        "baskets say about the future, which this generator sets by hand.", "",
        f"Generator: `segments/lineitems.py` `generate(n_customers={g['customers']}, seed={g['seed']}, "
        f"start={g['start']}, end={g['end']})` — deterministic (tests/test_lineitems.py); sha256 of its line items "
        f"`{r['data']['sources'][0]['sha256'][:16]}…`; `segments.lineitems.write_line_item_csv` writes it in the API's "
        "line-item import format.", "",
        "## Generative story", "",
        "- 8 categories (starter_kit, refill, accessory, premium, gift, clearance, basics, seasonal), 24 products each; a "
        "product's list price = its category's base price × lognormal(0, 0.3).",
        "- Each customer first orders at a uniform time in [start, end − 30 days] and has a rate multiplier ~ Gamma(4, 1/4).",
        story(),
        "- So the state at T, which decides churn and the next gap, shows mainly in what the last baskets held and in "
        "the price trend; timing and amounts (all that the 27 features see) reveal it only partly.", "",
        f"Data: {r['data']['paid_orders']} orders, {r['lines']} lines, {r['data']['customers']} customers "
        f"({r['data']['first_order'][:10]} .. {r['data']['last_order'][:10]}); hidden state of the orders "
        f"{json.dumps(r['hidden_state_shares'])}; {100 * r['orders_per_customer_share_one']:.0f} % of the customers order once.", "",
        "## Task and split", "",
        f"H = {r['plan']['horizon_days']} days; training cutoffs {', '.join(t[:10] for t in r['plan']['train_cutoffs'])}, "
        f"held-out customers (sha256 split, as everywhere) at {r['plan']['test_cutoff'][:10]}. Same labels as the "
        "product (lapsing / active / high_value by spend).", "", tables_line(r), "",
        "Item tokens: the last 32 orders at or before T (`segments/item_tokens.py`), each with up to "
        f"{r['transformer_settings']['max_lines']} lines (largest line amount first). XGBoost + item aggregates gets "
        f"{len(r['item_aggregate_features'])} summaries of the same tokens: {', '.join(r['item_aggregate_features'])}. "
        "These summaries were written knowing the generator (category shares and the price trend are what it encodes), "
        "which favours them: on real line items nobody knows in advance which summaries matter, and learning them "
        "from the raw lines is what the item Transformer offers. The oracle row adds the generator's true state of "
        "the last order at T (one-hot): no shop has it; it shows roughly how much the item structure can tell.", "",
        "## Results (held-out customers)", "", table(r), "", paired_table(r), "",
        "Held-out log loss by history length:", "", sub_table(r), "",
        f"BG/NBD (weeks): {json.dumps(r['bgnbd']['params'])}.", "",
        "## Verdict on this dataset", ""] + verdict(r) + ["", run_facts(r), ""] + further_runs(r.get("_extra", [])))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="lineitems,cdnow")
    ap.add_argument("--cdnow", default=str(DEFAULT_CDNOW))
    ap.add_argument("--customers", type=int, default=LINEITEMS["customers"])
    ap.add_argument("--seeds", default="42")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=None, help="default per dataset: TRAINING")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--patience", type=int, default=None)
    ap.add_argument("--aux-weight", type=float, default=0.5)
    ap.add_argument("--variants", default=None, help="models besides XGBoost, default per dataset: VARIANTS "
                    f"(all: {ALL_VARIANTS}; the oracle only on generated data)")
    ap.add_argument("--out", default=str(REPORTS))
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--tag", help="write transformer_<dataset>_<tag>.json: a further run (another seed or cap) that the "
                    "report lists under 'Further runs' beside the main one")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [d for d in args.datasets.split(",") if d]
    bad = [d for d in names if d not in TRAINING]
    if bad:
        ap.error(f"unknown dataset {', '.join(bad)} (known: {', '.join(TRAINING)})")
    if not args.render_only:
        for name in names:
            r = run(name, args)
            tag = f"_{args.tag}" if args.tag else ""
            (out / f"transformer_{name}{tag}.json").write_text(json.dumps(r, indent=1, default=float) + "\n")
    results = {}
    for name in ("lineitems", "cdnow"):
        p = out / f"transformer_{name}.json"
        if p.exists():
            results[name] = json.loads(p.read_text())
            results[name]["_extra"] = [(q.stem[len(f"transformer_{name}_"):], json.loads(q.read_text()))
                                       for q in sorted(out.glob(f"transformer_{name}_*.json"))]
    text, li = render(results)
    (out / "transformer.md").write_text(text)
    if li:
        (out / "lineitems.md").write_text(li)
    print(text)
    if li:
        print(li)


if __name__ == "__main__":
    main()
