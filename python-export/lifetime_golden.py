"""Writes test/fixtures/lifetime/golden.json: BG/NBD + Gamma-Gamma fitted on the committed model
fixture (test/fixtures/models) and, for every customer and some edge cases, the figures of
`Customer.lifetime` as Python computes them (the first 60 customers keep the file small). The TypeScript tests (test/lifetime.test.ts) compute
the same figures from the same parameters and summaries and must agree within 1e-9.

    /usr/bin/python3 python-export/lifetime_golden.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from segments.data import day_to_ms, load_interface  # noqa: E402
from segments.lifetime import fit_bgnbd, fit_gamma_gamma, lifetime, rfm_summary  # noqa: E402

FIXTURE = HERE.parent / "test" / "fixtures" / "models"
OUT = HERE.parent / "test" / "fixtures" / "lifetime" / "golden.json"
AS_OF = "2026-01-01T00:00:00.000Z"
UNIT_DAYS = 7.0
HORIZONS = [30, 90, 365]
DISCOUNTS = [0.0, 0.01]


def main():
    ds = load_interface(FIXTURE)
    as_of_ms = day_to_ms(AS_OF[:10])
    summary = rfm_summary(ds.orders, as_of_ms, UNIT_DAYS)
    bg, bg_info = fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
    gg, gg_info = fit_gamma_gamma(summary["x"], summary["m"])
    cases = [
        {"id": cid, "x": int(r.x), "t_x": float(r.t_x), "T": float(r["T"]), "m": None if r.x == 0 else float(r.m)}
        for cid, r in summary.iloc[:60].iterrows()
    ]
    # Edge cases: a first-day customer, a long silence, a heavy buyer, a customer with no repeat.
    cases += [
        {"id": "edge-new", "x": 0, "t_x": 0.0, "T": 0.0, "m": None},
        {"id": "edge-silent", "x": 3, "t_x": 2.0, "T": 150.0, "m": 40.0},
        {"id": "edge-heavy", "x": 60, "t_x": 100.0, "T": 100.5, "m": 12.5},
        {"id": "edge-same-day", "x": 1, "t_x": 10.0, "T": 10.0, "m": 5.0},
    ]
    for c in cases:
        c["expected"] = {
            f"{h}|{d}": lifetime(bg, gg, UNIT_DAYS, c["x"], c["t_x"], c["T"], c["m"], h, d) for h in HORIZONS for d in DISCOUNTS
        }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "source": "python-export/lifetime_golden.py on test/fixtures/models",
        "asOf": AS_OF,
        "unitDays": UNIT_DAYS,
        "bgnbd": bg.as_dict(),
        "gammaGamma": gg.as_dict(),
        "fit": {"bgnbd": bg_info, "gammaGamma": gg_info},
        "cases": cases,
    }, separators=(",", ":")) + "\n")
    print(f"wrote {OUT.relative_to(HERE.parent)}: {len(cases)} cases; BG/NBD {bg.as_dict()}; Gamma-Gamma {gg.as_dict()}")


if __name__ == "__main__":
    main()
