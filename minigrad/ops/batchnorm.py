"""Batch normalization, twice: composed from primitive ops, and fused into one node.

Both compute, for an input ``x`` of shape (N, C), (N, C, L) or (N, C, H, W) and each
channel ``c`` (axis 1), over every other axis::

    mean[c] = mean of x[:, c, ...]
    var[c]  = mean of (x[:, c, ...] - mean[c]) ** 2          (biased: divide by the count)
    y       = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]

* ``batch_norm_composed`` writes exactly that with public Tensor ops. Autograd derives
  its backward, and differentiating that backward again (second derivatives) works too.
  It is the definition: readable, and slow (a dozen full-size temporaries).
* ``BatchNormFunction`` is one graph node whose forward and backward call
  ``minigrad/backend/batchnorm.py`` (the Numba kernels, or their NumPy reference): two
  passes over each channel forward
  (the statistics, then y), two backward (the per-channel sums, then dx, with the closed
  form below); for images the second pass reads the channel from cache

      dx = weight / (M * sqrt(var + eps)) * (M * dy - sum(dy) - xhat * sum(dy * xhat))

  where M = N * H * W is the count per channel. It saves only the per-channel mean and
  inverse standard deviation, not xhat; it is once-differentiable.

The tests prove the two are one function (outputs, gradients and running statistics).
This file holds only the maths: the public ``F.batch_norm`` (nn/functional.py) checks
its arguments (nn/checks.py) and calls one of the two.
"""

import numpy as np

from ..autograd import Function, no_grad
from ..backend import batchnorm as backend

IMPLS = ("fused", "composed")


# ---------------------------------------------------------------------------------
# running statistics (shared by both implementations)
# ---------------------------------------------------------------------------------
def update_running_stats(running_mean, running_var, mean, var, count, momentum):
    """In place: ``running = (1 - momentum) * running + momentum * batch``.

    ``var`` is the biased batch variance; the running variance takes the unbiased one,
    ``var * count / (count - 1)``, as PyTorch.
    """
    if running_mean is None:
        return
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    unbiased = np.asarray(var, dtype=np.float64).reshape(-1) * (count / (count - 1))
    for running, batch in ((running_mean, mean), (running_var, unbiased)):
        new = (1.0 - momentum) * running.data.astype(np.float64) + momentum * batch
        running.data[...] = new.astype(running.dtype)


def _channel_shape(x):
    """(1, C, 1, ...): a per-channel vector shaped to broadcast against ``x``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _reduce_axes(x):
    """Every axis but the channel axis: (0,) for (N, C), (0, 2) for (N, C, L), (0, 2, 3) for NCHW."""
    return (0,) + tuple(range(2, x.ndim))


# ---------------------------------------------------------------------------------
# 1. composed: the definition, written with public Tensor ops
# ---------------------------------------------------------------------------------
def batch_norm_composed(x, running_mean, running_var, weight=None, bias=None,
                        training=False, momentum=0.1, eps=1e-5):
    """Batch normalization from primitive ops (means, subtraction, products, sqrt).

    Autograd derives the backward; it is differentiable any number of times.
    """
    axes = _reduce_axes(x)
    shape = _channel_shape(x)
    if training:
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)  # biased: divide by the count
        with no_grad():
            update_running_stats(running_mean, running_var, mean.data, var.data,
                                 x.numel() // x.shape[1], momentum)
    else:
        # Inference: the running statistics are constants (buffers, no gradient).
        mean = running_mean.detach().astype(x.dtype).reshape(shape)
        var = running_var.detach().astype(x.dtype).reshape(shape)
        centered = x - mean
    xhat = centered / (var + eps).sqrt()
    out = xhat
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


# ---------------------------------------------------------------------------------
# 2. fused: one node, Numba kernels forward and backward
# ---------------------------------------------------------------------------------
def _as_3d(array):
    """(N, C, S) C-contiguous view (or copy, if ``array`` is not contiguous)."""
    array = np.ascontiguousarray(array)
    return array.reshape(array.shape[0], array.shape[1], -1)


def _per_channel(tensor_data, channels, fill):
    if tensor_data is None:
        return np.full(channels, fill, dtype=np.float64)
    return tensor_data.astype(np.float64)


class BatchNormFunction(Function):
    """Fused batch norm: inputs ``x`` and, when affine, ``weight`` and ``bias``.

    Training: the kernels compute the per-channel mean and biased variance (float64
    accumulation, shifted sums), then y in one write; backward uses the closed form
    above. Eval: the running statistics make it a per-channel affine map,
    ``y = (x - running_mean) * scale + bias`` with ``scale = weight / sqrt(running_var + eps)``,
    one kernel and one write (the mean is subtracted first, rather than folded into the
    shift, so that float32 inputs with a large mean keep their precision).
    """

    once_differentiable = True

    @staticmethod
    def forward(ctx, x, *affine, has_weight, has_bias, training, running_mean, running_var,
                momentum, eps):
        weight = affine[0] if has_weight else None
        bias = affine[-1] if has_bias else None
        x3 = _as_3d(x)
        channels = x3.shape[1]
        count = x3.shape[0] * x3.shape[2]
        gamma = _per_channel(weight, channels, 1.0)
        beta = _per_channel(bias, channels, 0.0)
        if training:
            y3, mean, var = backend.train_forward(x3, gamma, beta, eps)  # biased variance
            update_running_stats(running_mean, running_var, mean, var, count, momentum)
            invstd = 1.0 / np.sqrt(var + eps)
        else:
            mean = running_mean.data.astype(np.float64)
            invstd = 1.0 / np.sqrt(running_var.data.astype(np.float64) + eps)
            y3 = backend.normalize(x3, mean, invstd * gamma, beta)
        ctx.save_for_backward(x)  # so that changing x in place before backward is caught
        ctx.x3 = x3  # the input itself (or its contiguous copy): no new memory
        ctx.mean = mean  # per channel: 2 * C float64 numbers are all backward needs
        ctx.invstd = invstd
        ctx.gamma = gamma
        ctx.training = training
        ctx.has_weight, ctx.has_bias = has_weight, has_bias
        return y3.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors  # raises if x was changed in place since the forward
        x3 = ctx.x3
        dtype = x3.dtype
        dy3 = _as_3d(grad.data.astype(dtype, copy=False))
        need_x, *need_affine = ctx.needs_input_grad
        grads = [None] * len(ctx.needs_input_grad)
        if need_x and ctx.training:
            # Both per-channel sums, then dx with the closed form.
            dx3, sum_dy, sum_dy_xhat = backend.train_backward(x3, dy3, ctx.mean, ctx.invstd, ctx.gamma)
        else:
            if any(need_affine):
                # One pass over x and dy for both sums (skipped when nothing needs them:
                # eval mode with frozen weight and bias).
                sum_dy, sum_dy_xhat = backend.channel_grad_sums(x3, dy3, ctx.mean, ctx.invstd)
            if need_x:
                # Eval: mean and invstd are constants, so dx = dy * weight * invstd.
                zeros = np.zeros_like(ctx.mean)
                dx3 = backend.normalize(dy3, zeros, ctx.gamma * ctx.invstd, zeros)
        if need_x:
            grads[0] = dx3.reshape(grad.shape)
        position = 1
        if ctx.has_weight:
            if ctx.needs_input_grad[position]:
                grads[position] = sum_dy_xhat.astype(dtype)
            position += 1
        if ctx.has_bias and ctx.needs_input_grad[position]:
            grads[position] = sum_dy.astype(dtype)
        return tuple(grads)


def batch_norm_fused(x, running_mean, running_var, weight=None, bias=None,
                     training=False, momentum=0.1, eps=1e-5):
    """Batch normalization as one fused node (Numba kernels forward and backward)."""
    affine = [t for t in (weight, bias) if t is not None]
    return BatchNormFunction.apply(
        x, *affine, has_weight=weight is not None, has_bias=bias is not None,
        training=training, running_mean=running_mean, running_var=running_var,
        momentum=momentum, eps=eps,
    )
