"""Gradient utilities: clip_grad_norm_."""

import math

import numpy as np

from ..tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients in place so that their joint norm is at most ``max_norm``, as
    PyTorch: each is multiplied by ``min(1, max_norm / (total_norm + 1e-6))``.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensors
        Those without a gradient are skipped.
    max_norm : float
    norm_type : float or inf
        The p of the p-norm over all gradients together.
    error_if_nonfinite : bool
        Raise (and change nothing) when the total norm is nan or inf.

    Returns
    -------
    Tensor: the total norm before clipping (float32 unless a gradient is float64).

    >>> import minigrad as mg
    >>> from minigrad import nn
    >>> w = mg.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()       # gradient (6, 8): norm 10
    >>> nn.utils.clip_grad_norm_([w], max_norm=1.0).item()
    10.0
    >>> [round(g, 4) for g in w.grad.tolist()]
    [0.6, 0.8]
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    norm_type = float(norm_type)
    dtype = np.result_type(*[g.dtype for g in grads]) if grads else np.dtype(np.float32)
    if not grads:
        return Tensor._wrap(np.zeros((), dtype=dtype))
    if math.isinf(norm_type):
        total = max(float(np.abs(g.data).max()) if g.data.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g.data.astype(np.float64)) ** norm_type)) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, "
            "so they cannot be clipped; set error_if_nonfinite=False to scale them anyway"
        )
    coefficient = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g.data *= g.data.dtype.type(coefficient)
    return Tensor._wrap(np.asarray(total, dtype=dtype))
