"""Multinomial logistic regression (scikit-learn) with imputation, log1p and standardisation baked
into the ONNX graph: the medians, means and standard deviations are graph constants learned on the
training rows, never computed from a request.

Graph (float32):  x -> Where(IsNaN(x), median, x)
                    -> Where(log_mask, Log(Max(x, 0) + 1), x)
                    -> (x - mean) / std -> MatMul(W^T) + b -> Softmax -> probabilities [N, C]
                                                                 \\-> ArgMax -> label [N]
"""
from __future__ import annotations

import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression

from .features import SPEC

ONNX_OPSET = 17
INPUT_NAME = "features"
OUTPUTS = ("label", "probabilities")


class Preprocessor:
    """Median imputation, log1p on the spec's heavy-tailed features, z-scoring (ddof=0)."""

    def __init__(self, log_mask=None):
        if log_mask is None:
            log_mask = [f.get("logistic_transform") == "log1p" for f in SPEC["features"]]
        self.log_mask = np.asarray(log_mask, bool)

    def fit(self, X):
        X = np.asarray(X, np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN columns (e.g. no demographics)
            med = np.nanmedian(X, axis=0)
        self.median = np.where(np.isnan(med), 0.0, med)   # an all-missing column imputes 0
        Z = self._impute_log(X)
        self.mean = Z.mean(axis=0)
        std = Z.std(axis=0, ddof=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def _impute_log(self, X):
        X = np.where(np.isnan(X), self.median, X)
        return np.where(self.log_mask, np.log1p(np.maximum(X, 0.0)), X)

    def transform(self, X):
        return (self._impute_log(np.asarray(X, np.float64)) - self.mean) / self.std

    def describe(self, names):
        return [{"feature": n, "impute_median": float(m), "log1p": bool(l), "mean": float(mu), "std": float(s)}
                for n, m, l, mu, s in zip(names, self.median, self.log_mask, self.mean, self.std)]


def train(X, y, C=1.0, seed=42):
    pre = Preprocessor().fit(X)
    clf = LogisticRegression(C=C, max_iter=5000, random_state=seed)  # lbfgs, multinomial
    clf.fit(pre.transform(X), y)
    return pre, clf


def predict_proba(pre, clf, X):
    return clf.predict_proba(pre.transform(X))


def convert(pre: Preprocessor, clf: LogisticRegression, n_features: int) -> onnx.ModelProto:
    n_classes = len(clf.classes_)
    assert list(clf.classes_) == list(range(n_classes))
    f32 = np.float32
    inits = [
        numpy_helper.from_array(pre.median.astype(f32).reshape(1, -1), "impute_median"),
        numpy_helper.from_array(pre.log_mask.reshape(1, -1), "log1p_mask"),
        numpy_helper.from_array(np.array(0.0, f32), "zero"),
        numpy_helper.from_array(np.array(1.0, f32), "one"),
        numpy_helper.from_array(pre.mean.astype(f32).reshape(1, -1), "scaler_mean"),
        numpy_helper.from_array(pre.std.astype(f32).reshape(1, -1), "scaler_std"),
        numpy_helper.from_array(clf.coef_.T.astype(f32), "coef"),
        numpy_helper.from_array(clf.intercept_.astype(f32).reshape(1, -1), "intercept"),
    ]
    nodes = [
        helper.make_node("IsNaN", [INPUT_NAME], ["is_nan"]),
        helper.make_node("Where", ["is_nan", "impute_median", INPUT_NAME], ["imputed"]),
        helper.make_node("Max", ["imputed", "zero"], ["nonneg"]),
        helper.make_node("Add", ["nonneg", "one"], ["plus_one"]),
        helper.make_node("Log", ["plus_one"], ["log1p"]),
        helper.make_node("Where", ["log1p_mask", "log1p", "imputed"], ["transformed"]),
        helper.make_node("Sub", ["transformed", "scaler_mean"], ["centered"]),
        helper.make_node("Div", ["centered", "scaler_std"], ["scaled"]),
        helper.make_node("MatMul", ["scaled", "coef"], ["linear"]),
        helper.make_node("Add", ["linear", "intercept"], ["logits"]),
        helper.make_node("Softmax", ["logits"], [OUTPUTS[1]], axis=-1),
        helper.make_node("ArgMax", ["logits"], [OUTPUTS[0]], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "logistic_segment",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info(OUTPUTS[0], TensorProto.INT64, ["N"]),
         helper.make_tensor_value_info(OUTPUTS[1], TensorProto.FLOAT, ["N", n_classes])],
        initializer=inits)
    m = helper.make_model(graph, producer_name="customer-intelligence python-export",
                          opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def onnx_eval(model: onnx.ModelProto, X) -> np.ndarray:
    """Minimal float32 numpy evaluator of the exported graph (tests; no onnxruntime for Python)."""
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env[INPUT_NAME] = np.asarray(X, np.float32)
    for n in model.graph.node:
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        i = [env[k] for k in n.input]
        op = n.op_type
        if op == "IsNaN":
            r = np.isnan(i[0])
        elif op == "Where":
            r = np.where(i[0], i[1], i[2])
        elif op == "Max":
            r = np.maximum(i[0], i[1])
        elif op == "Add":
            r = i[0] + i[1]
        elif op == "Sub":
            r = i[0] - i[1]
        elif op == "Div":
            r = i[0] / i[1]
        elif op == "Log":
            r = np.log(i[0])
        elif op == "MatMul":
            r = i[0] @ i[1]
        elif op == "Softmax":
            z = i[0] - i[0].max(axis=a["axis"], keepdims=True)
            e = np.exp(z)
            r = e / e.sum(axis=a["axis"], keepdims=True)
        elif op == "ArgMax":
            r = i[0].argmax(axis=a["axis"])
        else:
            raise NotImplementedError(op)
        env[n.output[0]] = np.asarray(r).astype(np.float32) if op not in ("IsNaN", "ArgMax") else r
    return env[OUTPUTS[1]]
