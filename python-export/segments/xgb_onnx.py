"""XGBoost multiclass training and our converter to ai.onnx.ml TreeEnsembleClassifier.

Conventions (as onnxmltools' XGBoost converter): BRANCH_LT (go to the true branch when x < threshold,
the XGBoost 'yes' child), nodes_missing_value_tracks_true = default_left (missing goes 'yes'),
class_ids from XGBoost's tree_info (== tree % n_classes), base_score in base_values,
post_transform SOFTMAX, no ZipMap: outputs label int64 [N] and probabilities float32 [N, C].

Node covers (XGBoost's per-node hessian sums, `sum_hessian`, the "cover" of `get_dump(with_stats=True)`)
are stored in the standard attribute nodes_hitrates (one float32 per node, same order as the other
nodes_* attributes). The ONNX spec calls it node popularity and inference ignores it; the API's exact
path-dependent TreeSHAP (src/inference/explain/) reads it, so the served model.onnx is the one source
of truth for both predictions and explanations.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import xgboost as xgb
from onnx import TensorProto, helper

ML_OPSET = 3
ONNX_OPSET = 17
INPUT_NAME = "features"
OUTPUTS = ("label", "probabilities")

# max_depth 2 was chosen on CDNOW's validation customers (python-export/tune_cdnow.py; the held-out customers
# played no part): depth 2 had a lower validation log loss and a higher validation AUC than depth 3, 4 and 6
# (seed 42; depth 2 gave the same figures at seed 43). (max_depth 3 with min_child_weight 50 was within seed noise of it, but a minimum
# leaf weight of 50 would leave a small shop's trees with hardly any split.)
DEFAULT_PARAMS = {
    "objective": "multi:softprob",
    "num_class": 3,
    "eval_metric": "mlogloss",
    "tree_method": "hist",
    "max_depth": 2,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5,
    "lambda": 1.0,
    "max_bin": 256,
    "nthread": 2,
}
# The settings the shipped version 1 (demo data) was trained with, recorded in its card
# (training_details.params): `train.py --demo` uses them so that it still reproduces that version.
V1_PARAMS = {"max_depth": 4}


def train(X, y, Xv, yv, seed=42, num_boost_round=600, early_stopping_rounds=40, params=None, weights=None):
    p = dict(DEFAULT_PARAMS)
    p["seed"] = seed
    if params:
        p.update(params)
    dtr = xgb.DMatrix(np.asarray(X, np.float32), label=y, missing=np.nan, weight=weights)
    dva = xgb.DMatrix(np.asarray(Xv, np.float32), label=yv, missing=np.nan)
    booster = xgb.train(p, dtr, num_boost_round=num_boost_round, evals=[(dva, "valid")],
                        early_stopping_rounds=early_stopping_rounds, verbose_eval=False)
    best = booster.best_iteration
    booster = booster[: best + 1]
    return booster, {"params": p, "best_iteration": int(best), "num_boost_round_max": num_boost_round,
                     "early_stopping_rounds": early_stopping_rounds}


def dmatrix(X):
    return xgb.DMatrix(np.asarray(X, np.float32), missing=np.nan)


def predict_proba(booster, X):
    return booster.predict(dmatrix(X))


def pred_contribs(booster, X):
    """Exact TreeSHAP [N, C, F+1] (last column = bias); rows sum to the raw margin of each class."""
    c = booster.predict(dmatrix(X), pred_contribs=True)
    return c


def booster_json(booster) -> dict:
    return json.loads(booster.save_raw("json").decode() if hasattr(booster.save_raw("json"), "decode")
                      else booster.save_raw("json"))


def convert(booster, n_features: int, feature_names=None, doc: str = "") -> onnx.ModelProto:
    model = booster_json(booster)
    learner = model["learner"]
    n_classes = int(learner["learner_model_param"]["num_class"])
    base_score = float(learner["learner_model_param"]["base_score"])
    gb = learner["gradient_booster"]
    assert gb["name"] == "gbtree", gb["name"]
    trees = gb["model"]["trees"]
    tree_info = gb["model"]["tree_info"]
    assert all(tree_info[i] == i % n_classes for i in range(len(trees))), "unexpected tree_info"

    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
                         "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids",
                         "nodes_missing_value_tracks_true", "nodes_hitrates", "class_treeids", "class_nodeids",
                         "class_ids", "class_weights"]}
    for tid, tree in enumerate(trees):
        left, right = tree["left_children"], tree["right_children"]
        idx, cond, dleft = tree["split_indices"], tree["split_conditions"], tree["default_left"]
        cover = tree["sum_hessian"]
        assert len(cover) == len(left), "sum_hessian must have one entry per node"
        for nid in range(len(left)):
            a["nodes_treeids"].append(tid)
            a["nodes_nodeids"].append(nid)
            a["nodes_hitrates"].append(float(np.float32(cover[nid])))   # cover, for TreeSHAP
            if left[nid] == -1:
                a["nodes_featureids"].append(0)
                a["nodes_values"].append(0.0)
                a["nodes_modes"].append("LEAF")
                a["nodes_truenodeids"].append(0)
                a["nodes_falsenodeids"].append(0)
                a["nodes_missing_value_tracks_true"].append(0)
                a["class_treeids"].append(tid)
                a["class_nodeids"].append(nid)
                a["class_ids"].append(tree_info[tid])
                a["class_weights"].append(float(np.float32(cond[nid])))
            else:
                a["nodes_featureids"].append(int(idx[nid]))
                a["nodes_values"].append(float(np.float32(cond[nid])))
                a["nodes_modes"].append("BRANCH_LT")
                a["nodes_truenodeids"].append(int(left[nid]))
                a["nodes_falsenodeids"].append(int(right[nid]))
                a["nodes_missing_value_tracks_true"].append(1 if int(dleft[nid]) else 0)

    node = helper.make_node(
        "TreeEnsembleClassifier", [INPUT_NAME], list(OUTPUTS), domain="ai.onnx.ml", name="xgboost_trees",
        classlabels_int64s=list(range(n_classes)), post_transform="SOFTMAX",
        base_values=[base_score] * n_classes, **a)
    graph = helper.make_graph(
        [node], "xgboost_segment",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info(OUTPUTS[0], TensorProto.INT64, ["N"]),
         helper.make_tensor_value_info(OUTPUTS[1], TensorProto.FLOAT, ["N", n_classes])])
    m = helper.make_model(graph, producer_name="customer-intelligence python-export",
                          opset_imports=[helper.make_opsetid("", ONNX_OPSET),
                                         helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
    m.ir_version = 8
    if doc:
        m.doc_string = doc
    if feature_names:
        helper.set_model_props(m, {"feature_names": ",".join(feature_names)})
    onnx.checker.check_model(m)
    return m


# ---------- a pure-Python evaluator of the exported graph (tests; no onnxruntime here) ----------

def _attrs(model: onnx.ModelProto) -> dict:
    node = [n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier"][0]
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def onnx_margins(model: onnx.ModelProto, X) -> np.ndarray:
    """Walks the exported TreeEnsembleClassifier attributes for every row: raw margins [N, C]."""
    a = _attrs(model)
    X = np.asarray(X, np.float32)
    n_classes = len(a["classlabels_int64s"])
    key = {(t, n): i for i, (t, n) in enumerate(zip(a["nodes_treeids"], a["nodes_nodeids"]))}
    leaf = {}
    for t, n, c, w in zip(a["class_treeids"], a["class_nodeids"], a["class_ids"], a["class_weights"]):
        leaf.setdefault((t, n), []).append((c, w))
    modes = [m.decode() if isinstance(m, bytes) else m for m in a["nodes_modes"]]
    vals = np.asarray(a["nodes_values"], np.float32)
    trees = sorted(set(a["nodes_treeids"]))
    out = np.zeros((len(X), n_classes), np.float64)
    for r in range(len(X)):
        x = X[r]
        for t in trees:
            i = key[(t, 0)]
            while modes[i] != "LEAF":
                assert modes[i] == "BRANCH_LT"
                v = x[a["nodes_featureids"][i]]
                if np.isnan(v):
                    go_true = a["nodes_missing_value_tracks_true"][i] == 1
                else:
                    go_true = v < vals[i]
                nxt = a["nodes_truenodeids"][i] if go_true else a["nodes_falsenodeids"][i]
                i = key[(t, nxt)]
            for c, w in leaf[(t, a["nodes_nodeids"][i])]:
                out[r, c] += w
    out += np.asarray(a["base_values"], np.float64)
    return out


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
