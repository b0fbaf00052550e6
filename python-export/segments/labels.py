"""Forward-looking segment labels: classes from paid orders in (T, T+H] only."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .data import DAY_MS

CLASSES = ["lapsing", "active", "high_value"]
LAPSING, ACTIVE, HIGH_VALUE = 0, 1, 2
HIGH_VALUE_QUANTILE = 80.0

# How high_value is defined (recorded in the card as high_value_threshold.unit):
#   spend  — horizon spend >= threshold (currency): the 80th percentile of the positive horizon
#            spends of the training rows;
#   orders — horizon paid orders >= K: K = ceil(80th percentile of the positive horizon order counts
#            of the training rows), at least 2 (with K = 1 every buyer would be high_value and
#            `active` would be empty).
# `auto` (train.py's default) takes `spend` only when every paid order inside every label window of
# the plan (training and test cutoffs) has a known amount: one order without amount (imported with
# --no-amounts) in a label window would make its customer's spend label a guess. Otherwise `orders`.
HIGH_VALUE_DEFINITIONS = ("spend", "orders")
MIN_ORDER_THRESHOLD = 2


def horizon_outcome(orders: pd.DataFrame, t_ms: int, horizon_days: int, customer_ids) -> pd.DataFrame:
    """Per customer: paid orders, exact spend (cents) and paid orders without amount in (T, T + H days]."""
    idx = pd.Index(np.asarray(customer_ids, dtype=object), name="customer_id")
    t = orders["t_ms"].to_numpy(np.int64)
    m = orders["paid"].to_numpy() & (t > t_ms) & (t <= t_ms + horizon_days * DAY_MS)
    h = orders[m]
    g = h.groupby("customer_id")
    unknown = (~h["amount_known"].astype(bool)) if "amount_known" in h.columns else pd.Series(False, index=h.index)
    return pd.DataFrame({
        "horizon_orders": g.size().reindex(idx, fill_value=0).astype("int64"),
        "horizon_cents": g["cents"].sum().reindex(idx, fill_value=0).astype("int64"),
        "horizon_unknown_amounts": unknown.groupby(h["customer_id"]).sum().reindex(idx, fill_value=0).astype("int64"),
    }, index=idx)


def high_value_threshold(horizon_cents) -> float:
    """80th percentile (numpy 'linear') of the positive horizon spends, in currency units."""
    spend = np.asarray(horizon_cents, dtype=np.int64)
    pos = spend[spend > 0] / 100.0
    if len(pos) == 0:
        raise ValueError("no positive horizon spend: cannot set the high_value threshold")
    return float(np.percentile(pos, HIGH_VALUE_QUANTILE))


def high_value_order_threshold(horizon_orders) -> int:
    """ceil(80th percentile (numpy 'linear') of the positive horizon order counts), at least 2."""
    n = np.asarray(horizon_orders, dtype=np.int64)
    pos = n[n > 0]
    if len(pos) == 0:
        raise ValueError("no customer ordered in a training label window: cannot set the high_value threshold")
    return int(max(MIN_ORDER_THRESHOLD, np.ceil(np.percentile(pos, HIGH_VALUE_QUANTILE))))


def assign_labels(horizon_orders, horizon_cents, threshold: float) -> np.ndarray:
    n = np.asarray(horizon_orders)
    spend = np.asarray(horizon_cents, dtype=np.int64) / 100.0
    y = np.where(n == 0, LAPSING, np.where(spend >= threshold, HIGH_VALUE, ACTIVE))
    return y.astype(np.int64)


def assign_labels_by_orders(horizon_orders, threshold: int) -> np.ndarray:
    n = np.asarray(horizon_orders)
    return np.where(n == 0, LAPSING, np.where(n >= threshold, HIGH_VALUE, ACTIVE)).astype(np.int64)
