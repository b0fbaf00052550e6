"""Per-order tokens with line-item content, for the evaluation-only item Transformer.

For each (customer, cutoff T) row: the customer's last `max_orders` counted orders (paid, ordered_at
<= T) — exactly the orders and order of features.compute_sequences, whose 5 raw order features are
reused — and for each order up to `max_lines` of its lines (largest line amount first; ties by
line_no): category, product, quantity and unit price. Nothing after T is read: the orders are
selected by features.counted_orders(T) before any item is looked up.

Arrays (N rows, S = max_orders, L = max_lines), padding is 0 everywhere:
  seq    float64 [N, S, 5]  features.compute_sequences' token features
  mask   float64 [N, S]     1 = order
  cat    int64   [N, S, L]  category + 1 (0 = no line)
  prod   int64   [N, S, L]  product_id + 1 (0 = no line)
  qty    float64 [N, S, L]  quantity
  price  float64 [N, S, L]  unit price (currency)
  lmask  float64 [N, S, L]  1 = line
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .features import SEQ_LEN, compute_sequences, counted_orders

ARRAYS = ("seq", "mask", "cat", "prod", "qty", "price", "lmask")


def item_tokens(orders: pd.DataFrame, items: pd.DataFrame, t_ms: int, customer_ids,
                max_orders: int = SEQ_LEN, max_lines: int = 4) -> dict:
    t_ms = int(t_ms)
    ids = np.asarray(customer_ids, dtype=object)
    n = len(ids)
    seq, mask = compute_sequences(orders, t_ms, ids, max_orders)
    out = {"seq": seq, "mask": mask,
           "cat": np.zeros((n, max_orders, max_lines), np.int64), "prod": np.zeros((n, max_orders, max_lines), np.int64),
           "qty": np.zeros((n, max_orders, max_lines)), "price": np.zeros((n, max_orders, max_lines)),
           "lmask": np.zeros((n, max_orders, max_lines))}
    pos_of = {c: i for i, c in enumerate(ids)}
    o = counted_orders(orders, t_ms)
    o = o[o["customer_id"].isin(pos_of)].sort_values(["customer_id", "t_ms", "order_id"], kind="mergesort")
    if len(o) == 0:
        return out
    from_end = o.groupby("customer_id").cumcount(ascending=False).to_numpy()
    o = o[from_end < max_orders]
    slot = pd.DataFrame({"order_id": o["order_id"].to_numpy(),
                         "row": np.array([pos_of[c] for c in o["customer_id"]], dtype=np.int64),
                         "pos": o.groupby("customer_id").cumcount().to_numpy()})
    it = items.merge(slot, on="order_id", how="inner")
    if len(it) == 0:
        return out
    it = it.assign(line_amount=it["quantity"].to_numpy(np.float64) * it["unit_cents"].to_numpy(np.float64))
    it = it.sort_values(["row", "pos", "line_amount", "line_no"], ascending=[True, True, False, True], kind="mergesort")
    k = it.groupby(["row", "pos"]).cumcount().to_numpy()
    it, k = it[k < max_lines], k[k < max_lines]
    r, p = it["row"].to_numpy(), it["pos"].to_numpy()
    out["cat"][r, p, k] = it["category"].to_numpy(np.int64) + 1
    out["prod"][r, p, k] = it["product_id"].to_numpy(np.int64) + 1
    out["qty"][r, p, k] = it["quantity"].to_numpy(np.float64)
    out["price"][r, p, k] = it["unit_cents"].to_numpy(np.float64) / 100.0
    out["lmask"][r, p, k] = 1.0
    return out


def item_tokens_for(ds, items: pd.DataFrame, df: pd.DataFrame, max_orders: int = SEQ_LEN, max_lines: int = 4) -> dict:
    """item_tokens for the rows of a table (grouped by cutoff), aligned with df's row order."""
    n = len(df)
    out = None
    for t, idx in df.groupby("cutoff_ms").indices.items():
        tok = item_tokens(ds.orders, items, int(t), df["customer_id"].to_numpy()[idx], max_orders, max_lines)
        if out is None:
            out = {k: np.zeros((n,) + v.shape[1:], v.dtype) for k, v in tok.items()}
        for k, v in tok.items():
            out[k][idx] = v
    return out


def item_aggregates(tok: dict, n_categories: int) -> tuple:
    """Hand-made tabular summaries of the same tokens, so a tree model gets the item information too
    (the fair comparison: does the gain need a sequence model, or only the items?). Returns
    (matrix [N, F], names): quantity shares per category in the last order and in the last 3 orders,
    lines in the last order, mean log unit price of the last order minus that of all earlier
    tokenised orders (price trend), and the share of the last 3 orders' quantity in the most bought
    category of the customer's tokenised history (basket focus)."""
    mask, lmask, cat, qty, price = tok["mask"], tok["lmask"], tok["cat"], tok["qty"], tok["price"]
    n, s, _ = cat.shape
    length = mask.sum(axis=1).astype(np.int64)
    pos = np.arange(s)[None, :]
    last = (pos == (length - 1)[:, None]) & (length[:, None] > 0)
    last3 = (pos >= (length - 3)[:, None]) & (pos < length[:, None])
    w = qty * lmask
    onehot = np.stack([(cat == c + 1) for c in range(n_categories)], axis=-1)  # [N,S,L,C]
    per_order = (onehot * w[..., None]).sum(axis=2)                                # [N,S,C]

    def shares(sel):
        tot = (per_order * sel[..., None]).sum(axis=1)
        return tot / np.maximum(tot.sum(axis=1, keepdims=True), 1e-9)
    sh_last, sh_last3 = shares(last), shares(last3)
    lp = np.log(np.maximum(price, 0.01))
    order_lp = (lp * w).sum(axis=2) / np.maximum(w.sum(axis=2), 1e-9)             # [N,S]
    lp_last = (order_lp * last).sum(axis=1)
    earlier = (pos < (length - 1)[:, None]).astype(np.float64)
    n_earlier = earlier.sum(axis=1)
    lp_earlier = np.where(n_earlier > 0, (order_lp * earlier).sum(axis=1) / np.maximum(n_earlier, 1), np.nan)
    trend = np.where(length > 0, lp_last - lp_earlier, np.nan)
    lines_last = (lmask.sum(axis=2) * last).sum(axis=1)
    hist = (per_order * mask[..., None]).sum(axis=1)
    top = hist.argmax(axis=1)
    focus = sh_last3[np.arange(n), top]
    mat = np.column_stack([sh_last, sh_last3, lines_last, trend, np.where(length > 0, focus, np.nan)])
    mat[length == 0] = np.nan
    names = ([f"last_order_share_cat{c}" for c in range(n_categories)]
             + [f"last3_share_cat{c}" for c in range(n_categories)]
             + ["last_order_lines", "log_unit_price_trend", "last3_focus"])
    return mat, names
