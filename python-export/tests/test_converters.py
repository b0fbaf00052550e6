"""ONNX converters: the exported graph, evaluated in Python from its own attributes/initializers,
reproduces the native library's predictions."""
import numpy as np
import onnx
import pytest
import xgboost as xgb

from segments import logistic_onnx, xgb_onnx
from segments.features import FEATURES


def _data(n=3000, f=6, seed=0, missing=0.15):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, f)) * np.array([1, 10, 0.1, 100, 1, 1])[:f]
    X[rng.rand(n, f) < missing] = np.nan
    z = np.nan_to_num(X[:, 0]) + 0.1 * np.nan_to_num(X[:, 1]) - 5 * np.isnan(X[:, 2])
    y = np.digitize(z + rng.normal(scale=0.5, size=n), [-0.5, 1.0])
    return X, y


@pytest.fixture(scope="module")
def booster_and_data():
    X, y = _data()
    b, _ = xgb_onnx.train(X[:2000], y[:2000], X[2000:2500], y[2000:2500], num_boost_round=40,
                          early_stopping_rounds=40, params={"max_depth": 5, "base_score": 0.3})
    return b, X[2500:]


def test_tree_structure_round_trip(booster_and_data):
    b, X = booster_and_data
    m = xgb_onnx.convert(b, X.shape[1])
    a = xgb_onnx._attrs(m)
    n_nodes = sum(len(t["left_children"]) for t in xgb_onnx.booster_json(b)["learner"]["gradient_booster"]["model"]["trees"])
    assert len(a["nodes_nodeids"]) == n_nodes
    assert a["post_transform"] == b"SOFTMAX"
    assert list(a["classlabels_int64s"]) == [0, 1, 2]
    assert all(c == t % 3 for t, c in zip(a["class_treeids"], a["class_ids"]))
    assert np.allclose(a["base_values"], [0.3] * 3)
    # missing routing equals default_left for every split
    trees = xgb_onnx.booster_json(b)["learner"]["gradient_booster"]["model"]["trees"]
    dl = [int(t["default_left"][i]) for t in trees for i in range(len(t["left_children"])) if t["left_children"][i] != -1]
    modes = [x.decode() for x in a["nodes_modes"]]
    got = [v for v, mo in zip(a["nodes_missing_value_tracks_true"], modes) if mo == "BRANCH_LT"]
    assert got == dl


def test_node_covers_are_stored_in_nodes_hitrates(booster_and_data):
    """nodes_hitrates = XGBoost's per-node cover (sum_hessian), in the nodes_* order (TreeSHAP input)."""
    b, X = booster_and_data
    a = xgb_onnx._attrs(xgb_onnx.convert(b, X.shape[1]))
    dump = b.trees_to_dataframe()
    want = {(int(t), int(n)): c for t, n, c in zip(dump["Tree"], dump["Node"], dump["Cover"])}
    assert len(a["nodes_hitrates"]) == len(a["nodes_nodeids"])
    got = {(t, n): h for t, n, h in zip(a["nodes_treeids"], a["nodes_nodeids"], a["nodes_hitrates"])}
    assert got.keys() == want.keys()
    assert max(abs(got[k] - want[k]) / max(1.0, want[k]) for k in want) < 1e-5
    # a split's cover is the sum of its children's covers
    key = {(t, n): i for i, (t, n) in enumerate(zip(a["nodes_treeids"], a["nodes_nodeids"]))}
    for i, mode in enumerate(a["nodes_modes"]):
        if mode == b"BRANCH_LT":
            t = a["nodes_treeids"][i]
            kids = a["nodes_hitrates"][key[(t, a["nodes_truenodeids"][i])]] + a["nodes_hitrates"][key[(t, a["nodes_falsenodeids"][i])]]
            assert abs(kids - a["nodes_hitrates"][i]) <= 1e-4 * max(1.0, a["nodes_hitrates"][i])


def test_walked_graph_matches_xgboost_margins_and_probabilities(booster_and_data):
    b, X = booster_and_data
    m = xgb_onnx.convert(b, X.shape[1])
    margins = xgb_onnx.onnx_margins(m, X)
    ref = b.predict(xgb_onnx.dmatrix(X), output_margin=True)
    assert np.abs(margins - ref).max() < 1e-5
    assert np.abs(xgb_onnx.softmax(margins) - b.predict(xgb_onnx.dmatrix(X))).max() < 1e-6
    # rows with missing values exercise the default directions
    assert np.isnan(X).any(axis=1).sum() > 100


def test_thresholds_are_float32_exact(booster_and_data):
    """A value equal to a split threshold goes right (x < t is false), like XGBoost."""
    b, X = booster_and_data
    m = xgb_onnx.convert(b, X.shape[1])
    a = xgb_onnx._attrs(m)
    modes = [x.decode() for x in a["nodes_modes"]]
    i = modes.index("BRANCH_LT")
    Xe = X[:50].copy()
    Xe[:, a["nodes_featureids"][i]] = np.float32(a["nodes_values"][i])
    ref = b.predict(xgb_onnx.dmatrix(Xe), output_margin=True)
    assert np.abs(xgb_onnx.onnx_margins(m, Xe) - ref).max() < 1e-5


def test_single_leaf_trees_convert():
    X = np.ones((20, 2))
    y = np.array([0, 1, 2, 0] * 5)
    b = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2}, xgb.DMatrix(X, label=y), 2)
    m = xgb_onnx.convert(b, 2)
    ref = b.predict(xgb_onnx.dmatrix(X), output_margin=True)
    assert np.abs(xgb_onnx.onnx_margins(m, X) - ref).max() < 1e-6


def test_pred_contribs_sum_to_margin(booster_and_data):
    b, X = booster_and_data
    c = xgb_onnx.pred_contribs(b, X[:100])
    assert c.shape == (100, 3, X.shape[1] + 1)
    ref = b.predict(xgb_onnx.dmatrix(X[:100]), output_margin=True)
    assert np.abs(c.sum(axis=2) - ref).max() < 1e-4


def test_logistic_graph_matches_sklearn():
    X, y = _data(n=2000, f=6, seed=1)
    Xf = np.zeros((len(X), len(FEATURES)))
    Xf[:, :6] = X
    Xf[:, 6:] = np.abs(np.random.RandomState(2).normal(size=(len(X), len(FEATURES) - 6))) * 50
    Xf[:, -1] = np.nan   # a feature never observed (like CDNOW demographics)
    pre, clf = logistic_onnx.train(Xf[:1500], y[:1500])
    m = logistic_onnx.convert(pre, clf, Xf.shape[1])
    onnx.checker.check_model(m)
    got = logistic_onnx.onnx_eval(m, Xf[1500:])
    ref = logistic_onnx.predict_proba(pre, clf, Xf[1500:])
    assert np.abs(got - ref).max() < 1e-5
    # constants are in the graph: a single row gives the same answer as inside a batch (up to the
    # float rounding of BLAS, whose kernels differ by batch size: 6e-8 was seen here)
    one = logistic_onnx.onnx_eval(m, Xf[1500:1501])
    assert np.abs(one - got[:1]).max() < 1e-6


def test_transformer_padding_is_masked_and_export_has_dynamic_axes():
    import torch
    from segments import transformer
    rng = np.random.RandomState(3)
    n, L = 64, 6
    X = np.abs(rng.normal(size=(n, len(FEATURES)))) * 10
    X[:, -2:] = np.nan
    lengths = rng.randint(0, L + 1, n)
    mask = (np.arange(L)[None, :] < lengths[:, None]).astype(float)
    seq = np.abs(rng.normal(size=(n, L, 5))) * 5 * mask[..., None]
    seq[..., 4] = rng.randint(0, 7, (n, L)) * mask
    y = rng.randint(0, 3, n)
    model, _ = transformer.train(X, seq, mask, y, X, seq, mask, y, epochs=1, batch=16, log=lambda *_: None)
    p = transformer.predict_proba(model, X, seq, mask)
    pad = lambda a, k: np.concatenate([a, np.zeros(a.shape[:1] + (k,) + a.shape[2:])], axis=1)  # noqa: E731
    p2 = transformer.predict_proba(model, X, pad(seq, 9), pad(mask, 9))
    assert np.abs(p - p2).max() < 1e-5
    with torch.no_grad():
        t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
        one = model(t(X[:1]), t(seq[:1, :max(1, lengths[0])]), t(mask[:1, :max(1, lengths[0])]))[1].numpy()
    assert np.abs(one - p[:1]).max() < 1e-5
    m = onnx.load_from_string(transformer.export(model, len(FEATURES)))
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input}
    assert dims == {"features": ["N", len(FEATURES)], "sequence": ["N", "S", 5], "mask": ["N", "S"]}
