"""Evaluation-only variant of the segment Transformer: item-level order tokens and an optional
next-orders auxiliary target.

Not exported to ONNX and not served: the product stores orders (amount, item count), not their
lines, so the live feature path (src/features) has nothing to feed it. It exists to measure whether
the sequence model earns its place when line items exist (evaluate_transformer.py).

Differences from transformer.SegmentTransformer (whose layers it reuses unchanged):
* each order token adds the quantity-weighted mean, over the order's lines (item_tokens), of
  category embedding + product embedding + a projection of (standardised log unit price, log1p quantity);
* with aux_weight > 0 a second head predicts the number of paid orders in (T, T+H] (Poisson
  log-rate; a next-order likelihood), trained jointly: loss = cross-entropy + aux_weight x Poisson NLL.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from .logistic_onnx import Preprocessor
from .transformer import CONFIG, SegmentTransformer, _length_batches, _token_stats, _token_transform


class ItemSegmentTransformer(SegmentTransformer):
    def __init__(self, n_features, pre, tok_mean, tok_std, n_categories, n_products, price_stats,
                 use_items=True, aux=False, cfg=CONFIG):
        super().__init__(n_features, pre, tok_mean, tok_std, cfg=cfg)
        d = cfg["d_model"]
        self.use_items, self.aux = use_items, aux
        self.register_buffer("price_stats", torch.tensor(price_stats, dtype=torch.float32))
        self.cat_emb = nn.Embedding(n_categories + 1, d, padding_idx=0)
        self.prod_emb = nn.Embedding(n_products + 1, d, padding_idx=0)
        self.line_num = nn.Linear(2, d)
        self.line_out = nn.Sequential(nn.GELU(), nn.Linear(d, d))
        self.aux_head = nn.Linear(d + cfg["tab_hidden"], 1)

    def encode(self, features, sequence, mask, cat, prod, qty, price, lmask):
        x = torch.where(torch.isnan(features), self.median, features)
        x = torch.where(self.log_mask, torch.log1p(torch.clamp(x, min=0.0)), x)
        x = (x - self.mean) / self.std
        h = self.embed((_token_transform(sequence) - self.tok_mean) / self.tok_std)
        if self.use_items:
            lp = (torch.log(torch.clamp(price, min=0.01)) - self.price_stats[0]) / self.price_stats[1]
            num = torch.stack([lp, torch.log1p(torch.clamp(qty, min=0.0))], dim=-1)
            e = self.line_out(self.cat_emb(cat) + self.prod_emb(prod) + self.line_num(num))   # [B,S,L,D]
            w = (qty.clamp(min=1.0) * lmask).unsqueeze(-1)
            h = h + (e * w).sum(dim=2) / torch.clamp(w.sum(dim=2), min=1.0)
        neg = ((1.0 - mask) * -1e4).unsqueeze(1).unsqueeze(2)
        for blk in self.blocks:
            h = blk(h, neg)
        h = self.ln(h)
        m = mask.unsqueeze(-1)
        pooled = (h * m).sum(dim=1) / torch.clamp(m.sum(dim=1), min=1.0)
        return torch.cat([pooled, self.tab(x)], dim=-1)

    def both(self, *args):
        z = self.encode(*args)
        return self.head(z), self.aux_head(z).squeeze(-1)


def _tensors(X, tok):
    f = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    return [f(X), f(tok["seq"]), f(tok["mask"]), torch.tensor(tok["cat"], dtype=torch.long),
            torch.tensor(tok["prod"], dtype=torch.long), f(tok["qty"]), f(tok["price"]), f(tok["lmask"])]


def _cut(ts, idx, s_max):
    return [ts[0][idx]] + [t[idx, :s_max] for t in ts[1:]]


def _price_stats(tok):
    real = tok["lmask"] > 0
    if not real.any():
        return [0.0, 1.0]
    lp = np.log(np.maximum(tok["price"][real], 0.01))
    return [float(lp.mean()), float(max(lp.std(), 1e-6))]


def train(X, tok, y, n_orders, Xv, tokv, yv, n_categories, n_products, use_items=True, aux_weight=0.0, seed=42,
          epochs=12, batch=1024, lr=2e-3, patience=3, threads=2, log=print):
    """As transformer.train (AdamW, sortish batches, early stopping on the validation cross-entropy —
    the segment loss alone, so the auxiliary target cannot pick the epoch)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    pre = Preprocessor().fit(X)
    tok_mean, tok_std = _token_stats(tok["seq"], tok["mask"])
    model = ItemSegmentTransformer(X.shape[1], pre, tok_mean, tok_std, n_categories, n_products, _price_stats(tok),
                                   use_items=use_items, aux=aux_weight > 0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    ts, tv = _tensors(X, tok), _tensors(Xv, tokv)
    yt, yvt = torch.tensor(y, dtype=torch.long), torch.tensor(yv, dtype=torch.long)
    nt = torch.tensor(np.asarray(n_orders, np.float64), dtype=torch.float32)
    ce, pois = nn.CrossEntropyLoss(), nn.PoissonNLLLoss(log_input=True)
    lengths = ts[2].sum(dim=1).long()
    best, best_state, bad, history = float("inf"), None, 0, []
    g = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        t0 = time.time()
        model.train()
        tot = 0.0
        for idx in _length_batches(lengths, batch, g):
            s_max = max(1, int(lengths[idx].max()))
            opt.zero_grad()
            z, rate = model.both(*_cut(ts, idx, s_max))
            loss = ce(z, yt[idx])
            if aux_weight > 0:
                loss = loss + aux_weight * pois(rate, nt[idx])
            loss.backward()
            opt.step()
            tot += float(loss) * len(idx)
        vl = _valid_loss(model, tv, yvt)
        history.append({"epoch": ep + 1, "train_loss": tot / len(yt), "valid_loss": vl, "seconds": time.time() - t0})
        log(f"  item transformer (items={use_items}, aux={aux_weight}) epoch {ep + 1}: train {tot / len(yt):.4f} "
            f"valid {vl:.4f} ({time.time() - t0:.1f}s)")
        if vl < best - 1e-4:
            best, best_state, bad = vl, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
            if bad >= patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return model, {"config": CONFIG, "use_items": use_items, "aux_weight": aux_weight, "epochs_run": len(history),
                   "best_valid_loss": best, "history": history, "batch": batch, "lr": lr, "patience": patience}


@torch.no_grad()
def _valid_loss(model, ts, y, batch=4096):
    model.eval()
    lengths = ts[2].sum(dim=1).long()
    order = torch.argsort(lengths, stable=True)
    tot = 0.0
    for i in range(0, len(y), batch):
        idx = order[i:i + batch]
        s_max = max(1, int(lengths[idx].max()))
        z, _ = model.both(*_cut(ts, idx, s_max))
        tot += float(nn.functional.cross_entropy(z, y[idx], reduction="sum"))
    return tot / len(y)


@torch.no_grad()
def predict_proba(model, X, tok, tensors=None, batch=4096):
    model.eval()
    ts = tensors or _tensors(X, tok)
    lengths = ts[2].sum(dim=1).long()
    order = torch.argsort(lengths, stable=True)
    out = np.zeros((len(ts[0]), 3), np.float64)
    for i in range(0, len(ts[0]), batch):
        idx = order[i:i + batch]
        s_max = max(1, int(lengths[idx].max()))
        z, _ = model.both(*_cut(ts, idx, s_max))
        out[idx.numpy()] = torch.softmax(z, dim=-1).numpy()
    return out
