"""The model card's `lifetime` section: fitted on the training customers only (the held-out test
customers cannot move it), over the calibration period before the test cutoff; and the shipped
version 1 cards carry it."""
import json
from pathlib import Path

import numpy as np

from segments.data import day_to_ms
from segments.dataset import customer_bucket, rolling_plan
from segments.lifetime import fit_bgnbd, fit_gamma_gamma, lifetime_card, rfm_summary

ROOT = Path(__file__).resolve().parents[2]


def _plan(ds):
    return rolling_plan(ds, 90, day_to_ms("2026-04-01"), n_train_cutoffs=3, min_history_days=60)


def test_fitted_on_training_customers_before_the_test_cutoff(fixture_ds):
    plan = _plan(fixture_ds)
    card = lifetime_card(fixture_ds, plan, "USD")
    s = rfm_summary(fixture_ds.orders, plan.test_cutoff, 7.0)
    train = s[[customer_bucket(c) >= plan.test_fraction for c in s.index]]
    assert 0 < card["customers"] == len(train) < len(s)
    bg, _ = fit_bgnbd(train["x"], train["t_x"], train["T"])
    gg, _ = fit_gamma_gamma(train["x"], train["m"])
    for k, v in {**bg.as_dict(), **gg.as_dict()}.items():
        assert card[k] == v, k
    assert card["calibration"]["end"].startswith("2026-01-01")
    assert card["unit_days"] == 7.0 and card["currency"] == "USD"


def test_held_out_customers_and_later_orders_do_not_move_the_parameters(fixture_ds):
    plan = _plan(fixture_ds)
    before = lifetime_card(fixture_ds, plan, "USD")
    o = fixture_ds.orders.copy()
    test_ids = {c for c in o["customer_id"].unique() if customer_bucket(c) < plan.test_fraction}
    assert test_ids
    # Double every held-out customer's amounts, and every amount after the test cutoff.
    touched = o["customer_id"].isin(test_ids) | (o["t_ms"] >= plan.test_cutoff)
    o.loc[touched, "cents"] = o.loc[touched, "cents"] * 2
    changed = type(fixture_ds)(fixture_ds.name, o, fixture_ds.customers, fixture_ds.sources)
    after = lifetime_card(changed, plan, "USD")
    for k in "r alpha a b p q v".split():
        assert after[k] == before[k], k


def test_shipped_cards_carry_the_same_lifetime_section():
    sections = []
    for name in ["xgboost-segment", "logistic-segment", "transformer-segment"]:
        card = json.loads((ROOT / "models" / name / "1" / "model.json").read_text())
        lt = card["lifetime"]
        assert lt["calibration"]["end"] == card["task"]["test_cutoff"]
        assert all(np.isfinite(lt[k]) and lt[k] > 0 for k in "r alpha a b p q v".split())
        assert lt["q"] > 1 and lt["currency"] == "USD" and lt["converged"]
        sections.append({k: v for k, v in lt.items()})
    assert sections[0] == sections[1] == sections[2]
