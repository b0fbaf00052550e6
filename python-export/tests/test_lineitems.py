"""The generated line-item log (segments/lineitems.py) and the item tokens (segments/item_tokens.py)."""
import numpy as np
import pandas as pd
import pytest

from segments.data import DAY_MS, day_to_ms
from segments.features import compute_sequences
from segments.item_tokens import item_aggregates, item_tokens, item_tokens_for
from segments.lineitems import (CATEGORIES, ITEM_COLUMNS, PRODUCTS_PER_CATEGORY, cdnow_items, frame_sha256, generate)

END = "2026-01-01"


@pytest.fixture(scope="module")
def small():
    return generate(400, seed=3, start="2025-01-01", end=END)


def test_generator_is_deterministic(small):
    ds, items, states = small
    ds2, items2, states2 = generate(400, seed=3, start="2025-01-01", end=END)
    pd.testing.assert_frame_equal(ds.orders, ds2.orders)
    pd.testing.assert_frame_equal(ds.customers, ds2.customers)
    pd.testing.assert_frame_equal(items, items2)
    pd.testing.assert_frame_equal(states, states2)
    assert ds.sources[0]["sha256"] == frame_sha256(items2)
    _, other, _ = generate(400, seed=4, start="2025-01-01", end=END)
    assert frame_sha256(other) != frame_sha256(items)


def test_generator_schema_and_consistency(small):
    ds, items, states = small
    o = ds.orders
    assert list(items.columns) == ITEM_COLUMNS
    assert (o["status"] == "paid").all() and o["paid"].all() and o["amount_known"].all()
    assert (o["t_ms"] >= day_to_ms("2025-01-01")).all() and (o["t_ms"] < day_to_ms(END)).all()
    assert o["order_id"].is_unique
    assert set(items["order_id"]) == set(o["order_id"])
    assert set(states["order_id"]) == set(o["order_id"])
    # an order's amount and item count are the sums of its lines
    line = items.assign(c=items["quantity"] * items["unit_cents"]).groupby("order_id").agg(c=("c", "sum"), q=("quantity", "sum"))
    oo = o.set_index("order_id").loc[line.index]
    assert (oo["cents"].to_numpy() == line["c"].to_numpy()).all()
    assert (oo["item_count"].to_numpy() == line["q"].to_numpy()).all()
    assert items["category"].between(0, len(CATEGORIES) - 1).all()
    assert (items["product_id"] // PRODUCTS_PER_CATEGORY == items["category"]).all()
    assert (items["quantity"] >= 1).all() and (items["unit_cents"] >= 1).all()
    first = o.groupby("customer_id")["t_ms"].min()
    c = ds.customers.set_index("customer_id")
    assert (c.loc[first.index, "created_ms"].to_numpy() == first.to_numpy()).all()
    # orders of one customer are time-ordered with increasing sequence numbers
    assert (o.groupby("customer_id")["order_id"].apply(lambda s: list(s) == sorted(s))).all()


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError):
        generate(0)
    with pytest.raises(ValueError):
        generate(10, start="2025-12-01", end="2026-01-01")


def _cutoff_and_ids(ds):
    t = day_to_ms("2025-08-01")
    ids = np.array(sorted(ds.orders.loc[ds.orders["t_ms"] <= t, "customer_id"].unique()), dtype=object)
    return t, ids


def test_tokens_read_only_orders_up_to_the_cutoff(small):
    ds, items, _ = small
    t, ids = _cutoff_and_ids(ds)
    full = item_tokens(ds.orders, items, t, ids, max_orders=8, max_lines=3)
    # the same log cut at T: identical tokens
    past = ds.orders[ds.orders["t_ms"] <= t]
    cut = item_tokens(past, items[items["order_id"].isin(past["order_id"])], t, ids, max_orders=8, max_lines=3)
    for k in full:
        np.testing.assert_array_equal(full[k], cut[k], err_msg=k)
    # rewriting every line of every later order changes nothing at T
    future = set(ds.orders.loc[ds.orders["t_ms"] > t, "order_id"])
    assert future, "the fixture must have orders after the cutoff"
    changed = items.copy()
    f = changed["order_id"].isin(future)
    changed.loc[f, "category"] = 0
    changed.loc[f, "product_id"] = 0
    changed.loc[f, "quantity"] = 99
    changed.loc[f, "unit_cents"] = 123456
    again = item_tokens(ds.orders, changed, t, ids, max_orders=8, max_lines=3)
    for k in full:
        np.testing.assert_array_equal(full[k], again[k], err_msg=k)
    # and the order tokens are exactly features.compute_sequences'
    seq, mask = compute_sequences(ds.orders, t, ids, 8)
    np.testing.assert_array_equal(full["seq"], seq)
    np.testing.assert_array_equal(full["mask"], mask)
    # no line without an order, and every order has at least one line
    assert (full["lmask"].max(axis=2) == full["mask"]).all()


def test_tokens_hold_the_largest_lines_of_the_right_orders(small):
    ds, items, _ = small
    t, ids = _cutoff_and_ids(ds)
    tok = item_tokens(ds.orders, items, t, ids, max_orders=8, max_lines=2)
    o = ds.orders[ds.orders["t_ms"] <= t]
    row = {c: i for i, c in enumerate(ids)}
    checked = 0
    for cid, g in o.groupby("customer_id"):
        last = g.sort_values(["t_ms", "order_id"]).tail(8)
        for pos, oid in enumerate(last["order_id"]):
            li = items[items["order_id"] == oid].assign(a=lambda d: d["quantity"] * d["unit_cents"])
            li = li.sort_values(["a", "line_no"], ascending=[False, True], kind="mergesort").head(2)
            r = row[cid]
            assert tok["lmask"][r, pos].sum() == len(li)
            np.testing.assert_array_equal(tok["cat"][r, pos, :len(li)], li["category"].to_numpy() + 1)
            np.testing.assert_array_equal(tok["prod"][r, pos, :len(li)], li["product_id"].to_numpy() + 1)
            np.testing.assert_allclose(tok["price"][r, pos, :len(li)], li["unit_cents"].to_numpy() / 100.0)
            checked += 1
        if checked > 200:
            break
    assert checked > 50


def test_tokens_for_a_table_match_per_cutoff(small):
    ds, items, _ = small
    t1, t2 = day_to_ms("2025-06-01"), day_to_ms("2025-09-01")
    ids = sorted(ds.orders.loc[ds.orders["t_ms"] <= t1, "customer_id"].unique())[:30]
    df = pd.DataFrame({"cutoff_ms": [t2] * len(ids) + [t1] * len(ids), "customer_id": ids + ids})
    tok = item_tokens_for(ds, items, df, max_orders=4, max_lines=2)
    a = item_tokens(ds.orders, items, t2, ids, 4, 2)
    b = item_tokens(ds.orders, items, t1, ids, 4, 2)
    for k in tok:
        np.testing.assert_array_equal(tok[k][:len(ids)], a[k])
        np.testing.assert_array_equal(tok[k][len(ids):], b[k])


def test_item_aggregates(small):
    ds, items, _ = small
    t, ids = _cutoff_and_ids(ds)
    ids = np.concatenate([ids, np.array(["nobody"], dtype=object)])
    tok = item_tokens(ds.orders, items, t, ids, max_orders=8, max_lines=4)
    mat, names = item_aggregates(tok, len(CATEGORIES))
    assert mat.shape == (len(ids), len(names))
    c = len(CATEGORIES)
    np.testing.assert_allclose(mat[:-1, :c].sum(axis=1), 1.0)
    np.testing.assert_allclose(mat[:-1, c:2 * c].sum(axis=1), 1.0)
    assert np.isnan(mat[-1]).all()  # a customer without orders has no item summaries


def test_cdnow_items_are_one_line_per_order():
    from helpers import make_orders
    o = make_orders([("a", day_to_ms("1997-01-02"), "30.00", 3), ("a", day_to_ms("1997-02-02"), "11.99", 1),
                     ("b", day_to_ms("1997-01-05"), "0.00", 0)])
    from segments.data import Dataset
    it = cdnow_items(Dataset("t", o, pd.DataFrame(), []))
    assert len(it) == 3 and (it["line_no"] == 0).all() and (it["category"] == 0).all()
    np.testing.assert_allclose(it["quantity"] * it["unit_cents"], [3000, 1199, 0])


def test_item_transformer_trains_and_predicts(small):
    torch = pytest.importorskip("torch")  # noqa: F841
    from segments import item_transformer
    ds, items, _ = small
    t, ids = _cutoff_and_ids(ds)
    from segments.features import compute_features
    X = compute_features(ds.orders, ds.customers, t, ids).to_numpy()
    tok = item_tokens(ds.orders, items, t, ids, max_orders=8, max_lines=3)
    y = np.arange(len(ids)) % 3
    n = np.arange(len(ids)) % 4
    model, info = item_transformer.train(X, tok, y, n, X, tok, y, len(CATEGORIES), len(CATEGORIES) * PRODUCTS_PER_CATEGORY,
                                         aux_weight=0.5, epochs=1, batch=64, log=lambda *_: None)
    p = item_transformer.predict_proba(model, X, tok)
    assert p.shape == (len(ids), 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert info["epochs_run"] == 1 and DAY_MS > 0
