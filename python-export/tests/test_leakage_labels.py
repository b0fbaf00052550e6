"""No leakage (orders after T never change a feature) and label construction."""
import numpy as np
import pandas as pd
import pytest

from helpers import DAY_MS, T, make_customers, make_orders
from segments.data import _finish_orders
from segments.dataset import Plan, build_rows, build_tables, customer_bucket
from segments.features import FEATURES, compute_features, compute_sequences
from segments.labels import ACTIVE, HIGH_VALUE, LAPSING, assign_labels, high_value_threshold, horizon_outcome


def _mutate_after(orders: pd.DataFrame, t_ms: int, rng) -> pd.DataFrame:
    o = orders.copy()
    after = o["t_ms"] > t_ms
    n = int(after.sum())
    assert n > 0
    o.loc[after, "cents"] = rng.randint(0, 10**6, n)
    o.loc[after, "item_count"] = rng.randint(1, 50, n)
    o.loc[after, "status"] = rng.choice(["paid", "refunded", "cancelled"], n)
    o.loc[after, "t_ms"] = o.loc[after, "t_ms"] + rng.randint(1, 10**9, n)   # moved, still after T
    extra = o[after].head(50).copy()
    extra["order_id"] = [f"extra-{i}" for i in range(len(extra))]
    extra["t_ms"] = t_ms + 1
    o = pd.concat([o.drop(o[after].index[::3]), extra], ignore_index=True)  # delete some, add some
    return _finish_orders(o.drop(columns=["paid"]))


@pytest.mark.parametrize("as_of", ["2025-06-01", "2026-01-01"])
def test_changing_orders_after_T_changes_no_feature(fixture_ds, as_of):
    t = int(pd.Timestamp(as_of, tz="UTC").value // 1_000_000)
    rng = np.random.RandomState(7)
    base = compute_features(fixture_ds.orders, fixture_ds.customers, t)
    mutated_orders = _mutate_after(fixture_ds.orders, t, rng)
    assert not mutated_orders[mutated_orders["t_ms"] > t].reset_index(drop=True).equals(
        fixture_ds.orders[fixture_ds.orders["t_ms"] > t].reset_index(drop=True))
    changed = compute_features(mutated_orders, fixture_ds.customers, t, base.index)
    pd.testing.assert_frame_equal(base, changed, check_exact=True)
    s1, m1 = compute_sequences(fixture_ds.orders, t, base.index)
    s2, m2 = compute_sequences(mutated_orders, t, base.index)
    assert np.array_equal(s1, s2) and np.array_equal(m1, m2)


def test_changing_an_order_before_T_does_change_features(fixture_ds):
    o = fixture_ds.orders.copy()
    i = o.index[(o["customer_id"] == "fx-0001") & (o["t_ms"] == T)][0]
    o.loc[i, "cents"] += 100
    f0 = compute_features(fixture_ds.orders, fixture_ds.customers, T, ["fx-0001"])
    f1 = compute_features(o, fixture_ds.customers, T, ["fx-0001"])
    assert f1.loc["fx-0001", "spend_all"] == f0.loc["fx-0001", "spend_all"] + 1.0


def test_horizon_window_is_half_open():
    H = 90
    o = make_orders([
        ("at_T", T, "10.00", 1),                       # at T: feature, not label
        ("just_after", T + 1, "10.00", 1),
        ("at_end", T + H * DAY_MS, "10.00", 1),        # T+H: in the label window
        ("past_end", T + H * DAY_MS + 1, "10.00", 1),  # after the window
        ("refund", T + DAY_MS, "50.00", 1, "refunded"),
    ])
    out = horizon_outcome(o, T, H, ["at_T", "just_after", "at_end", "past_end", "refund"])
    assert out["horizon_orders"].tolist() == [0, 1, 1, 0, 0]
    assert out["horizon_cents"].tolist() == [0, 1000, 1000, 0, 0]


def test_threshold_and_classes():
    cents = np.array([0, 0, 1000, 2000, 3000, 4000, 5000])
    thr = high_value_threshold(cents)
    assert thr == pytest.approx(np.percentile([10, 20, 30, 40, 50], 80))  # 42.0
    assert thr == 42.0
    y = assign_labels([0, 0, 1, 1, 2, 1, 3], cents, thr)
    assert y.tolist() == [LAPSING, LAPSING, ACTIVE, ACTIVE, ACTIVE, ACTIVE, HIGH_VALUE]
    # at the threshold -> high_value; a zero-spend horizon order -> active
    assert assign_labels([1, 1], [4200, 0], 42.0).tolist() == [HIGH_VALUE, ACTIVE]


def test_tables_split_customers_and_periods(fixture_ds):
    d = DAY_MS
    plan = Plan(horizon_days=90, train_cutoffs=[T - 270 * d, T - 180 * d, T - 90 * d], test_cutoff=T,
                data_end=T + 90 * d)
    tables = build_tables(fixture_ds, plan)
    train_ids = set(tables.train["customer_id"]) | set(tables.valid["customer_id"])
    test_ids = set(tables.test["customer_id"])
    assert train_ids and test_ids and not (train_ids & test_ids)
    assert set(tables.test["cutoff_ms"]) == {T}
    assert T not in set(tables.train["cutoff_ms"])
    # every training label window ends at or before the test cutoff
    assert (tables.train["cutoff_ms"] + 90 * d <= T).all()
    assert tables.threshold == high_value_threshold(tables.train["horizon_cents"])
    for b in map(customer_bucket, test_ids):
        assert b < 0.2
    with pytest.raises(ValueError):
        build_tables(fixture_ds, Plan(90, [T], T + d, data_end=T + 90 * d))


def test_build_rows_labels_match_direct_computation(fixture_ds):
    rows = build_rows(fixture_ds, T, 90).set_index("customer_id")
    o = fixture_ds.orders
    for cid in ["fx-0001", "fx-0003", "fx-0005", "fx-0007"]:
        m = (o["customer_id"] == cid) & o["paid"] & (o["t_ms"] > T) & (o["t_ms"] <= T + 90 * DAY_MS)
        assert rows.loc[cid, "horizon_orders"] == m.sum()
        assert rows.loc[cid, "horizon_cents"] == o.loc[m, "cents"].sum()
    assert rows.loc["fx-0003", "horizon_orders"] == 0   # only a refund after T
