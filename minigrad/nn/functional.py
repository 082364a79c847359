"""Functional forms of the layers: stateless functions of tensors."""

import numpy as np

from .. import rng
from ..aliases import torch_names
from ..ops.batchnorm import batch_norm  # noqa: F401  (composed and fused, see ops/batchnorm.py)
from ..ops.conv import avg_pool2d, conv2d, max_pool2d  # noqa: F401  (im2col, see ops/conv.py)
from ..tensor import Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")


def linear(x, weight, bias=None):
    """``x @ weight.T + bias``, with ``weight`` of shape (out_features, in_features).

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> F.linear(mg.ones(1, 2), mg.tensor([[1.0, 2.0]]), mg.tensor([0.5])).tolist()
    [[3.5]]
    """
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
            f"(expected last axis {weight.shape[1] if weight.ndim == 2 else '?'})"
        )
    out = x @ weight.T
    return out if bias is None else out + bias


def relu(x):
    return x.relu()


def tanh(x):
    return x.tanh()


def sigmoid(x):
    return x.sigmoid()


@torch_names
def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max so it cannot overflow."""
    shifted = x - Tensor._wrap(x.data.max(axis=axis, keepdims=True))  # a constant: no node
    exps = shifted.exp()
    return exps / exps.sum(axis=axis, keepdims=True)


@torch_names
def log_softmax(x, axis=-1):
    """x - log(sum(exp(x))) along ``axis``, computed stably."""
    shifted = x - Tensor._wrap(x.data.max(axis=axis, keepdims=True))  # a constant: no node
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


def _check_reduction(reduction, op_name):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op_name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy of logits (N, C) against class indices (N,).

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> round(F.cross_entropy(mg.zeros(1, 4), [2]).item(), 4)  # log(4)
    1.3863
    """
    _check_reduction(reduction, "cross_entropy")
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if logits.ndim != 2 or target.shape != (logits.shape[0],):
        raise ValueError(
            f"cross_entropy: expected logits (N, C) and target (N,), got {logits.shape} and {target.shape}"
        )
    if target.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy: target must hold integer class indices, not {target.dtype}")
    if target.size and (target.min() < 0 or target.max() >= logits.shape[1]):
        raise ValueError(
            f"cross_entropy: target values must lie in [0, {logits.shape[1]}), "
            f"got [{target.min()}, {target.max()}]"
        )
    log_probs = log_softmax(logits, axis=1)
    picked = log_probs[np.arange(logits.shape[0]), target]
    return _reduce(-picked, reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error, as PyTorch."""
    _check_reduction(reduction, "mse_loss")
    target = as_tensor(target)
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape {target.shape} differ")
    diff = input - target
    return _reduce(diff * diff, reduction)


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero each value with probability ``p``, scale the rest by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = rng.generator().random(x.shape) >= p
    return x * Tensor._wrap((keep / (1.0 - p)).astype(x.dtype))
