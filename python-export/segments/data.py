"""Loading transaction logs into one internal representation.

Internal frames (all instants are int64 UTC milliseconds):

orders:    order_id (str), customer_id (str), t_ms (int64), cents (int64), item_count (int64),
           status (str), paid (bool), amount_known (bool; False when the log had no amount for the
           order — `npm run import -- --no-amounts`, an empty `amount` in orders.csv — cents is then 0
           and means "unknown", never "free")
customers: customer_id (str), created_ms (float64, NaN = unknown), birth_ms (float64, NaN = unknown),
           gender (str, '' = unknown)
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DAY_MS = 86_400_000
ORDER_COLUMNS = ["order_id", "customer_id", "ordered_at", "amount", "item_count", "currency", "status"]
CUSTOMER_COLUMNS = ["customer_id", "name", "email", "gender", "birth_date", "country", "created_at"]


@dataclass
class Dataset:
    name: str
    orders: pd.DataFrame
    customers: pd.DataFrame
    sources: list  # [{path, sha256, rows}]

    def summary(self) -> dict:
        o = self.orders
        paid = o[o["paid"]]
        return {
            "name": self.name,
            "sources": self.sources,
            "orders": int(len(o)),
            "paid_orders": int(len(paid)),
            "paid_orders_without_amount": int((~paid["amount_known"]).sum()),
            "customers": int(len(self.customers)),
            "first_order": ms_to_iso(int(o["t_ms"].min())) if len(o) else None,
            "last_order": ms_to_iso(int(o["t_ms"].max())) if len(o) else None,
        }


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def iso_to_ms(values) -> np.ndarray:
    """ISO-8601 UTC strings -> int64 ms."""
    ts = pd.to_datetime(pd.Series(values, dtype="string"), utc=True)
    return (ts.astype("int64") // 1_000_000).to_numpy(np.int64)


def date_to_ms(values) -> np.ndarray:
    """YYYY-MM-DD strings (or empty) -> float64 ms at 00:00:00Z, NaN when empty."""
    s = pd.Series(values, dtype="string").fillna("").str.strip()
    out = np.full(len(s), np.nan)
    ok = (s != "").to_numpy(dtype=bool)
    if ok.any():
        ts = pd.to_datetime(s[ok], format="%Y-%m-%d", utc=True)
        out[ok] = (ts.astype("int64") // 1_000_000).to_numpy(np.float64)
    return out


def ms_to_iso(ms: int) -> str:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def day_to_ms(day: str) -> int:
    """'YYYY-MM-DD' -> ms at 00:00:00.000Z of that day."""
    return int(pd.Timestamp(day, tz="UTC").value // 1_000_000)


def amount_to_cents(values) -> np.ndarray:
    """Decimal strings with at most 2 decimals -> exact int64 cents."""
    a = pd.Series(values).astype("string").str.strip()
    neg = a.str.startswith("-")
    a = a.str.lstrip("-")
    parts = a.str.split(".", n=1, expand=True)
    whole = parts[0].astype("int64")
    if parts.shape[1] > 1:
        frac = parts[1].fillna("").str.ljust(2, "0")
        if (frac.str.len() > 2).any():
            raise ValueError("amount with more than 2 decimals")
        frac = frac.replace("", "0").astype("int64")
    else:
        frac = 0
    cents = whole * 100 + frac
    return np.where(neg.to_numpy(), -cents, cents).astype(np.int64)


def _finish_orders(o: pd.DataFrame) -> pd.DataFrame:
    o["paid"] = o["status"] == "paid"
    if "amount_known" not in o.columns:
        o["amount_known"] = True
    o["amount_known"] = o["amount_known"].astype(bool)
    return o.sort_values(["customer_id", "t_ms", "order_id"], kind="mergesort").reset_index(drop=True)


def load_interface(directory) -> Dataset:
    """DIR/customers.csv and DIR/orders.csv in the API's export format."""
    d = Path(directory)
    cpath, opath = d / "customers.csv", d / "orders.csv"
    raw_o = pd.read_csv(opath, dtype=str, keep_default_na=False)
    missing = set(ORDER_COLUMNS) - set(raw_o.columns)
    if missing:
        raise ValueError(f"{opath}: missing columns {sorted(missing)}")
    raw_c = pd.read_csv(cpath, dtype=str, keep_default_na=False)
    missing = set(CUSTOMER_COLUMNS) - set(raw_c.columns)
    if missing:
        raise ValueError(f"{cpath}: missing columns {sorted(missing)}")
    # An empty amount is an unknown amount (orders imported with --no-amounts): cents 0, amount_known False.
    amount = raw_o["amount"].astype(str).str.strip()
    known = (amount != "").to_numpy()
    orders = pd.DataFrame({
        "order_id": raw_o["order_id"].astype(str),
        "customer_id": raw_o["customer_id"].astype(str),
        "t_ms": iso_to_ms(raw_o["ordered_at"]),
        "cents": amount_to_cents(amount.where(known, "0")),
        "item_count": raw_o["item_count"].astype("int64"),
        "status": raw_o["status"].astype(str),
        "amount_known": known,
    })
    created = raw_c["created_at"].astype(str)
    created_ms = np.full(len(raw_c), np.nan)
    ok = (created != "").to_numpy()
    if ok.any():
        created_ms[ok] = iso_to_ms(created[ok]).astype(np.float64)
    customers = pd.DataFrame({
        "customer_id": raw_c["customer_id"].astype(str),
        "created_ms": created_ms,
        "birth_ms": date_to_ms(raw_c["birth_date"]),
        "gender": raw_c["gender"].astype(str).str.strip(),
    })
    sources = [
        {"path": cpath.name, "sha256": sha256_file(cpath), "rows": int(len(raw_c))},
        {"path": opath.name, "sha256": sha256_file(opath), "rows": int(len(raw_o))},
    ]
    return Dataset(d.name, _finish_orders(orders), customers, sources)


CDNOW_NOON_MS = 12 * 3_600_000


def load_cdnow(path) -> Dataset:
    """CDNOW_master.txt (header; customer_id date number_of_cds dollar_value).

    Each row becomes one paid order stamped at 12:00:00.000Z of its date (the log has no time of day,
    so cutoffs at midnight never coincide with an order). created_at = the instant of the customer's
    first order (the log has no accounts; the cohort is defined by first purchase), as the API's
    import sets it. That value is only known from that order on: features at a cutoff T read it
    only when it is <= T (segments.features.compute_features: tenure NaN otherwise, and such a
    customer is not in the population at T), so a customer who first buys after T reveals nothing
    at T. It is computed from the paid orders only (every CDNOW row is a paid order).
    No demographics (age/gender NaN).
    """
    path = Path(path)
    raw = pd.read_csv(path, sep=r"\s+", dtype=str)
    raw.columns = ["customer_id", "date", "number_of_cds", "dollar_value"]
    day = pd.to_datetime(raw["date"], format="%Y%m%d", utc=True)
    t_ms = (day.astype("int64") // 1_000_000).to_numpy(np.int64) + CDNOW_NOON_MS
    orders = pd.DataFrame({
        "order_id": [f"{c}-{i:06d}" for i, c in enumerate(raw["customer_id"])],
        "customer_id": raw["customer_id"].astype(str),
        "t_ms": t_ms,
        "cents": np.round(raw["dollar_value"].astype(float).to_numpy() * 100).astype(np.int64),
        "item_count": raw["number_of_cds"].astype("int64"),
        "status": "paid",
    })
    first = orders.loc[orders["status"] == "paid"].groupby("customer_id")["t_ms"].min()
    customers = pd.DataFrame({
        "customer_id": first.index.astype(str),
        "created_ms": first.to_numpy(np.float64),
        "birth_ms": np.nan,
        "gender": "",
    })
    sources = [{"path": path.name, "sha256": sha256_file(path), "rows": int(len(raw))}]
    return Dataset("cdnow", _finish_orders(orders), customers, sources)
