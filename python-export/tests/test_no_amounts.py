"""Logs without amounts (`npm run import -- --no-amounts`): features do not pretend to know money, and
high_value is defined by order count, with the rule recorded in the card."""
import copy
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import FIXTURE_DIR
from helpers import DAY_MS, T, make_customers, make_orders
from segments.data import load_interface
from segments.dataset import DefinitionError, Plan, build_tables, choose_definition
from segments.features import FEATURES, compute_features, compute_sequences
from segments.labels import ACTIVE, HIGH_VALUE, LAPSING, assign_labels_by_orders, high_value_order_threshold
from segments.metrics import RFMRules

MONEY = ["spend_30d", "spend_90d", "spend_180d", "spend_365d", "spend_all", "monetary_mean", "monetary_max",
         "spend_trend_90d"]


def _unknown(orders, mask):
    o = orders.copy()
    o.loc[mask, "cents"] = 0
    o.loc[mask, "amount_known"] = False
    return o


def test_an_empty_amount_in_orders_csv_is_unknown(tmp_path):
    shutil.copy(FIXTURE_DIR / "customers.csv", tmp_path / "customers.csv")
    o = pd.read_csv(FIXTURE_DIR / "orders.csv", dtype=str, keep_default_na=False)
    o.loc[o.index[:10], "amount"] = ""
    o.to_csv(tmp_path / "orders.csv", index=False)
    ds = load_interface(tmp_path)
    unknown = ds.orders[~ds.orders["amount_known"]]
    assert len(unknown) == 10 and (unknown["cents"] == 0).all()
    assert ds.summary()["paid_orders_without_amount"] == int((~ds.orders["amount_known"] & ds.orders["paid"]).sum())


def test_money_features_are_nan_where_a_window_holds_an_order_without_amount():
    o = make_orders([
        ("a", T - 10 * DAY_MS, "10.00", 1),    # in every window
        ("a", T - 100 * DAY_MS, "20.00", 2),   # in 180d, 365d, all
        ("b", T - 200 * DAY_MS, "30.00", 1),
        ("b", T - 5 * DAY_MS, "40.00", 1),
    ])
    o = _unknown(o, (o["customer_id"] == "a") & (o["t_ms"] == T - 100 * DAY_MS))
    c = make_customers([("a", np.nan, "", ""), ("b", np.nan, "", "")])
    f = compute_features(o, c, T, ["a", "b"])
    a, b = f.loc["a"], f.loc["b"]
    assert a["spend_30d"] == 10.0 and a["spend_90d"] == 10.0          # the unknown order is outside
    for k in ["spend_180d", "spend_365d", "spend_all", "monetary_mean", "monetary_max", "spend_trend_90d"]:
        assert np.isnan(a[k]), k
    # counts still count the order without amount
    assert a["orders_all"] == 2 and a["orders_180d"] == 2 and a["items_all"] == 3 and a["purchase_days_all"] == 2
    # another customer is unaffected
    assert b["spend_all"] == 70.0 and b["monetary_max"] == 40.0 and b["spend_trend_90d"] == 40.0
    seq, mask = compute_sequences(o, T, ["a"], 4)
    assert seq[0, 0, 0] == 0.0 and seq[0, 1, 0] == 10.0 and mask[0].sum() == 2


def test_with_every_amount_known_nothing_changes(fixture_ds):
    f = compute_features(fixture_ds.orders, fixture_ds.customers, T)
    o = fixture_ds.orders.drop(columns=["amount_known"])
    g = compute_features(o, fixture_ds.customers, T)
    np.testing.assert_array_equal(f[FEATURES].to_numpy(), g[FEATURES].to_numpy())


def test_order_threshold_and_labels():
    assert high_value_order_threshold([0, 0, 1, 1, 1, 2, 3, 5]) == 3      # p80 of [1,1,1,2,3,5] = 3
    assert high_value_order_threshold([0, 1, 1, 1, 1]) == 2               # never 1: active must exist
    with pytest.raises(ValueError):
        high_value_order_threshold([0, 0])
    assert assign_labels_by_orders([0, 1, 2, 3, 7], 3).tolist() == [LAPSING, ACTIVE, ACTIVE, HIGH_VALUE, HIGH_VALUE]


def _plan():
    d = DAY_MS
    return Plan(horizon_days=90, train_cutoffs=[T - 270 * d, T - 180 * d, T - 90 * d], test_cutoff=T, data_end=T + 90 * d)


def test_definition_rule_all_none_and_mixed(fixture_ds):
    known = build_tables(fixture_ds, _plan())
    assert known.definition == "spend" and "has an amount" in known.definition_reason

    none = copy.copy(fixture_ds)
    none.orders = _unknown(fixture_ds.orders, np.ones(len(fixture_ds.orders), dtype=bool))
    t = build_tables(none, _plan())
    assert t.definition == "orders" and isinstance(t.threshold, int) and t.threshold >= 2
    for part in (t.train, t.valid, t.test):
        np.testing.assert_array_equal(part["label"], assign_labels_by_orders(part["horizon_orders"], t.threshold))
        assert np.isnan(part["spend_all"][part["orders_all"] > 0]).all()
    assert (t.train["label"] == HIGH_VALUE).any() and (t.train["label"] == ACTIVE).any()

    # Mixed: amounts unknown only before the first label window -> spend still defines high_value
    # (features of those customers are NaN where their windows hold such orders).
    first_window = _plan().train_cutoffs[0]
    early = copy.copy(fixture_ds)
    early.orders = _unknown(fixture_ds.orders, (fixture_ds.orders["t_ms"] <= first_window).to_numpy())
    assert build_tables(early, _plan()).definition == "spend"
    # ...but one order without amount inside a label window -> by order count, saying how many.
    one = copy.copy(fixture_ds)
    c = _plan().train_cutoffs[-1]
    row = known.train[(known.train["cutoff_ms"] == c) & (known.train["horizon_orders"] > 0)].iloc[0]
    o = fixture_ds.orders
    inside = np.flatnonzero(((o["customer_id"] == row["customer_id"]) & (o["t_ms"] > c) & (o["t_ms"] <= c + 90 * DAY_MS)
                             & o["paid"]).to_numpy())[:1]
    m = np.zeros(len(fixture_ds.orders), dtype=bool)
    m[inside] = True
    one.orders = _unknown(fixture_ds.orders, m)
    t1 = build_tables(one, _plan())
    assert t1.definition == "orders" and t1.definition_reason.startswith("by order count: 1 of the ")
    with pytest.raises(DefinitionError, match="cannot define high_value by spend"):
        build_tables(one, _plan(), "spend")
    assert build_tables(fixture_ds, _plan(), "orders").definition == "orders"
    with pytest.raises(ValueError):
        choose_definition([], "money")


def test_rfm_baseline_without_amounts_uses_recency_and_frequency(fixture_ds):
    none = copy.copy(fixture_ds)
    none.orders = _unknown(fixture_ds.orders, np.ones(len(fixture_ds.orders), dtype=bool))
    t = build_tables(none, _plan())
    X, y = t.xy("train")
    r = RFMRules().fit(X, y)
    assert r.m_edges.tolist() == [0, 0, 0, 0]   # only customers without orders have a known (0) spend
    p = r.predict_proba(t.xy("test")[0])
    assert np.isfinite(p).all() and (r.segments(X) == HIGH_VALUE).any()
