"""Buy-till-you-die models: BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma spend (Fader & Hardie,
"The Gamma-Gamma Model of Monetary Value", 2013).

Per customer, at a scoring time, the models need the RFM summary of the calibration period:

    x    number of repeat purchase occasions (purchase days after the first; several orders on one
         day are one occasion, as in the literature)
    t_x  time of the last purchase occasion, measured from the first one
    T    time from the first purchase occasion to the scoring time
    m    mean value of the repeat occasions (Gamma-Gamma only; customers with x > 0)

Time is counted in a unit chosen at fit time (weeks for CDNOW, as the papers do); the parameters
only make sense with that unit, so the model card stores it.

The TypeScript service evaluates the same formulas (src/lifetime/); `golden_lifetime` writes the
fixture both sides are checked against. The Gaussian hypergeometric function is summed here with
the same series as there (checked against scipy.special.hyp2f1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

DAY_MS = 86_400_000


# --------------------------------------------------------------------------------------------
# RFM summary
# --------------------------------------------------------------------------------------------

def rfm_summary(orders: pd.DataFrame, as_of_ms: int, unit_days: float) -> pd.DataFrame:
    """(x, t_x, T, m) per customer with a paid order before `as_of_ms`, indexed by customer_id.

    orders: internal frame (customer_id, t_ms, cents, paid). Days are UTC calendar days; one
    occasion per customer and day, its value the day's total. t_x runs between occasion days; T from
    the first occasion's day (00:00 UTC) to the scoring instant itself. Scoring at 1997-10-01T00:00Z
    therefore counts T to the END of 1997-09-30, where Fader, Hardie & Lee's summary counts whole days
    from the first purchase day to the last calibration day, 1997-09-30 (one day, 1/7 week, less):
    that is the whole difference between the published BG/NBD parameters and ours on the CDNOW sample
    (python-export/tests/test_lifetime.py shows it).
    """
    o = orders[(orders["paid"]) & (orders["t_ms"] < as_of_ms)]
    day = o["t_ms"] // DAY_MS
    occ = (
        pd.DataFrame({"customer_id": o["customer_id"].to_numpy(), "day": day.to_numpy(), "cents": o["cents"].to_numpy()})
        .groupby(["customer_id", "day"], sort=True)["cents"]
        .sum()
        .reset_index()
    )
    g = occ.groupby("customer_id", sort=True)
    first = g["day"].min()
    last = g["day"].max()
    n = g["day"].size()
    total = g["cents"].sum()
    first_value = occ.loc[g["day"].idxmin(), ["customer_id", "cents"]].set_index("customer_id")["cents"]
    x = (n - 1).astype(np.int64)
    as_of_day = as_of_ms / DAY_MS
    out = pd.DataFrame(
        {
            "x": x,
            "t_x": (last - first) / unit_days,
            # T runs from the first occasion's day to the scoring instant.
            "T": (as_of_day - first) / unit_days,
            "m": np.where(x > 0, (total - first_value) / 100.0 / np.maximum(x, 1), np.nan),
        }
    )
    return out


# --------------------------------------------------------------------------------------------
# Hypergeometric 2F1 (series; |z| < 1), shared with the TypeScript side
# --------------------------------------------------------------------------------------------

def hyp2f1(a: float, b: float, c: float, z: float, tol: float = 1e-15, max_terms: int = 100_000) -> float:
    """Gauss series Σ (a)_k (b)_k / (c)_k z^k / k!; stops when a term is below tol × sum."""
    if not (0 <= z < 1):
        raise ValueError(f"hyp2f1 series needs 0 <= z < 1 (got {z})")
    term = 1.0
    total = 1.0
    for k in range(max_terms):
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        if abs(term) <= tol * abs(total):
            return total
    raise ArithmeticError("hyp2f1 series did not converge")


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------

@dataclass
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def bgnbd_log_likelihood(params, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood, FHL (2005) eq. 6, in a numerically stable form."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    ln_common = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    ln_a1 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_a2 = np.where(
            x > 0,
            special.betaln(a + 1, np.maximum(b + x - 1, 1e-300)) - special.betaln(a, b) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return ln_common + np.logaddexp(ln_a1, ln_a2)


def _best_of(nll, starts):
    """Nelder-Mead over log-parameters from each start; the result with the lowest objective."""
    best = None
    for st in starts:
        res = optimize.minimize(nll, np.log(st), method="Nelder-Mead",
                                options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 20_000, "maxfev": 40_000})
        if best is None or res.fun < best.fun - 1e-9:
            best = res
    return best


def fit_bgnbd(x, t_x, T, start=(1.0, 1.0, 1.0, 1.0)) -> tuple[BgNbd, dict]:
    """Maximum likelihood over log-parameters (all four are positive)."""
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)

    def nll(log_params):
        ll = bgnbd_log_likelihood(np.exp(log_params), x, t_x, T)
        value = -float(np.sum(ll))
        return value if np.isfinite(value) else 1e300

    # Several starts, the best optimum kept: Nelder-Mead can stop on a ridge and still say "converged".
    starts = [start, (0.5, max(float(np.mean(T)), 1e-3), 1.0, 3.0), (2.0, max(float(np.mean(T)), 1e-3) * 2, 0.5, 5.0)]
    res = _best_of(nll, starts)
    r, alpha, a, b = np.exp(res.x)
    return BgNbd(float(r), float(alpha), float(a), float(b)), {"log_likelihood": -float(res.fun), "customers": int(len(x)), "converged": bool(res.success)}


def p_alive(m: BgNbd, x: float, t_x: float, T: float) -> float:
    """P(alive | x, t_x, T), FHL (2005) eq. 11."""
    if x == 0:
        return 1.0
    ratio = m.a / (m.b + x - 1) * math.exp((m.r + x) * math.log((m.alpha + T) / (m.alpha + t_x)))
    return 1.0 / (1.0 + ratio)


def expected_purchases(m: BgNbd, t: float, x: float, t_x: float, T: float) -> float:
    """E[Y(t) | x, t_x, T]: expected occasions in the next t time units, FHL (2005) eq. 10."""
    if t <= 0:
        return 0.0
    z = t / (m.alpha + T + t)
    f = hyp2f1(m.r + x, m.b + x, m.a + m.b + x - 1, z)
    num = (m.a + m.b + x - 1) / (m.a - 1) * (1.0 - math.exp((m.r + x) * math.log((m.alpha + T) / (m.alpha + T + t))) * f)
    den = 1.0
    if x > 0:
        den += m.a / (m.b + x - 1) * math.exp((m.r + x) * math.log((m.alpha + T) / (m.alpha + t_x)))
    return num / den


def expected_interpurchase_time(m: BgNbd, x: float, T: float) -> float | None:
    """Posterior mean of 1/λ (time between occasions while the customer keeps buying), given the
    customer is alive: λ | data ~ Gamma(r + x, α + T), so E[1/λ] = (α + T) / (r + x − 1).
    None when r + x ≤ 1 (the posterior mean is infinite)."""
    shape = m.r + x
    if shape <= 1:
        return None
    return (m.alpha + T) / (shape - 1)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma spend
# --------------------------------------------------------------------------------------------

@dataclass
class GammaGamma:
    p: float
    q: float
    v: float

    def as_dict(self) -> dict:
        return {"p": self.p, "q": self.q, "v": self.v}


def gamma_gamma_log_likelihood(params, x, m) -> np.ndarray:
    """Per-customer log-likelihood of the mean spend m over x transactions (x > 0)."""
    p, q, v = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * math.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


def fit_gamma_gamma(x, m, start=(1.0, 1.0, 1.0)) -> tuple[GammaGamma, dict]:
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    keep = (x > 0) & np.isfinite(m) & (m > 0)
    x, m = x[keep], m[keep]

    def nll(log_params):
        value = -float(np.sum(gamma_gamma_log_likelihood(np.exp(log_params), x, m)))
        return value if np.isfinite(value) else 1e300

    # Several starts (the last two scaled to the data's mean spend), the best optimum kept: from
    # (1, 1, 1) alone Nelder-Mead stopped on the p -> infinity ridge of the demo data (log-likelihood
    # -23162 against -22961 at p = 4.0, q = 3.8, v = 32.7) and still said "converged".
    mean_m = max(float(np.mean(m)), 1e-6) if len(m) else 1.0
    starts = [start, (2.0, 3.0, mean_m), (10.0, 3.0, mean_m / 5.0)]
    res = _best_of(nll, starts)
    p, q, v = np.exp(res.x)
    return GammaGamma(float(p), float(q), float(v)), {"log_likelihood": -float(res.fun), "customers": int(len(x)), "converged": bool(res.success)}


def expected_order_value(g: GammaGamma, x: float, m: float | None) -> float:
    """E[M | x, m]: a weighted mean of the population mean p·v/(q−1) and the customer's own mean."""
    if x <= 0 or m is None or not math.isfinite(m):
        return g.p * g.v / (g.q - 1)
    return (g.p * (g.v + x * m)) / (g.p * x + g.q - 1)


# --------------------------------------------------------------------------------------------
# Per-customer lifetime figures (what the API serves)
# --------------------------------------------------------------------------------------------

def lifetime(bg: BgNbd, gg: GammaGamma, unit_days: float, x: float, t_x: float, T: float, m: float | None,
             horizon_days: float, monthly_discount: float = 0.0) -> dict:
    """The figures of `Customer.lifetime`, in days and currency units.

    predicted_clv discounts month by month (30-day steps, the last one partial):
        Σ_i E[M] · (E[Y(t_i)] − E[Y(t_{i−1})]) / (1 + d)^i
    """
    h = horizon_days / unit_days
    orders = expected_purchases(bg, h, x, t_x, T)
    value = expected_order_value(gg, x, m)
    clv = 0.0
    prev = 0.0
    month = 30.0 / unit_days
    i = 0
    t = 0.0
    while t < h - 1e-12:
        i += 1
        t = min(h, i * month)
        cum = expected_purchases(bg, t, x, t_x, T)
        clv += value * (cum - prev) / (1.0 + monthly_discount) ** i
        prev = cum
    gap = expected_interpurchase_time(bg, x, T)
    return {
        "p_alive": p_alive(bg, x, t_x, T),
        "expected_orders": orders,
        "expected_order_value": value,
        "predicted_clv": clv,
        "expected_days_to_next_order": None if gap is None else gap * unit_days,
        "average_days_between_orders": (t_x * unit_days / x) if x > 0 else None,
    }


# --------------------------------------------------------------------------------------------
# The model card's `lifetime` section
# --------------------------------------------------------------------------------------------

CARD_UNIT_DAYS = 7.0  # weeks, as in the papers; the card states it and the API converts days


def currency_of_export(directory) -> str | None:
    """The single currency of an export's orders.csv (None when mixed or absent)."""
    from pathlib import Path

    path = Path(directory) / "orders.csv"
    if not path.exists():
        return None
    values = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["currency"])["currency"]
    found = sorted({v.strip().upper() for v in values if v.strip()})
    return found[0] if len(found) == 1 else None


def lifetime_card(ds, plan, currency: str | None, unit_days: float = CARD_UNIT_DAYS) -> dict:
    """BG/NBD + Gamma-Gamma fitted on the TRAINING customers (never the held-out test customers, the
    same sha256 split as the segment models) over the test cutoff's calibration period: every paid
    order before the test cutoff. Written into each model card as `lifetime`; the API evaluates
    src/lifetime/btyd.ts with these parameters."""
    from .data import ms_to_iso
    from .dataset import customer_bucket

    summary = rfm_summary(ds.orders, plan.test_cutoff, unit_days)
    train = summary[summary.index.map(lambda c: customer_bucket(str(c)) >= plan.test_fraction).to_numpy(dtype=bool)]
    bg, bg_info = fit_bgnbd(train["x"], train["t_x"], train["T"])
    gg, gg_info = fit_gamma_gamma(train["x"], train["m"])
    paid = ds.orders[ds.orders["paid"] & (ds.orders["t_ms"] < plan.test_cutoff)]
    return {
        "model": "BG/NBD (Fader, Hardie & Lee 2005) + Gamma-Gamma spend (Fader & Hardie 2013)",
        **bg.as_dict(),
        **gg.as_dict(),
        "unit_days": unit_days,
        "calibration": {
            "start": ms_to_iso(int(paid["t_ms"].min())) if len(paid) else None,
            "end": ms_to_iso(plan.test_cutoff),
            "rule": "paid orders before the test cutoff; one purchase occasion per customer and UTC day (its value "
                    "the day's total); x = occasions after the first, t_x = last - first, T = cutoff - first "
                    f"(in units of {unit_days:g} days); Gamma-Gamma on the mean value of the repeat occasions",
        },
        "customers": int(len(train)),
        "repeat_customers": int(gg_info["customers"]),
        "fitted_on": "training customers (sha256 split; the held-out test customers are excluded)",
        "currency": currency,
        "log_likelihood": {"bgnbd": bg_info["log_likelihood"], "gamma_gamma": gg_info["log_likelihood"]},
        "converged": bool(bg_info["converged"] and gg_info["converged"]),
    }
