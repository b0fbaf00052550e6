"""Feature definitions against values computed by hand from features.json."""
import json
import math

import numpy as np
import pytest

from helpers import DAY_MS, T, make_customers, make_orders
from segments.data import amount_to_cents, iso_to_ms, load_interface
from segments.features import FEATURES, SPEC, compute_features, compute_sequences, population

H = 3_600_000


def feats(orders, customers, t=T, ids=None):
    return compute_features(orders, customers, t, ids)


def test_spec_order_and_names_unique():
    assert len(FEATURES) == len(set(FEATURES)) == 27
    for f in SPEC["features"]:
        assert f["unit"] and f["definition"]


def test_amount_parsing_is_exact():
    assert list(amount_to_cents(["0.00", "0.01", "12.3", "1234567.89", "-5.10", "7"])) == [0, 1, 1230, 123456789, -510, 700]


def test_iso_parsing_ms():
    assert list(iso_to_ms(["1970-01-01T00:00:00.000Z", "2026-03-01T14:03:00.123Z"])) == [0, 1772373780123]


def test_hand_computed_customer():
    o = make_orders([
        ("a", T, "10.00", 1),                        # at T: counted
        ("a", T - 30 * DAY_MS, "20.00", 2),          # exactly T-30d: not in 30d window
        ("a", T - 30 * DAY_MS + 1, "30.05", 1),      # in 30d window, same UTC day as previous
        ("a", T - 90 * DAY_MS, "40.10", 3),          # exactly T-90d: in 180d, not in 90d
        ("a", T - 400 * DAY_MS, "5.55", 1),
        ("a", T + 1, "999.00", 9),                   # after T: ignored
        ("a", T - 5 * DAY_MS, "77.00", 1, "refunded"),  # ignored
        ("a", T - 6 * DAY_MS, "66.00", 1, "cancelled"),  # ignored
    ])
    c = make_customers([("a", T - 800 * DAY_MS, "1990-06-15", "F")])
    f = feats(o, c).loc["a"]
    assert f["recency_days"] == 0.0
    assert f["days_since_first_order"] == 400.0
    assert f["tenure_days"] == 800.0
    assert (f["orders_30d"], f["orders_90d"], f["orders_180d"], f["orders_365d"], f["orders_all"]) == (2, 3, 4, 4, 5)
    assert (f["purchase_days_30d"], f["purchase_days_90d"], f["purchase_days_180d"], f["purchase_days_all"]) == (2, 2, 3, 4)
    assert f["spend_30d"] == 40.05
    assert f["spend_90d"] == 60.05
    assert f["spend_180d"] == 100.15
    assert f["spend_all"] == 105.70
    assert f["monetary_mean"] == 105.70 / 5
    assert f["monetary_max"] == 40.10
    assert f["items_all"] == 8
    # purchase days: T-400, T-90, T-30, T -> gaps 310, 60, 30
    gaps = np.array([310.0, 60.0, 30.0])
    assert f["ipt_mean_days"] == pytest.approx(400 / 3, abs=1e-12)
    assert f["ipt_std_days"] == pytest.approx(math.sqrt(((gaps - 400 / 3) ** 2).sum() / 3), abs=1e-12)
    assert f["spend_trend_90d"] == pytest.approx(60.05 - 40.10, abs=1e-12)
    assert f["orders_trend_90d"] == 3 - 1
    # 1990-06-15 -> 2026-01-01 = 12984 days
    assert f["age_years"] == 12984 / 365.25
    assert f["is_female"] == 1.0


def test_fractional_days_and_day_boundaries():
    o = make_orders([
        ("b", T - 10 * DAY_MS - 1, "1.00", 1),       # 23:59:59.999 on day D-11
        ("b", T - 10 * DAY_MS, "2.00", 1),           # 00:00 of day D-10
        ("b", T - 10 * DAY_MS + 6 * H, "3.00", 1),   # same UTC day
    ])
    c = make_customers([("b", np.nan, "", "")])
    f = feats(o, c).loc["b"]
    assert f["recency_days"] == 10 - 0.25
    assert f["days_since_first_order"] == (10 * DAY_MS + 1) / DAY_MS
    assert f["orders_all"] == 3 and f["purchase_days_all"] == 2
    assert f["ipt_mean_days"] == 1.0
    assert math.isnan(f["ipt_std_days"])           # one gap only
    assert math.isnan(f["tenure_days"]) and math.isnan(f["age_years"]) and math.isnan(f["is_female"])


def test_customer_without_counted_orders():
    o = make_orders([("x", T - DAY_MS, "5.00", 1, "refunded"), ("x", T + DAY_MS, "5.00", 1)])
    c = make_customers([("x", T - 3 * DAY_MS, "", "M")])
    f = feats(o, c).loc["x"]
    for n in ["recency_days", "days_since_first_order", "monetary_mean", "monetary_max", "ipt_mean_days", "ipt_std_days"]:
        assert math.isnan(f[n]), n
    for n in FEATURES:
        if n.startswith(("orders_", "purchase_days_", "spend_")) or n == "items_all":
            assert f[n] == 0.0, n
    assert f["is_female"] == 0.0 and f["tenure_days"] == 3.0


def test_population_rule():
    o = make_orders([("has_order", T - DAY_MS, "1.00", 1), ("future", T + DAY_MS, "1.00", 1)])
    c = make_customers([("has_order", np.nan, "", ""), ("future", T + 1.0, "", ""),
                        ("registered", T - 5.0, "", ""), ("future2", np.nan, "", "")])
    assert list(population(o, c, T)) == ["has_order", "registered"]


def test_std_is_population_std():
    # purchase days at T-30, T-20, T-5, T -> gaps 10, 15, 5
    o = make_orders([("s", T - d * DAY_MS, "1.00", 1) for d in (30, 20, 5, 0)])
    c = make_customers([("s", np.nan, "", "")])
    f = feats(o, c).loc["s"]
    assert f["ipt_mean_days"] == 10.0
    assert f["ipt_std_days"] == pytest.approx(np.std([10, 15, 5], ddof=0), abs=1e-12)


def test_sequences():
    o = make_orders([
        ("q", T - 3 * DAY_MS, "1.00", 1),
        ("q", T - 2 * DAY_MS, "2.00", 2),
        ("q", T - 2 * DAY_MS, "3.00", 3),
        ("q", T - DAY_MS + 12 * H, "4.00", 4),
        ("q", T + DAY_MS, "5.00", 5),
    ])
    seq, mask = compute_sequences(o, T, ["q", "none"], max_len=3)
    assert mask.tolist() == [[1, 1, 1], [0, 0, 0]]
    # the last three counted orders, oldest first; the first kept order's gap reaches back to T-3d
    assert seq[0, :, 0].tolist() == [2.0, 3.0, 4.0]
    assert seq[0, :, 1].tolist() == [2, 3, 4]
    assert seq[0, :, 2].tolist() == [1.0, 0.0, 1.5]
    assert seq[0, :, 3].tolist() == [2.0, 2.0, 0.5]
    # 2025-12-30 is a Tuesday (Monday = 0)
    assert seq[0, 0, 4] == 1.0 and seq[0, 2, 4] == 2.0
    assert (seq[1] == 0).all()


def test_fixture_edge_customers(fixture_ds):
    f = compute_features(fixture_ds.orders, fixture_ds.customers, T)
    assert f.loc["fx-0003", "orders_all"] == 1 and f.loc["fx-0003", "spend_all"] == 25.0
    assert f.loc["fx-0004", "orders_all"] == 0
    assert "fx-0005" in f.index and f.loc["fx-0005", "orders_all"] == 0  # registered before T
    assert math.isnan(f.loc["fx-0006", "is_female"])                      # gender 'X'
    assert f.loc["fx-0008", "spend_365d"] == 0.01 and f.loc["fx-0008", "purchase_days_all"] == 2
