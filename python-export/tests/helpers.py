import numpy as np
import pandas as pd

from segments.data import DAY_MS, _finish_orders, day_to_ms

T = day_to_ms("2026-01-01")


def make_orders(rows):
    """rows: (customer_id, t_ms, amount_str, items, status)"""
    from segments.data import amount_to_cents
    o = pd.DataFrame({
        "order_id": [f"o{i:04d}" for i in range(len(rows))],
        "customer_id": [r[0] for r in rows],
        "t_ms": np.array([r[1] for r in rows], dtype=np.int64),
        "cents": amount_to_cents([r[2] for r in rows]),
        "item_count": np.array([r[3] for r in rows], dtype=np.int64),
        "status": [r[4] if len(r) > 4 else "paid" for r in rows],
    })
    return _finish_orders(o)


def make_customers(rows):
    """rows: (customer_id, created_ms or nan, birth 'YYYY-MM-DD' or '', gender)"""
    from segments.data import date_to_ms
    return pd.DataFrame({
        "customer_id": [r[0] for r in rows],
        "created_ms": np.array([r[1] for r in rows], dtype=np.float64),
        "birth_ms": date_to_ms([r[2] for r in rows]),
        "gender": [r[3] for r in rows],
    })
