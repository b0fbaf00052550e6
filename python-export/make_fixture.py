#!/usr/bin/env python3
"""Writes the small deterministic fixture dataset (synthetic; not CDNOW) in the API's CSV format.

    /usr/bin/python3 python-export/make_fixture.py [--out test/fixtures/models]

Customers fx-0001 .. fx-0008 are hand-made edge cases around the golden as-of instant
2026-01-01T00:00:00.000Z (window boundaries, same-day orders, refunds, orders after T, no orders,
missing demographics). The others follow a small buy-till-you-die process (seed 20260101).
The output is byte-identical on every run. orders-no-amounts.csv is orders.csv without the amount
and currency columns (a log without prices, for `--no-amounts`).
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400_000
AS_OF = "2026-01-01T00:00:00.000Z"
N_CUSTOMERS = 400
SEED = 20260101


def ms(iso: str) -> int:
    import pandas as pd
    return int(pd.Timestamp(iso).value // 1_000_000)


def iso(t: int) -> str:
    import pandas as pd
    return pd.Timestamp(int(t), unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "test" / "fixtures" / "models"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    T = ms(AS_OF)
    rng = np.random.RandomState(SEED)
    customers, orders = [], []
    oid = [0]

    def add_order(cid, t, amount, items, status="paid"):
        oid[0] += 1
        orders.append([f"fo-{oid[0]:06d}", cid, iso(t), f"{amount:.2f}", str(items), "EUR", status])

    def add_customer(i, gender, birth, country, created):
        cid = f"fx-{i:04d}"
        customers.append([cid, f"Fixture Customer {i}", f"fixture{i}@example.test", gender, birth, country, iso(created)])
        return cid

    # fx-0001: boundaries of the 30/90-day windows and an order exactly at T.
    c = add_customer(1, "F", "1990-06-15", "DE", T - 800 * DAY)
    add_order(c, T, 10.00, 1)                    # == T: counted
    add_order(c, T - 30 * DAY, 20.00, 2)         # == T-30d: outside the 30-day window, inside 90
    add_order(c, T - 30 * DAY + 1, 30.05, 1)     # 1 ms later: inside 30-day window
    add_order(c, T - 90 * DAY, 40.10, 3)         # == T-90d: outside 90, inside 180
    add_order(c, T - 400 * DAY, 5.55, 1)
    add_order(c, T + 1, 99.99, 1)                # after T: label only
    add_order(c, T + 50 * DAY, 120.00, 4)
    # fx-0002: several orders on one UTC day, and a day boundary at midnight.
    c = add_customer(2, "M", "1975-02-28", "FR", T - 200 * DAY)
    d0 = T - 10 * DAY
    add_order(c, d0 + 3_600_000, 12.34, 1)
    add_order(c, d0 + 7_200_000, 56.78, 2)
    add_order(c, d0 - 1, 9.99, 1)                # 23:59:59.999 the day before
    add_order(c, d0 - 20 * DAY + 5, 15.00, 1)
    # fx-0003: refunded and cancelled orders are ignored.
    c = add_customer(3, "", "", "", T - 100 * DAY)
    add_order(c, T - 5 * DAY, 500.00, 5, "refunded")
    add_order(c, T - 6 * DAY, 300.00, 3, "cancelled")
    add_order(c, T - 50 * DAY, 25.00, 1)
    add_order(c, T + 10 * DAY, 500.00, 2, "refunded")   # horizon refund: still lapsing
    # fx-0004: no orders at all.
    add_customer(4, "F", "2000-01-01", "ES", T - 30 * DAY)
    # fx-0005: only orders after T (a new customer who buys later).
    c = add_customer(5, "M", "", "IT", T - 3 * DAY)
    add_order(c, T + 2 * DAY, 45.00, 1)
    # fx-0006: only refunded orders before T.
    c = add_customer(6, "X", "1988-12-31", "NL", T - 365 * DAY)
    add_order(c, T - 100 * DAY, 80.00, 1, "refunded")
    # fx-0007: a loyal high spender, regular gaps.
    c = add_customer(7, "F", "1969-07-20", "DE", T - 1000 * DAY)
    for k in range(40):
        add_order(c, T - (20 * k + 3) * DAY + 13 * 3_600_000, 150.00 + k, 2 + k % 3)
    for k in range(6):
        add_order(c, T + (15 * k + 4) * DAY, 200.00, 3)
    # fx-0008: zero-amount order and an order 365 days minus 1 ms before T.
    c = add_customer(8, "M", "1999-03-01", "", T - 500 * DAY)
    add_order(c, T - 365 * DAY + 1, 0.00, 1)
    add_order(c, T - 365 * DAY, 10.00, 1)
    add_order(c, T - 2 * DAY, 0.01, 1)

    # Synthetic buy-till-you-die customers.
    start, end = ms("2023-07-01T00:00:00.000Z"), ms("2026-07-01T00:00:00.000Z")
    countries = ["DE", "FR", "ES", "IT", "NL", ""]
    for i in range(9, N_CUSTOMERS + 1):
        created = int(start + rng.randint(0, (T - 30 * DAY - start) // 1000) * 1000)
        gender = ["F", "M", ""][rng.choice(3, p=[0.48, 0.47, 0.05])]
        birth = "" if rng.rand() < 0.1 else f"{rng.randint(1950, 2006)}-{rng.randint(1, 13):02d}-{rng.randint(1, 29):02d}"
        cid = add_customer(i, gender, birth, countries[rng.randint(len(countries))], created)
        rate = rng.gamma(0.8, 1 / 40.0)          # orders per day
        p_drop = rng.beta(1.0, 4.0)               # dropout after each order
        spend_mean = rng.gamma(3.0, 20.0)
        t = created + int(rng.exponential(20) * DAY)
        while t < end:
            status = ["paid", "refunded", "cancelled"][rng.choice(3, p=[0.9, 0.06, 0.04])]
            amount = max(0.5, rng.gamma(4.0, spend_mean / 4.0))
            add_order(cid, t, round(amount, 2), 1 + rng.poisson(1.0), status)
            if rng.rand() < p_drop:
                break
            t += int(rng.exponential(1.0 / max(rate, 1e-4)) * DAY) + rng.randint(0, 3_600_000)

    with open(out / "customers.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["customer_id", "name", "email", "gender", "birth_date", "country", "created_at"])
        w.writerows(customers)
    with open(out / "orders.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["order_id", "customer_id", "ordered_at", "amount", "item_count", "currency", "status"])
        w.writerows(orders)
    # The same log as a shop without prices exports it (no amount, no currency): imported with
    # `npm run import -- --orders orders-no-amounts.csv --customers customers.csv --no-amounts`.
    with open(out / "orders-no-amounts.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["order_id", "customer_id", "ordered_at", "item_count", "status"])
        w.writerows([o[0], o[1], o[2], o[4], o[6]] for o in orders)
    print(f"wrote {len(customers)} customers, {len(orders)} orders to {out}")


if __name__ == "__main__":
    main()
