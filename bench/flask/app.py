#!/usr/bin/env python3
"""The approach this product replaces, built the way e-commerce ML tutorials build it: a Flask app
that unpickles a scikit-learn model at start-up and, for every POST, opens a database connection,
reads the customer and their orders, computes the features in pandas and calls predict_proba.

- Model: the pickled (Preprocessor, LogisticRegression) from bench/flask/train_logistic.py — the same
  fitted model models/logistic-segment serves (checked there constant by constant).
- Features: the project's pandas reference implementation (python-export/segments/features.py,
  compute_features), i.e. the code the models were trained with, on the rows read for this request.
- Database: psycopg2, one connection per request (`get_db_connection()` as in the common Flask +
  PostgreSQL tutorials), pandas.read_sql for the two queries.
- Server: Flask's built-in development server, threaded (app.run(threaded=True), the tutorials'
  `flask run`); Werkzeug 2.2 answers every request with "Connection: close" (no keep-alive);
  request logging at WARNING (no per-request access log).

POST /score {"customer_id": "<Customer.id uuid>"} ->
  {"customer_id", "segment", "probability", "probabilities": [lapsing, active, high_value]}

POST /predict {"features": [<FEATURES, in order; null = missing>]} -> {"segment", "probability", "probabilities"}
  The seed's (and the tutorials') own shape: the caller has already computed the feature vector and
  sends it in the body; no database, no feature code — only JSON, the preprocessor and predict_proba.

Usage: /usr/bin/python3 bench/flask/app.py --model PKL --dsn postgresql://… --as-of 2026-01-01T00:00:00Z --port P
"""
from __future__ import annotations

import argparse
import logging
import warnings
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
from flask import Flask, jsonify, request

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python-export"))

from segments.data import amount_to_cents  # noqa: E402
from segments.features import FEATURES, compute_features  # noqa: E402,F401  (unpickling needs segments.*)
from segments.labels import CLASSES  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--dsn", required=True)
ap.add_argument("--as-of", required=True)
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=5000)
args = ap.parse_args()

with open(args.model, "rb") as f:
    MODEL = pickle.load(f)
AS_OF_MS = int(pd.Timestamp(args.as_of).tz_convert("UTC").value // 1_000_000)

app = Flask(__name__)
warnings.filterwarnings("ignore", message="pandas only supports SQLAlchemy")  # read_sql on a DBAPI connection works
logging.getLogger("werkzeug").setLevel(logging.WARNING)


def get_db_connection():
    return psycopg2.connect(args.dsn)


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.post("/score")
def score():
    customer_id = (request.get_json(silent=True) or {}).get("customer_id")
    if not customer_id:
        return jsonify(error="customer_id is required"), 400
    t0 = time.perf_counter()
    conn = get_db_connection()
    try:
        customer = pd.read_sql('SELECT id::text AS customer_id, "createdAt" AS created_at, "birthDate" AS birth_date, '
                               'gender FROM "Customer" WHERE id = %s::uuid', conn, params=(customer_id,))
        orders = pd.read_sql('SELECT "externalId" AS order_id, "customerId"::text AS customer_id, "orderedAt" AS ordered_at, '
                             'amount, "itemCount" AS item_count, status FROM "Order" WHERE "customerId" = %s::uuid',
                             conn, params=(customer_id,))
    finally:
        conn.close()
    t1 = time.perf_counter()
    if customer.empty:
        return jsonify(error="unknown customer"), 404

    # The training pipeline's frames (python-export/segments/data.py): instants in UTC ms, money in cents.
    customers = pd.DataFrame({
        "customer_id": customer["customer_id"],
        "created_ms": pd.to_datetime(customer["created_at"], utc=True).astype("int64") // 1_000_000,
        "birth_ms": pd.to_datetime(customer["birth_date"], utc=True).astype("int64").where(customer["birth_date"].notna()) / 1_000_000,
        "gender": customer["gender"].fillna(""),
    })
    o = pd.DataFrame({
        "order_id": orders["order_id"].astype(str),
        "customer_id": orders["customer_id"].astype(str),
        "t_ms": (pd.to_datetime(orders["ordered_at"], utc=True).astype("int64") // 1_000_000).astype(np.int64),
        "cents": amount_to_cents(orders["amount"].astype(str)) if len(orders) else np.zeros(0, np.int64),
        "item_count": orders["item_count"].astype(np.int64),
        "status": orders["status"].astype(str),
    })
    o["paid"] = o["status"] == "paid"
    o = o.sort_values(["customer_id", "t_ms", "order_id"], kind="mergesort").reset_index(drop=True)

    X = compute_features(o, customers, AS_OF_MS, [customer_id])[FEATURES].to_numpy(np.float64)
    t2 = time.perf_counter()
    p = MODEL["clf"].predict_proba(MODEL["pre"].transform(X))[0]
    t3 = time.perf_counter()
    k = int(np.argmax(p))
    response = jsonify(customer_id=customer_id, segment=CLASSES[k], probability=float(p[k]),
                       probabilities=[float(v) for v in p])
    # Where a request's time goes (read by the benchmark's parity pass; not needed by clients).
    response.headers["Server-Timing"] = (f"db;dur={(t1 - t0) * 1000:.2f}, features;dur={(t2 - t1) * 1000:.2f}, "
                                         f"model;dur={(t3 - t2) * 1000:.2f}")
    return response


@app.post("/predict")
def predict():
    features = (request.get_json(silent=True) or {}).get("features")
    if not isinstance(features, list) or len(features) != len(FEATURES):
        return jsonify(error=f"features must be a list of {len(FEATURES)} numbers (null = missing)"), 400
    try:
        X = np.array([[np.nan if v is None else float(v) for v in features]], dtype=np.float64)
    except (TypeError, ValueError):
        return jsonify(error="features must be numbers or null"), 400
    p = MODEL["clf"].predict_proba(MODEL["pre"].transform(X))[0]
    k = int(np.argmax(p))
    return jsonify(segment=CLASSES[k], probability=float(p[k]), probabilities=[float(v) for v in p])


if __name__ == "__main__":
    print(f"flask baseline listening on http://{args.host}:{args.port}", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False)
