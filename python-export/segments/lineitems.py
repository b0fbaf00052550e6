"""Line items: a seeded synthetic line-item log with sequence structure, and CDNOW as one line per order.

Why a synthetic set: the Transformer's claim is that the order sequence carries information the 27
tabular features do not. CDNOW (one row per order: date, number of CDs, amount) cannot test that
claim when the sequence holds only what the features already summarise. This generator is built on
purpose so that it can: the future depends on a hidden customer state that shows mainly in WHAT the
customer buys (category mix, basket size, unit prices and their trend), and only weakly in when and
how much. It is a test bench for "can the model use item structure when it exists", not evidence
about any real shop.

Generative story (all draws from one numpy Generator seeded by `seed`, so the output is a pure
function of the arguments):

* 8 categories, 24 products each; a product's list price = its category's base price x lognormal(0, 0.3).
* Each customer arrives (first order) uniformly in [start, end - 30 days] and has a personal rate
  multiplier ~ Gamma(4, 1/4) (heterogeneity, as BG/NBD assumes).
* A hidden state drives every order: exploring (E), committed (C), fading (F) or gift buyer (G);
  initial state E 55 %, G 25 %, C 8 %, F 12 %.
* An order in state s has 1 + Poisson(lines_s) lines; each line's category ~ CATEGORY_MIX[s]
  (overlapping distributions, so one basket is a noisy signal), product uniform within it, quantity
  1 + Poisson(q) (refills come in larger quantities), unit price = list price x PRICE_LEVEL[s] x
  lognormal(0, 0.15); in state F the price level also falls by 12 % per consecutive fading order
  (trading down).
* After each order the customer stops for good with probability DEATH[s] (the state decides it, so
  a fading or gift basket predicts "no more orders"), else moves to the next state (TRANSITION[s]) and
  orders again after Exponential(GAP_DAYS[next] / rate multiplier) days.

What RFM-style features can see: timing and amounts (a committed customer buys more often and
spends more). What they cannot: which categories the last baskets held and whether unit prices
fall, i.e. the state itself, which decides both the death probability and the next gap.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .data import DAY_MS, Dataset, _finish_orders, day_to_ms, ms_to_iso

CATEGORIES = ["starter_kit", "refill", "accessory", "premium", "gift", "clearance", "basics", "seasonal"]
CATEGORY_BASE_PRICE = np.array([40.0, 12.0, 20.0, 80.0, 35.0, 8.0, 15.0, 25.0])
PRODUCTS_PER_CATEGORY = 24
STATES = ["exploring", "committed", "fading", "gift"]
INITIAL = np.array([0.55, 0.08, 0.12, 0.25])
CATEGORY_MIX = np.array([
    # starter refill access premium gift  clear  basics season
    [0.25, 0.10, 0.15, 0.05, 0.05, 0.05, 0.25, 0.10],  # exploring
    [0.03, 0.35, 0.12, 0.25, 0.03, 0.02, 0.12, 0.08],  # committed
    [0.05, 0.10, 0.05, 0.02, 0.03, 0.40, 0.25, 0.10],  # fading
    [0.03, 0.02, 0.05, 0.10, 0.60, 0.02, 0.08, 0.10],  # gift
])
EXTRA_LINES = np.array([1.0, 1.6, 0.6, 0.4])     # lines per order = 1 + Poisson(.)
PRICE_LEVEL = np.array([1.0, 1.05, 0.85, 1.0])
FADING_STEP = 0.88                                # price level x 0.88 per consecutive fading order
DEATH = np.array([0.25, 0.03, 0.50, 0.80])
TRANSITION = np.array([
    [0.45, 0.35, 0.20, 0.00],
    [0.00, 0.85, 0.15, 0.00],
    [0.25, 0.10, 0.65, 0.00],
    [0.30, 0.00, 0.00, 0.70],
])
GAP_DAYS = np.array([45.0, 40.0, 45.0, 60.0])
REFILL = CATEGORIES.index("refill")

ITEM_COLUMNS = ["order_id", "customer_id", "line_no", "product_id", "category", "quantity", "unit_cents"]


def generate(n_customers: int = 20000, seed: int = 7, start: str = "2024-01-01", end: str = "2026-01-01"):
    """(Dataset, items DataFrame, states DataFrame). Orders carry amount = sum(quantity x unit price)
    and item_count = sum(quantity); `items` has ITEM_COLUMNS (category is an index into CATEGORIES,
    product_id in 0 .. 8 x 24 - 1); `states` (order_id, state) is the hidden truth, for the report only."""
    if n_customers < 1:
        raise ValueError("n_customers must be >= 1")
    rng = np.random.default_rng(seed)
    start_ms, end_ms = day_to_ms(start), day_to_ms(end)
    if end_ms - start_ms < 60 * DAY_MS:
        raise ValueError("the period must span at least 60 days")
    n_cat = len(CATEGORIES)
    list_price = (np.repeat(CATEGORY_BASE_PRICE, PRODUCTS_PER_CATEGORY)
                  * rng.lognormal(0.0, 0.3, n_cat * PRODUCTS_PER_CATEGORY))
    arrive = rng.uniform(start_ms, end_ms - 30 * DAY_MS, n_customers).astype(np.int64)
    rate_mult = rng.gamma(4.0, 0.25, n_customers)
    o_rows, i_rows, s_rows = [], [], []
    width = len(str(n_customers))
    for c in range(n_customers):
        cid = f"g{c:0{width}d}"
        t = int(arrive[c])
        state = int(rng.choice(4, p=INITIAL))
        fading_run = 0
        k = 0
        while t < end_ms:
            fading_run = fading_run + 1 if state == 2 else 0
            level = PRICE_LEVEL[state] * (FADING_STEP ** max(0, fading_run - 1))
            oid = f"{cid}-{k:03d}"
            n_lines = 1 + int(rng.poisson(EXTRA_LINES[state]))
            cats = rng.choice(n_cat, size=n_lines, p=CATEGORY_MIX[state])
            prods = cats * PRODUCTS_PER_CATEGORY + rng.integers(0, PRODUCTS_PER_CATEGORY, n_lines)
            qty = 1 + rng.poisson(np.where(cats == REFILL, 2.0, 0.3) * (1.5 if state == 1 else 1.0))
            unit = np.round(list_price[prods] * level * rng.lognormal(0.0, 0.15, n_lines) * 100).astype(np.int64)
            unit = np.maximum(unit, 1)
            for j in range(n_lines):
                i_rows.append((oid, cid, j, int(prods[j]), int(cats[j]), int(qty[j]), int(unit[j])))
            o_rows.append((oid, cid, t, int((qty * unit).sum()), int(qty.sum())))
            s_rows.append((oid, STATES[state]))
            k += 1
            if rng.random() < DEATH[state]:
                break
            state = int(rng.choice(4, p=TRANSITION[state]))
            t += int(rng.exponential(GAP_DAYS[state] / rate_mult[c]) * DAY_MS) + DAY_MS // 24
    orders = pd.DataFrame(o_rows, columns=["order_id", "customer_id", "t_ms", "cents", "item_count"])
    orders = orders[orders["t_ms"] < end_ms].copy()
    orders["status"] = "paid"
    items = pd.DataFrame(i_rows, columns=ITEM_COLUMNS)
    items = items[items["order_id"].isin(orders["order_id"])].reset_index(drop=True)
    states = pd.DataFrame(s_rows, columns=["order_id", "state"])
    states = states[states["order_id"].isin(orders["order_id"])].reset_index(drop=True)
    first = orders.groupby("customer_id")["t_ms"].min()
    customers = pd.DataFrame({"customer_id": first.index.astype(str), "created_ms": first.to_numpy(np.float64),
                              "birth_ms": np.nan, "gender": ""})
    digest = frame_sha256(items)
    sources = [{"path": f"generated line items (segments.lineitems.generate n_customers={n_customers} seed={seed} "
                        f"{start}..{end})", "sha256": digest, "rows": int(len(items))}]
    ds = Dataset(f"lineitems-{n_customers}-{seed}", _finish_orders(orders), customers, sources)
    return ds, items, states


def frame_sha256(df: pd.DataFrame) -> str:
    """sha256 of a frame's CSV text (stable across runs: same values, same order)."""
    return hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()


def cdnow_items(ds: Dataset) -> pd.DataFrame:
    """CDNOW has no line items: one line per order (product 0, category 0), quantity = number of CDs,
    unit price = amount / quantity (so the only item-level addition is the unit price)."""
    o = ds.orders
    qty = np.maximum(o["item_count"].to_numpy(np.int64), 1)
    return pd.DataFrame({"order_id": o["order_id"].to_numpy(), "customer_id": o["customer_id"].to_numpy(),
                         "line_no": 0, "product_id": 0, "category": 0, "quantity": qty,
                         "unit_cents": o["cents"].to_numpy(np.float64) / qty})


def write_line_item_csv(ds: Dataset, items: pd.DataFrame, path) -> None:
    """The API's line-item import format (`npm run import -- --format line-items`): order_id,
    customer_id, ordered_at, quantity, unit_price, plus product_id and category for reference."""
    t = ds.orders.set_index("order_id")["t_ms"]
    out = pd.DataFrame({
        "order_id": items["order_id"], "customer_id": items["customer_id"],
        "ordered_at": [ms_to_iso(int(v)) for v in t.reindex(items["order_id"]).to_numpy()],
        "quantity": items["quantity"], "unit_price": [f"{c / 100:.2f}" for c in items["unit_cents"]],
        "product_id": [f"p{p:03d}" for p in items["product_id"]],
        "category": [CATEGORIES[c] for c in items["category"]],
    })
    out.to_csv(path, index=False)
