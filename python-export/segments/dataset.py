"""Rolling-origin training tables and held-out splits."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .data import DAY_MS, Dataset, ms_to_iso
from .features import FEATURES, compute_features, compute_sequences
from .labels import (HIGH_VALUE_DEFINITIONS, assign_labels, assign_labels_by_orders, high_value_order_threshold,
                     high_value_threshold, horizon_outcome)


def customer_bucket(customer_id: str, salt: str = "segments-v1") -> float:
    """Deterministic uniform [0, 1) number per customer id (sha256), stable across runs and machines."""
    h = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


@dataclass
class Plan:
    horizon_days: int
    train_cutoffs: list  # ms
    test_cutoff: int     # ms
    data_end: int        # ms, label windows must end at or before it
    test_fraction: float = 0.2
    valid_fraction: float = 0.15
    notes: list = field(default_factory=list)

    def describe(self) -> dict:
        return {
            "horizon_days": self.horizon_days,
            "train_cutoffs": [ms_to_iso(t) for t in self.train_cutoffs],
            "test_cutoff": ms_to_iso(self.test_cutoff),
            "data_end": ms_to_iso(self.data_end),
            "test_customer_fraction": self.test_fraction,
            "validation_customer_fraction_of_train": self.valid_fraction,
            "split": "customers are assigned by sha256('segments-v1:' + customer_id): bucket < test_fraction "
                     "-> held-out customers (used only at test_cutoff); the rest train at train_cutoffs; "
                     "a further valid_fraction of training customers is the early-stopping/validation set.",
            "notes": self.notes,
        }


class InsufficientData(ValueError):
    """The data cannot support an honest model: the message says what is missing."""


MONTH_STRIDE_DAYS = 30


def rolling_plan(ds: Dataset, horizon_days: int, data_end_ms: int | None = None,
                 n_train_cutoffs: int = 4, min_history_days: int = 180) -> Plan:
    """Test cutoff = data_end - H; training cutoffs step back by H (non-overlapping label windows
    that all end at or before the test cutoff). When the history is too short for that (e.g. CDNOW's
    18 months with H = 39 weeks), training cutoffs step back monthly instead, as `evaluate.py` does
    for CDNOW: their label windows end by data_end and overlap the test window in calendar time,
    never in customers (held-out customers appear only at the test cutoff)."""
    paid = ds.orders[ds.orders["paid"]]
    if len(paid) == 0:
        raise InsufficientData("no paid orders")
    if data_end_ms is None:
        data_end_ms = (int(paid["t_ms"].max()) // DAY_MS + 1) * DAY_MS
    test_cutoff = data_end_ms - horizon_days * DAY_MS
    first = int(paid["t_ms"].min())
    train = []
    for k in range(1, n_train_cutoffs + 1):
        t = test_cutoff - k * horizon_days * DAY_MS
        if t - first < min_history_days * DAY_MS:
            break
        train.append(t)
    notes = []
    if not train:
        min_hist = min(min_history_days, 90)
        for k in range(1, 7):
            t = test_cutoff - k * MONTH_STRIDE_DAYS * DAY_MS
            if t - first < min_hist * DAY_MS:
                break
            train.append(t)
        if train:
            notes.append(f"history too short for non-overlapping {horizon_days}-day training windows: training cutoffs "
                         f"step back monthly ({MONTH_STRIDE_DAYS} days) from the test cutoff, so their label windows "
                         "overlap the test label window in calendar time (never in customers).")
    if not train:
        raise InsufficientData("history too short for a training cutoff")
    return Plan(horizon_days, sorted(train), test_cutoff, data_end_ms, notes=notes)


def check_enough_data(ds: Dataset, horizon_days: int, data_end_ms: int, min_customers: int = 500) -> dict:
    """Refuses (InsufficientData, saying what is missing) unless the paid history spans at least two
    horizons and at least `min_customers` customers have a paid order before the test cutoff."""
    paid = ds.orders[ds.orders["paid"]]
    if len(paid) == 0:
        raise InsufficientData("there are no paid orders to learn from")
    first = int(paid["t_ms"].min()) // DAY_MS * DAY_MS  # whole days: data_end is a day boundary too
    history_days = (data_end_ms - first) / DAY_MS
    test_cutoff = data_end_ms - horizon_days * DAY_MS
    customers = int(paid.loc[paid["t_ms"] <= test_cutoff, "customer_id"].nunique())
    problems = []
    if history_days < 2 * horizon_days:
        problems.append(f"the paid orders span {history_days:.0f} days ({ms_to_iso(first)[:10]} .. {ms_to_iso(data_end_ms)[:10]}), "
                        f"less than two horizons ({2 * horizon_days} days for --horizon-days {horizon_days}): one horizon of "
                        "history to learn from and one to test on; import more history or choose a shorter horizon")
    if customers < min_customers:
        problems.append(f"{customers} customers have a paid order before the test cutoff {ms_to_iso(test_cutoff)[:10]}, "
                        f"at least {min_customers} are needed for held-out metrics worth trusting; import more customers")
    if problems:
        raise InsufficientData("not enough data to train: " + "; ".join(problems) + ".")
    return {"history_days": round(history_days, 1), "customers_before_test_cutoff": customers}


def build_rows(ds: Dataset, cutoff_ms: int, horizon_days: int, customer_ids=None) -> pd.DataFrame:
    feats = compute_features(ds.orders, ds.customers, cutoff_ms, customer_ids)
    out = horizon_outcome(ds.orders, cutoff_ms, horizon_days, feats.index)
    rows = feats.join(out)
    rows.insert(0, "cutoff_ms", np.int64(cutoff_ms))
    return rows.reset_index()


@dataclass
class Tables:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    threshold: float
    plan: Plan
    definition: str = "spend"  # "spend" (threshold in currency) or "orders" (threshold in paid orders)
    definition_reason: str = ""

    def xy(self, part: str):
        df = getattr(self, part)
        return df[FEATURES].to_numpy(np.float64), df["label"].to_numpy(np.int64)

    def summary(self) -> dict:
        def s(df):
            return {"rows": int(len(df)), "customers": int(df["customer_id"].nunique()),
                    "class_counts": {k: int(v) for k, v in
                                     zip(["lapsing", "active", "high_value"], np.bincount(df["label"], minlength=3))}}
        return {"train": s(self.train), "validation": s(self.valid), "test": s(self.test),
                "high_value_threshold": self.threshold, "high_value_definition": self.definition,
                "high_value_definition_reason": self.definition_reason}


class DefinitionError(ValueError):
    """--high-value-by spend on label windows holding orders without amount."""


def choose_definition(rows: list, requested: str = "auto") -> tuple:
    """(definition, reason) from the label windows of every cutoff (see labels.HIGH_VALUE_DEFINITIONS)."""
    paid = sum(int(r["horizon_orders"].sum()) for r in rows)
    unknown = sum(int(r["horizon_unknown_amounts"].sum()) for r in rows)
    if requested not in ("auto",) + HIGH_VALUE_DEFINITIONS:
        raise ValueError(f"high_value definition must be auto, spend or orders (got {requested!r})")
    if requested == "orders":
        return "orders", "by order count as requested (--high-value-by orders)"
    if unknown == 0:
        return "spend", f"every one of the {paid} paid orders in the label windows has an amount"
    why = (f"{unknown} of the {paid} paid orders in the label windows have no amount (imported with --no-amounts), "
           "so spend in the horizon is unknown for their customers")
    if requested == "spend":
        raise DefinitionError(f"cannot define high_value by spend: {why}; use --high-value-by orders (or auto)")
    return "orders", f"by order count: {why}"


def build_tables(ds: Dataset, plan: Plan, high_value_by: str = "auto") -> Tables:
    for t in plan.train_cutoffs + [plan.test_cutoff]:
        if t + plan.horizon_days * DAY_MS > plan.data_end:
            raise ValueError(f"label window of cutoff {ms_to_iso(t)} ends after data_end")
    parts = []
    for t in plan.train_cutoffs:
        parts.append(build_rows(ds, t, plan.horizon_days))
    train_all = pd.concat(parts, ignore_index=True)
    test = build_rows(ds, plan.test_cutoff, plan.horizon_days)
    b_train = train_all["customer_id"].map(customer_bucket).to_numpy()
    b_test = test["customer_id"].map(customer_bucket).to_numpy()
    test = test[b_test < plan.test_fraction].reset_index(drop=True)
    keep = b_train >= plan.test_fraction
    train_all, b_train = train_all[keep].reset_index(drop=True), b_train[keep]
    v_edge = plan.test_fraction + plan.valid_fraction * (1 - plan.test_fraction)
    is_valid = b_train < v_edge
    train, valid = train_all[~is_valid].reset_index(drop=True), train_all[is_valid].reset_index(drop=True)
    definition, reason = choose_definition([train, valid, test], high_value_by)
    if definition == "spend":
        threshold = high_value_threshold(train["horizon_cents"])
        for df in (train, valid, test):
            df["label"] = assign_labels(df["horizon_orders"], df["horizon_cents"], threshold)
    else:
        threshold = high_value_order_threshold(train["horizon_orders"])
        for df in (train, valid, test):
            df["label"] = assign_labels_by_orders(df["horizon_orders"], threshold)
    return Tables(train, valid, test, threshold, plan, definition, reason)


def sequences_for(ds: Dataset, df: pd.DataFrame, max_len: int):
    """Sequences for the rows of a table (grouped by cutoff), aligned with df's row order."""
    n = len(df)
    seq = np.zeros((n, max_len, 5))
    mask = np.zeros((n, max_len))
    for t, idx in df.groupby("cutoff_ms").indices.items():
        s, m = compute_sequences(ds.orders, int(t), df["customer_id"].to_numpy()[idx], max_len)
        seq[idx], mask[idx] = s, m
    return seq, mask
