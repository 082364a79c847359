"""Argument checks of the convolution, pooling and batch-norm functions: every bad input
a clear error naming the op and the shapes, raised before anything is computed (so a
bad call leaves the running statistics as they were)."""

import numpy as np

from ..backend.reference import output_size
from ..ops.batchnorm import IMPLS
from ..ops.conv import Geometry
from ..tensor import Tensor, as_tensor


def is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def pair(value, name, op_name):
    """An int or a pair of ints as a tuple (rows, columns)."""
    if is_int(value):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{op_name}: {name} must be an int or a pair of ints, got {value!r}")


def as_batch(x, op_name):
    """A 4-D view of ``x``, and whether it was an unbatched (C, H, W) image."""
    x = as_tensor(x)
    if x.ndim == 3:
        return x.unsqueeze(0), True
    if x.ndim != 4:
        raise ValueError(f"{op_name}: expected an input of shape (N, C, H, W) or (C, H, W), got {x.shape}")
    return x, False


def conv2d_arguments(x, weight, bias, stride, padding, dilation, groups):
    """``(x, weight, bias, unbatched, geometry)`` of a valid conv2d call."""
    x, unbatched = as_batch(x, "conv2d")
    weight = as_tensor(weight)
    stride = pair(stride, "stride", "conv2d")
    padding = pair(padding, "padding", "conv2d")
    dilation = pair(dilation, "dilation", "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must have shape (C_out, C_in/groups, kH, kW), got {weight.shape}")
    if min(stride) <= 0:
        raise ValueError(f"conv2d: non-positive stride {stride} is not supported")
    if min(padding) < 0:
        raise ValueError(f"conv2d: negative padding {padding} is not supported")
    if min(dilation) <= 0:
        raise ValueError(f"conv2d: dilation must be greater than zero, got {dilation}")
    if not is_int(groups) or groups <= 0:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    c_out, c_per_group, kh, kw = weight.shape
    if kh <= 0 or kw <= 0:
        raise ValueError(f"conv2d: kernel size should be greater than zero, got weight of shape {weight.shape}")
    if c_out == 0 or c_per_group == 0:
        raise ValueError(f"conv2d: weight of shape {weight.shape} has no filters or no input channels")
    if c_out % groups != 0:
        raise ValueError(
            f"conv2d: groups={groups} does not divide the {c_out} output channels of weight {weight.shape}"
        )
    if x.shape[1] != c_per_group * groups:
        raise ValueError(
            f"conv2d: input of shape {x.shape} has {x.shape[1]} channels, but weight of shape "
            f"{weight.shape} with groups={groups} expects {c_per_group * groups}"
        )
    padded = (x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])
    effective = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    if padded[0] < effective[0] or padded[1] < effective[1]:
        raise ValueError(
            f"conv2d: the kernel {effective} (weight {weight.shape}, dilation {dilation}) is larger "
            f"than the padded input {padded} (input {x.shape}, padding {padding})"
        )
    if bias is not None:
        bias = as_tensor(bias)
        if bias.shape != (c_out,):
            raise ValueError(
                f"conv2d: bias must have shape ({c_out},) for weight {weight.shape}, got {bias.shape}"
            )
    return x, weight, bias, unbatched, Geometry(stride, padding, dilation, int(groups))


def pool_arguments(x, kernel_size, stride, padding, op_name):
    """``(x, unbatched, kernel, geometry)`` of a valid pooling call."""
    x, unbatched = as_batch(x, op_name)
    kernel = pair(kernel_size, "kernel_size", op_name)
    stride = kernel if stride is None else pair(stride, "stride", op_name)
    padding = pair(padding, "padding", op_name)
    if min(kernel) <= 0:
        raise ValueError(f"{op_name}: kernel_size must be greater than zero, got {kernel}")
    if min(stride) <= 0:
        raise ValueError(f"{op_name}: stride must be greater than zero, got {stride}")
    if min(padding) < 0 or padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{op_name}: padding should be at least zero and at most half of the kernel size, "
            f"got padding={padding} and kernel_size={kernel}"
        )
    out_size = tuple(output_size(size, k, s, p, 1) for size, k, s, p in zip(x.shape[2:], kernel, stride, padding))
    if min(out_size) <= 0:
        raise ValueError(
            f"{op_name}: the kernel {kernel} is larger than the padded input (input {x.shape}, "
            f"padding {padding}); the output would be {out_size}"
        )
    return x, unbatched, kernel, Geometry(stride, padding, (1, 1), 1)


def batch_norm_arguments(x, running_mean, running_var, weight, bias, training, impl):
    """``(running_mean, running_var, weight, bias)`` of a valid batch_norm call, as Tensors
    (a NumPy running statistic shares its memory: the update lands in it)."""
    running_mean = running_statistic(running_mean, "running_mean")
    running_var = running_statistic(running_var, "running_var")
    weight = None if weight is None else as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    if impl not in IMPLS:
        raise ValueError(f"batch_norm: impl must be one of {IMPLS}, got {impl!r}")
    if x.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an input of shape (N, C, ...) with at least 2 dimensions, "
            f"got shape {x.shape}"
        )
    if x.dtype.kind != "f":
        raise ValueError(f"batch_norm: expected a floating point input, got {x.dtype}")
    if impl == "fused" and x.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"batch_norm: the fused kernels take float32 or float64, got {x.dtype}; "
            "use impl='composed' for other float types"
        )
    channels = x.shape[1]
    if x.numel() == 0:
        raise ValueError(f"batch_norm: the input of shape {x.shape} is empty")
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var),
                         ("weight", weight), ("bias", bias)):
        if tensor is not None and tensor.shape != (channels,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({channels},) for an input of shape "
                f"{x.shape} (channels on axis 1), got {tensor.shape}"
            )
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if training:
        if x.numel() // channels == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {x.shape}"
            )
    elif running_mean is None:
        raise ValueError(
            "batch_norm: running_mean and running_var are needed when training=False "
            "(eval mode normalizes with them)"
        )
    return running_mean, running_var, weight, bias


def running_statistic(value, name):
    """A running mean or variance as a Tensor it can update in place, or None."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = Tensor._wrap(value)  # shares the array's memory
    elif not isinstance(value, Tensor):
        raise TypeError(f"batch_norm: {name} must be a Tensor, an ndarray or None, got {type(value).__name__}")
    if value.dtype.kind != "f":
        raise TypeError(
            f"batch_norm: {name} has dtype {value.dtype}; running statistics must be floating "
            "point (they are updated in place, and an integer array would truncate the update)"
        )
    if not value.data.flags.writeable:
        raise ValueError(f"batch_norm: {name} is read-only, and it is updated in place")
    return value
