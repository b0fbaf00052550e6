"""Reference implementation of features.json (pandas, float64).

Every definition here is the one in python-export/features.json; the TypeScript service re-implements
the same spec and is checked against the golden fixtures written from this module.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .data import DAY_MS

SPEC_PATH = Path(__file__).resolve().parent.parent / "features.json"


def load_spec() -> dict:
    with open(SPEC_PATH) as f:
        return json.load(f)


SPEC = load_spec()
FEATURES = [f["name"] for f in SPEC["features"]]
WINDOWS = (30, 90, 180, 365)
SEQ_LEN = int(SPEC["sequence"]["max_orders"])
SEQ_FEATURES = [f["name"] for f in SPEC["sequence"]["token_features"]]


def counted_orders(orders: pd.DataFrame, t_ms: int) -> pd.DataFrame:
    """Paid orders with ordered_at <= T (the only orders any feature may read)."""
    return orders[orders["paid"].to_numpy() & (orders["t_ms"].to_numpy() <= t_ms)]


def population(orders: pd.DataFrame, customers: pd.DataFrame, t_ms: int) -> np.ndarray:
    """Customers with created_at <= T or at least one paid order <= T (sorted ids)."""
    o = counted_orders(orders, t_ms)
    ids = set(o["customer_id"].unique())
    c = customers
    ids.update(c.loc[c["created_ms"].to_numpy() <= t_ms, "customer_id"])
    return np.array(sorted(ids), dtype=object)


def compute_features(orders: pd.DataFrame, customers: pd.DataFrame, t_ms: int,
                     customer_ids=None) -> pd.DataFrame:
    """Feature frame indexed by customer_id, columns = FEATURES in spec order (float64)."""
    t_ms = int(t_ms)
    if customer_ids is None:
        customer_ids = population(orders, customers, t_ms)
    idx = pd.Index(np.asarray(customer_ids, dtype=object), name="customer_id")
    o = counted_orders(orders, t_ms)
    o = o[o["customer_id"].isin(idx)]
    out = pd.DataFrame(index=idx)

    t = o["t_ms"].to_numpy(np.int64)
    cid = o["customer_id"]
    day = t // DAY_MS
    g = o.groupby("customer_id", sort=False)
    last = g["t_ms"].max().reindex(idx)
    first = g["t_ms"].min().reindex(idx)
    out["recency_days"] = (t_ms - last.astype("float64")) / DAY_MS
    out["days_since_first_order"] = (t_ms - first.astype("float64")) / DAY_MS
    cust = customers.set_index("customer_id").reindex(idx)
    # created_at after T is not known at T (a customer who does not exist yet): tenure NaN, as unknown.
    created = cust["created_ms"].astype("float64").to_numpy()
    created = np.where(created <= t_ms, created, np.nan)
    out["tenure_days"] = (t_ms - created) / DAY_MS

    cents_w, orders_w, days_w, unknown_w = {}, {}, {}, {}
    pd_frame = pd.DataFrame({"customer_id": cid.to_numpy(), "day": day})
    unknown = ~o["amount_known"].to_numpy(bool) if "amount_known" in o.columns else np.zeros(len(o), dtype=bool)
    for w in list(WINDOWS) + ["all"]:
        if w == "all":
            m = np.ones(len(o), dtype=bool)
        else:
            m = t > t_ms - w * DAY_MS
        sub = o[m]
        orders_w[w] = sub.groupby("customer_id").size().reindex(idx, fill_value=0).astype("int64")
        cents_w[w] = sub.groupby("customer_id")["cents"].sum().reindex(idx, fill_value=0).astype("int64")
        days_w[w] = (pd_frame[m].drop_duplicates().groupby("customer_id").size()
                     .reindex(idx, fill_value=0).astype("int64"))
        # conventions.unknown_amount: a window holding an order without amount has no known spend.
        unknown_w[w] = (pd.Series(unknown[m]).groupby(cid.to_numpy()[m]).any()
                        .reindex(idx, fill_value=False).to_numpy(bool))
    for w in list(WINDOWS) + ["all"]:
        suffix = "all" if w == "all" else f"{w}d"
        out[f"orders_{suffix}"] = orders_w[w].astype("float64")
    for w in list(WINDOWS) + ["all"]:
        suffix = "all" if w == "all" else f"{w}d"
        out[f"purchase_days_{suffix}"] = days_w[w].astype("float64")
    for w in list(WINDOWS) + ["all"]:
        suffix = "all" if w == "all" else f"{w}d"
        out[f"spend_{suffix}"] = np.where(unknown_w[w], np.nan, cents_w[w].to_numpy(np.int64) / 100.0)

    n_all = orders_w["all"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["monetary_mean"] = np.where(n_all > 0, out["spend_all"].to_numpy() / n_all, np.nan)
    out["monetary_max"] = np.where(unknown_w["all"], np.nan, g["cents"].max().reindex(idx).astype("float64") / 100.0)
    out["items_all"] = g["item_count"].sum().reindex(idx, fill_value=0).astype("float64")

    # Inter-purchase time over distinct purchase days.
    d = pd_frame.drop_duplicates().sort_values(["customer_id", "day"], kind="mergesort")
    d["gap"] = d.groupby("customer_id")["day"].diff()
    gaps = d.dropna(subset=["gap"])
    gg = gaps.groupby("customer_id")["gap"]
    n_gap = gg.size().reindex(idx, fill_value=0).to_numpy(np.float64)
    s_gap = gg.sum().reindex(idx, fill_value=0).to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_gap = np.where(n_gap >= 1, s_gap / n_gap, np.nan)
    out["ipt_mean_days"] = mean_gap
    mean_map = pd.Series(mean_gap, index=idx)
    dev = (gaps["gap"].to_numpy() - mean_map.reindex(gaps["customer_id"]).to_numpy()) ** 2
    ss = pd.Series(dev).groupby(gaps["customer_id"].to_numpy()).sum().reindex(idx, fill_value=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["ipt_std_days"] = np.where(n_gap >= 2, np.sqrt(ss.to_numpy(np.float64) / n_gap), np.nan)

    out["spend_trend_90d"] = np.where(unknown_w[180], np.nan,
                                      (2 * cents_w[90].to_numpy(np.int64) - cents_w[180].to_numpy(np.int64)) / 100.0)
    out["orders_trend_90d"] = (2 * orders_w[90].to_numpy(np.int64) - orders_w[180].to_numpy(np.int64)).astype(np.float64)
    out["age_years"] = (t_ms - cust["birth_ms"].astype("float64")) / DAY_MS / 365.25
    gender = cust["gender"].fillna("").astype(str)
    out["is_female"] = np.where(gender == "F", 1.0, np.where(gender == "M", 0.0, np.nan))

    assert list(out.columns) == FEATURES, (list(out.columns), FEATURES)
    return out.astype("float64")


def compute_sequences(orders: pd.DataFrame, t_ms: int, customer_ids, max_len: int = SEQ_LEN):
    """Raw token features of the last `max_len` counted orders, oldest first, left-aligned.

    Returns (seq float64 [N, max_len, 5], mask float64 [N, max_len]) in the order of customer_ids.
    """
    t_ms = int(t_ms)
    ids = np.asarray(customer_ids, dtype=object)
    pos_of = {c: i for i, c in enumerate(ids)}
    o = counted_orders(orders, t_ms)
    o = o[o["customer_id"].isin(pos_of)].sort_values(["customer_id", "t_ms", "order_id"], kind="mergesort")
    seq = np.zeros((len(ids), max_len, len(SEQ_FEATURES)), dtype=np.float64)
    mask = np.zeros((len(ids), max_len), dtype=np.float64)
    if len(o) == 0:
        return seq, mask
    t = o["t_ms"].to_numpy(np.int64)
    prev = o.groupby("customer_id")["t_ms"].shift(1)
    gap = np.where(prev.isna().to_numpy(), 0.0, (t - prev.fillna(0).to_numpy(np.int64)) / DAY_MS)
    from_end = o.groupby("customer_id").cumcount(ascending=False).to_numpy()
    keep = from_end < max_len
    o, t, gap = o[keep], t[keep], gap[keep]
    pos = o.groupby("customer_id").cumcount().to_numpy()
    rows = np.array([pos_of[c] for c in o["customer_id"]], dtype=np.int64)
    # An order without amount has cents 0 (sequence.token_features.amount: 0 when unknown).
    seq[rows, pos, 0] = o["cents"].to_numpy(np.int64) / 100.0
    seq[rows, pos, 1] = o["item_count"].to_numpy(np.float64)
    seq[rows, pos, 2] = gap
    seq[rows, pos, 3] = (t_ms - t) / DAY_MS
    seq[rows, pos, 4] = ((t // DAY_MS + 3) % 7).astype(np.float64)
    mask[rows, pos] = 1.0
    return seq, mask
