"""Forward-looking segment labels: classes from paid orders in (T, T+H] only."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .data import DAY_MS

CLASSES = ["lapsing", "active", "high_value"]
LAPSING, ACTIVE, HIGH_VALUE = 0, 1, 2
HIGH_VALUE_QUANTILE = 80.0


def horizon_outcome(orders: pd.DataFrame, t_ms: int, horizon_days: int, customer_ids) -> pd.DataFrame:
    """Per customer: paid orders and exact spend (cents) in (T, T + H days]."""
    idx = pd.Index(np.asarray(customer_ids, dtype=object), name="customer_id")
    t = orders["t_ms"].to_numpy(np.int64)
    m = orders["paid"].to_numpy() & (t > t_ms) & (t <= t_ms + horizon_days * DAY_MS)
    h = orders[m]
    g = h.groupby("customer_id")
    return pd.DataFrame({
        "horizon_orders": g.size().reindex(idx, fill_value=0).astype("int64"),
        "horizon_cents": g["cents"].sum().reindex(idx, fill_value=0).astype("int64"),
    }, index=idx)


def high_value_threshold(horizon_cents) -> float:
    """80th percentile (numpy 'linear') of the positive horizon spends, in currency units."""
    spend = np.asarray(horizon_cents, dtype=np.int64)
    pos = spend[spend > 0] / 100.0
    if len(pos) == 0:
        raise ValueError("no positive horizon spend: cannot set the high_value threshold")
    return float(np.percentile(pos, HIGH_VALUE_QUANTILE))


def assign_labels(horizon_orders, horizon_cents, threshold: float) -> np.ndarray:
    n = np.asarray(horizon_orders)
    spend = np.asarray(horizon_cents, dtype=np.int64) / 100.0
    y = np.where(n == 0, LAPSING, np.where(spend >= threshold, HIGH_VALUE, ACTIVE))
    return y.astype(np.int64)
