"""Functional forms of the layers: stateless functions of tensors."""

import numpy as np

from .. import rng
from ..aliases import torch_names
from . import checks
from ..ops import batchnorm as _batchnorm
from ..ops.conv import Conv2d
from ..ops.loss import CrossEntropy
from ..ops.pool import AvgPool2d, MaxPool2d
from ..ops.pad import Pad
from ..ops.reduce import normalize_axis
from ..tensor import Tensor, as_tensor, where

REDUCTIONS = ("mean", "sum", "none")


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, impl="fused"):
    """Batch normalization over axis 1 (channels), as PyTorch's ``F.batch_norm``.

    Parameters
    ----------
    x : Tensor of shape (N, C), (N, C, L) or (N, C, H, W)
    running_mean, running_var : Tensor of shape (C,) or None
        Updated in place in training: ``(1 - momentum) * old + momentum * batch``, the
        variance from the unbiased batch variance. Used to normalize when not training.
    weight, bias : Tensor of shape (C,) or None
        gamma and beta, the per-channel scale and shift.
    training : bool
        Normalize with the batch statistics (biased variance) and update the running ones.
    momentum, eps : float
    impl : {"fused", "composed"}
        "fused" runs one Numba node; "composed" builds the graph from primitive ops
        (slower, but twice differentiable). Both give the same numbers.

    Returns
    -------
    Tensor of the shape and dtype of ``x``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg, minigrad.nn.functional as F
    >>> x = mg.tensor([[1.0, 10.0], [3.0, 30.0]])
    >>> rm, rv = mg.zeros(2), mg.ones(2)
    >>> y = F.batch_norm(x, rm, rv, training=True, impl="composed")
    >>> np.round(y.numpy(), 3).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> print(rm.numpy(), rv.numpy())  # 0.1 * batch mean; 0.9 + 0.1 * unbiased batch variance
    [0.2 2. ] [ 1.1 20.9]
    """
    running_mean, running_var, weight, bias = checks.batch_norm_arguments(
        x, running_mean, running_var, weight, bias, training, impl)
    run = _batchnorm.batch_norm_fused if impl == "fused" else _batchnorm.batch_norm_composed
    return run(x, running_mean, running_var, weight, bias, training, momentum, eps)


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


def leaky_relu(x, negative_slope=0.01):
    """``x`` where positive, ``negative_slope * x`` elsewhere (the slope at 0, as PyTorch)."""
    x = as_tensor(x)
    return where(x > 0, x, x * negative_slope)


GELU_APPROXIMATIONS = ("none", "tanh")


def gelu(x, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF; ``approximate="tanh"`` uses PyTorch's tanh
    formula instead of erf.

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> round(F.gelu(mg.tensor(1.0)).item(), 6)
    0.841345
    """
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be one of {GELU_APPROXIMATIONS}, got {approximate!r}")
    x = as_tensor(x)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * float(np.sqrt(2.0 / np.pi))
        return x * 0.5 * (inner.tanh() + 1.0)
    return x * 0.5 * ((x * float(1.0 / np.sqrt(2.0))).erf() + 1.0)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last ``len(normalized_shape)`` axes (biased variance), then scale
    by ``weight`` and shift by ``bias`` (each of ``normalized_shape``), as PyTorch.

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> [round(v, 4) for v in F.layer_norm(mg.tensor([[1.0, 3.0]]), (2,)).tolist()[0]]
    [-1.0, 1.0]
    """
    x = as_tensor(x)
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(normalized_shape)
    count = len(normalized_shape)
    if count == 0 or x.shape[x.ndim - count:] != normalized_shape or x.ndim < count:
        raise ValueError(
            f"layer_norm: input of shape {x.shape} does not end in normalized_shape {normalized_shape}"
        )
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tuple(tensor.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} has shape {tensor.shape}, not normalized_shape {normalized_shape}")
    axes = tuple(range(x.ndim - count, x.ndim))
    centered = x - x.mean(axis=axes, keepdims=True)
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    out = centered / (variance + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


@torch_names
def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max so it cannot overflow."""
    shifted = x - _max_shift(x, axis, "softmax")
    exps = shifted.exp()
    return exps / exps.sum(axis=axis, keepdims=True)


@torch_names
def log_softmax(x, axis=-1):
    """x - log(sum(exp(x))) along ``axis``, computed stably."""
    shifted = x - _max_shift(x, axis, "log_softmax")
    if x.data.size == 0:  # an empty result, as NumPy and PyTorch (no log of an empty sum)
        return shifted
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


def _max_shift(x, axis, op_name):
    """The max along ``axis`` (kept), a constant with no node; zeros for an empty tensor."""
    (axis,) = normalize_axis(axis, x.ndim, op_name) or (None,)
    if x.data.size == 0:
        return Tensor._wrap(np.zeros(x.shape[:axis] + (1,) + x.shape[axis + 1:], dtype=x.dtype))
    return Tensor._wrap(x.data.max(axis=axis, keepdims=True))


def _check_reduction(reduction, op_name):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op_name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _class_targets(logits, target, op_name, ignore_index):
    """``target`` as an int64 array of class indices (N,) for ``logits`` (N, C), checked."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if logits.ndim != 2 or target.shape != (logits.shape[0],):
        raise ValueError(
            f"{op_name}: expected input (N, C) and target (N,), got {logits.shape} and {target.shape}"
        )
    if target.dtype.kind not in "iu":
        raise ValueError(f"{op_name}: target must hold integer class indices, not {target.dtype}")
    kept = target[target != ignore_index]
    if kept.size and (kept.min() < 0 or kept.max() >= logits.shape[1]):
        raise ValueError(
            f"{op_name}: target values must lie in [0, {logits.shape[1]}) (or be ignore_index="
            f"{ignore_index}), got [{kept.min()}, {kept.max()}]"
        )
    return target


def _class_weight(weight, logits, op_name):
    if weight is None:
        return None
    weight = as_tensor(weight)
    if weight.shape != (logits.shape[1],):
        raise ValueError(
            f"{op_name}: weight must have one value per class, shape ({logits.shape[1]},), got {weight.shape}"
        )
    return weight


def _weighted_reduce(loss, row_weight, reduction):
    """PyTorch's reductions for class-index losses: "mean" divides by the summed weights of
    the rows that count (their number without class weights; ignored rows weigh 0)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean() if row_weight is None else loss.sum() / row_weight.sum()


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C) at class indices
    ``target`` (N,), as PyTorch: ``-input[i, target[i]] * weight[target[i]]``.

    Rows whose target is ``ignore_index`` add nothing and, with "mean", are not counted.

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> F.nll_loss(mg.tensor([[-1.0, -2.0], [-3.0, -0.5]]), [0, 1]).item()
    0.75
    """
    _check_reduction(reduction, "nll_loss")
    target = _class_targets(input, target, "nll_loss", ignore_index)
    weight = _class_weight(weight, input, "nll_loss")
    loss, row_weight = _picked_loss(input, target, weight, ignore_index)
    return _weighted_reduce(loss, row_weight, reduction)


def _picked_loss(log_probs, target, weight, ignore_index):
    """(-log_probs[i, target[i]] * w[target[i]] per row, 0 where ignored; the row weights,
    None when every row counts once)."""
    kept = target != ignore_index
    if weight is None and kept.all():  # the common case: every row counts once
        return -log_probs[np.arange(log_probs.shape[0]), target], None
    safe = np.where(kept, target, 0)
    row_weight = Tensor._wrap(kept.astype(log_probs.dtype))
    if weight is not None:
        row_weight = weight[safe] * row_weight
    picked = log_probs[np.arange(log_probs.shape[0]), safe]
    return -picked * row_weight, row_weight


def cross_entropy(logits, target, reduction="mean", *, weight=None, ignore_index=-100, label_smoothing=0.0):
    """Softmax cross-entropy of logits (N, C) against class indices (N,), as PyTorch.

    Parameters
    ----------
    logits : Tensor of shape (N, C)
    target : int Tensor or array of shape (N,)
    reduction : "mean", "sum" or "none"
    weight : Tensor of shape (C,), optional
        A weight per class; "mean" then divides by the summed weights of the targets.
    ignore_index : int
        Rows with this target add nothing (and are not counted by "mean").
    label_smoothing : float in [0, 1]
        The target becomes ``(1 - label_smoothing)`` on the class plus
        ``label_smoothing / C`` on every class.

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> round(F.cross_entropy(mg.zeros(1, 4), [2]).item(), 4)  # log(4)
    1.3863
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    target = _class_targets(logits, target, "cross_entropy", ignore_index)
    weight = _class_weight(weight, logits, "cross_entropy")
    if (weight is None and not label_smoothing and logits.dtype.kind == "f" and logits.shape[0]
            and (target != ignore_index).all()):
        # the common case as one node (ops/loss.py): the same loss, a fraction of the cost
        return CrossEntropy.apply(logits, target=target, reduction=reduction)
    log_probs = log_softmax(logits, axis=1)
    loss, row_weight = _picked_loss(log_probs, target, weight, ignore_index)
    if label_smoothing:
        # every class's -log p, weighted per class, counted only on rows that are kept
        spread = log_probs if weight is None else log_probs * weight
        kept = Tensor._wrap((target != ignore_index).astype(logits.dtype))
        smooth = -spread.sum(axis=1) * kept
        loss = loss * (1.0 - label_smoothing) + smooth * (label_smoothing / logits.shape[1])
    return _weighted_reduce(loss, row_weight, reduction)


def one_hot(tensor, num_classes=-1):
    """Class indices (any shape) as int64 one-hot vectors along a new last axis, as PyTorch;
    ``num_classes=-1`` takes the largest index plus one.

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> F.one_hot(mg.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    indices = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if indices.dtype.kind not in "iu":
        raise ValueError(f"one_hot: expects integer class indices, got {indices.dtype}")
    if indices.size and indices.min() < 0:
        raise ValueError(f"one_hot: class indices must be >= 0, got {indices.min()}")
    if num_classes == -1:
        if not indices.size:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass it")
        num_classes = int(indices.max()) + 1
    elif indices.size and indices.max() >= num_classes:
        raise ValueError(f"one_hot: class index {indices.max()} does not fit num_classes={num_classes}")
    out = np.zeros(indices.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, indices[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._wrap(out)


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


PAD_MODES = ("constant", "reflect", "replicate", "circular")
_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x, pad, mode="constant", value=0.0):  # noqa: A002 (PyTorch's argument name)
    """Pad the last axes, as PyTorch: ``pad = (left, right)`` for the last axis, then
    ``(top, bottom)`` for the one before, and so on; each amount may differ.

    Parameters
    ----------
    x : Tensor
    pad : tuple of an even number of ints
        Negative amounts crop (constant mode only).
    mode : "constant", "reflect", "replicate" or "circular"
    value : float
        The fill of constant mode.

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> F.pad(mg.ones(1, 2), (1, 2)).tolist()
    [[0.0, 1.0, 1.0, 0.0, 0.0]]
    """
    x = as_tensor(x)
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    amounts = tuple(pad)
    if len(amounts) % 2 or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in amounts):
        raise ValueError(f"pad: pad must hold an even number of ints, got {pad!r}")
    if len(amounts) // 2 > x.ndim:
        raise ValueError(f"pad: {pad} pads {len(amounts) // 2} axes, but the input has shape {x.shape}")
    widths = [[0, 0] for _ in range(x.ndim)]
    for i in range(len(amounts) // 2):
        widths[x.ndim - 1 - i] = [int(amounts[2 * i]), int(amounts[2 * i + 1])]
    if mode != "constant":
        return _pad_by_index(x, widths, mode)
    crop = tuple(slice(max(-before, 0), size - max(-after, 0)) for (before, after), size in zip(widths, x.shape))
    if any(before < 0 or after < 0 for before, after in widths):
        if any(c.stop - c.start < 0 for c in crop):
            raise ValueError(f"pad: {pad} crops more than the input of shape {x.shape} holds")
        x = x[crop]
    widths = tuple((max(before, 0), max(after, 0)) for before, after in widths)
    if not any(before or after for before, after in widths):
        return x
    return Pad.apply(x, widths=widths, value=value)


def _pad_by_index(x, widths, mode):
    """reflect / replicate / circular: each padded axis gathered with NumPy's padded indices."""
    for axis, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        size = x.shape[axis]
        if before < 0 or after < 0:
            raise ValueError(f"pad: negative amounts crop only in constant mode, got {widths[axis]} ({mode})")
        limit = size - 1 if mode == "reflect" else size
        if max(before, after) > limit or size == 0:
            raise ValueError(
                f"pad: {mode} padding of {(before, after)} needs amounts of at most {limit} for "
                f"axis {axis} of size {size} (input shape {x.shape})"
            )
        index = np.pad(np.arange(size), (before, after), mode=_NUMPY_PAD_MODES[mode])
        x = x[(slice(None),) * axis + (index,)]
    return x


def _padding_sides(padding, op_name):
    """padding as ((top, bottom), (left, right)), or None for a string."""
    if isinstance(padding, str):
        return None
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 0 for p in padding):
            raise ValueError(f"{op_name}: a 4-tuple padding must hold ints >= 0, got {padding!r}")
        left, right, top, bottom = (int(p) for p in padding)
        return (top, bottom), (left, right)
    rows, cols = checks.pair(padding, "padding", op_name)
    return (rows, rows), (cols, cols)


def _same_sides(spans):
    """PyTorch's and TensorFlow's "same": any odd pixel goes after (bottom, right)."""
    return tuple((total // 2, total - total // 2) for total in spans)


def _apply_padding(x, sides, op_name, value=0.0):
    """(x, symmetric padding pair): asymmetric sides are padded here with F.pad."""
    (top, bottom), (left, right) = sides
    if top == bottom and left == right:
        return x, (top, left)
    return pad(x, (left, right, top, bottom), value=value), (0, 0)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) of an NCHW batch.

    Parameters
    ----------
    x : Tensor of shape (N, C_in, H, W), or (C_in, H, W)
    weight : Tensor of shape (C_out, C_in / groups, kH, kW)
    bias : Tensor of shape (C_out,), optional
    stride, dilation : int or pair of ints
    padding : int, pair, "valid", "same" or a 4-tuple (left, right, top, bottom)
        "same" (stride 1, as PyTorch) keeps H and W, the odd pixel of an even kernel
        going to the bottom and right; a 4-tuple pads each side by its own amount.
    groups : int
        Split the channels into this many independent convolutions.

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> F.conv2d(mg.ones(1, 1, 4, 4), mg.ones(1, 1, 2, 2), padding="same").shape
    (1, 1, 4, 4)
    >>> F.conv2d(mg.ones(1, 1, 4, 4), mg.ones(1, 1, 3, 3), padding=(1, 0, 0, 0)).shape
    (1, 1, 2, 3)
    """
    sides = _padding_sides(padding, "conv2d")
    if sides is None:
        if padding == "valid":
            sides = ((0, 0), (0, 0))
        elif padding == "same":
            stride_pair = checks.pair(stride, "stride", "conv2d")
            if stride_pair != (1, 1):
                raise ValueError(f"conv2d: padding='same' is not supported for strided convolutions (stride {stride_pair})")
            dilation_pair = checks.pair(dilation, "dilation", "conv2d")
            weight = as_tensor(weight)
            if weight.ndim != 4:
                raise ValueError(f"conv2d: weight must have shape (C_out, C_in/groups, kH, kW), got {weight.shape}")
            sides = _same_sides(d * (k - 1) for d, k in zip(dilation_pair, weight.shape[2:]))
        else:
            raise ValueError(f"conv2d: padding must be an int, a pair, a 4-tuple, 'valid' or 'same', got {padding!r}")
    x, padding = _apply_padding(as_tensor(x), sides, "conv2d")
    return _conv2d(x, weight, bias, stride, padding, dilation, groups)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over sliding windows; the gradient goes to each window's first maximum.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W), or (C, H, W)
    kernel_size : int or pair of ints
    stride : int or pair of ints, optional
        Defaults to ``kernel_size``.
    padding : int, pair, "valid", "same" or a 4-tuple (left, right, top, bottom)
        Implicit -inf padding. An int or pair pads both sides, at most half the kernel
        (as PyTorch); "same" gives ``ceil(size / stride)`` outputs, padding as TensorFlow
        does (the odd pixel after); a 4-tuple pads each side by its own amount.

    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> x = mg.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.max_pool2d(x, 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    >>> F.max_pool2d(mg.ones(1, 1, 5, 5), 2, padding="same").shape
    (1, 1, 3, 3)
    """
    sides = _padding_sides(padding, "max_pool2d")
    if sides is None:
        if padding == "valid":
            sides = ((0, 0), (0, 0))
        elif padding == "same":
            x = as_tensor(x)
            kernel = checks.pair(kernel_size, "kernel_size", "max_pool2d")
            strides = kernel if stride is None else checks.pair(stride, "stride", "max_pool2d")
            if x.ndim not in (3, 4):
                raise ValueError(f"max_pool2d: expected an input of shape (N, C, H, W) or (C, H, W), got {x.shape}")
            sizes = x.shape[-2:]
            sides = _same_sides(max((-(-n // s) - 1) * s + k - n, 0) for n, k, s in zip(sizes, kernel, strides))
        else:
            raise ValueError(f"max_pool2d: padding must be an int, a pair, a 4-tuple, 'valid' or 'same', got {padding!r}")
    (top, bottom), (left, right) = sides
    x = as_tensor(x)
    if top == bottom and left == right:
        return _max_pool2d(x, kernel_size, stride, (top, left))
    if x.dtype.kind != "f":
        raise ValueError(f"max_pool2d: uneven padding needs a float input (it pads with -inf), got {x.dtype}")
    padded = pad(x, (left, right, top, bottom), value=-np.inf)
    return _max_pool2d(padded, kernel_size, stride, 0)


def _conv2d(x, weight, bias, stride, padding, dilation, groups):
    """conv2d with symmetric padding: the checks, then the Function."""
    x, weight, bias, unbatched, geometry = checks.conv2d_arguments(x, weight, bias, stride, padding,
                                                                   dilation, groups)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    out = Conv2d.apply(*inputs, geometry=geometry)
    return out.squeeze(0) if unbatched else out


def _max_pool2d(x, kernel_size, stride, padding):
    """max_pool2d with symmetric padding: the checks, then the Function."""
    x, unbatched, kernel, geometry = checks.pool_arguments(x, kernel_size, stride, padding, "max_pool2d")
    out = MaxPool2d.apply(x, kernel=kernel, geometry=geometry)
    return out.squeeze(0) if unbatched else out


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over sliding windows; zero padding counts in the divisor (as PyTorch's default).

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W), or (C, H, W)
    kernel_size : int or pair of ints
    stride : int or pair of ints, optional
        Defaults to ``kernel_size``.
    padding : int or pair of ints
        Implicit zero padding on both sides, at most half the kernel size.

    Examples
    --------
    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> x = mg.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.avg_pool2d(x, 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    x, unbatched, kernel, geometry = checks.pool_arguments(x, kernel_size, stride, padding, "avg_pool2d")
    out = AvgPool2d.apply(x, kernel=kernel, geometry=geometry)
    return out.squeeze(0) if unbatched else out
