"""Softmax cross-entropy of logits (N, C) at class indices (N,) as one node.

Composed from primitive ops (log_softmax, indexing, mean) the loss is about ten nodes,
each with its own pass and its own Python cost; for the small logits of a classifier
that cost is the whole of it. As one node::

    lse[i]  = m[i] + log(sum_j exp(x[i, j] - m[i]))      m[i] = max_j x[i, j]
    loss[i] = lse[i] - x[i, t[i]]
    d loss[i] / d x[i, j] = softmax(x)[i, j] - (j == t[i])

The backward, when no graph of it is recorded (the usual ``loss.backward()``), is that
closed form in NumPy on the saved softmax. When one is (``create_graph=True``), it is the
same formula written with Tensor ops on the logits, so the loss stays twice
differentiable, as the composed one was.
"""

import numpy as np

from ..autograd import Function, is_grad_enabled


class CrossEntropy(Function):
    """Per-row losses reduced by ``reduction`` ("mean", "sum" or "none"); the target is an
    int array of valid class indices (checked by the caller)."""

    @staticmethod
    def forward(ctx, logits, target, reduction):
        shifted = logits - logits.max(axis=1, keepdims=True)
        exps = np.exp(shifted)
        sums = exps.sum(axis=1, keepdims=True)
        rows = np.arange(logits.shape[0])
        losses = np.log(sums[:, 0]) - shifted[rows, target]
        exps /= sums  # the softmax, for the backward
        ctx.softmax, ctx.target, ctx.reduction = exps, target, reduction
        ctx.save_for_backward(logits)
        if reduction == "none":
            return losses
        total = losses.sum(dtype=logits.dtype)
        return np.asarray(total / logits.dtype.type(logits.shape[0]) if reduction == "mean" else total)

    @staticmethod
    def backward(ctx, grad):
        target, reduction = ctx.target, ctx.reduction
        count = ctx.softmax.shape[0]
        one_hot_rows = (np.arange(count), target)
        if is_grad_enabled():  # a graph of the gradient is recorded: Tensor ops on the logits
            (logits,) = ctx.saved_tensors
            shifted = logits - logits.data.max(axis=1, keepdims=True)  # the shift is a constant
            exps = shifted.exp()
            softmax = exps / exps.sum(axis=1, keepdims=True)
            one_hot = np.zeros(ctx.softmax.shape, dtype=ctx.softmax.dtype)
            one_hot[one_hot_rows] = 1
            scale = grad.reshape(-1, 1) if reduction == "none" else grad
            if reduction == "mean":
                scale = scale * (1.0 / count)
            return (softmax - one_hot) * scale
        out = ctx.softmax.copy()  # the graph may be swept again: keep the saved softmax
        out[one_hot_rows] -= 1
        g = grad.data
        if reduction == "none":
            out *= g[:, None]
        else:
            out *= g / count if reduction == "mean" else g
        return out  # the engine wraps an array as a constant Tensor
