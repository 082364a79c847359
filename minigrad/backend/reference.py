"""The NumPy reference of every fast path: readable, no Numba, no array reuse.

The reference backend (``MINIGRAD_BACKEND=reference``, or ``with backend.use("reference")``)
runs these; the tests hold each fast path against them.

conv2d is one matrix product: the input's sliding windows, viewed with stride tricks
and copied once into a column matrix of shape (C*kH*kW, N*OH*OW), multiplied by the
weight reshaped to (C_out, C*kH*kW). Its gradients are again matrix products: the
weight gradient ``grad @ columns.T``, and the input gradient ``weight.T @ grad``, a
column matrix folded back onto the image ("col2im") with one vectorized add per kernel
offset.
"""

from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import current

# Everything about a convolution except the arrays; each field a pair (rows, columns),
# groups an int.
Geometry = namedtuple("Geometry", ["stride", "padding", "dilation", "groups"])


def active():
    """Whether this thread runs on the reference backend."""
    return current() == "reference"


# ---- batch norm over (N, C, S) ----------------------------------------------------------
def channel_stats(x):
    """Per-channel mean and biased variance, float64 of shape (C,) (two passes)."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(0, 2))
    var = ((x64 - mean[None, :, None]) ** 2).mean(axis=(0, 2))
    return mean, var


def normalize(x, mean, scale, shift):
    """``(x - mean) * scale + shift`` per channel, in the dtype of ``x``."""
    dtype = x.dtype
    column = lambda v: v.astype(dtype)[None, :, None]  # noqa: E731
    return (x - column(mean)) * column(scale) + column(shift)


def channel_grad_sums(x, dy, mean, invstd):
    """Per-channel sum(dy) and sum(dy * xhat), float64 of shape (C,)."""
    dy64 = dy.astype(np.float64)
    xhat = (x.astype(np.float64) - mean[None, :, None]) * invstd[None, :, None]
    return dy64.sum(axis=(0, 2)), (dy64 * xhat).sum(axis=(0, 2))


def input_grad(x, dy, mean, invstd, gamma, sum_dy, sum_dy_xhat):
    """dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))."""
    n, c, s = x.shape
    count = n * s
    column = lambda v: v[None, :, None]  # noqa: E731
    xhat = (x.astype(np.float64) - column(mean)) * column(invstd)
    dx = column(gamma * invstd / count) * (count * dy - column(sum_dy) - xhat * column(sum_dy_xhat))
    return dx.astype(x.dtype)


# ---- conv2d and pooling geometry ------------------------------------------------------------------------------
def output_size(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_output_size(input_shape, kernel, geometry):
    """(OH, OW) of a convolution of ``input_shape`` (N, C, H, W)."""
    return tuple(
        output_size(size, k, s, p, d)
        for size, k, s, p, d in zip(input_shape[2:], kernel, geometry.stride, geometry.padding,
                                    geometry.dilation)
    )


def pad(x, padding, value=0.0):
    """Pad the two last axes by ``padding`` = (ph, pw) on both sides (no copy if zero)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def offset_slices(kernel, out_size, stride, dilation=(1, 1)):
    """For each kernel offset (i, j) in order: the flat offset i*kW + j and the pair of
    slices of the padded input that this offset sees across all output positions."""
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = kernel, out_size, stride, dilation
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            yield i * kw + j, rows, cols


# ---- max pooling -------------------------------------------------------------------------
def first_real_offset(kernel, out_size, stride, padding):
    """For each output position, the kernel offset of the window's first non-padding
    element: PyTorch's starting arg-max, so a window of all -inf still has a real one."""
    (_, kw), (oh, ow), (sh, sw), (ph, pw) = kernel, out_size, stride, padding
    first_row = np.maximum(ph - sh * np.arange(oh), 0)
    first_col = np.maximum(pw - sw * np.arange(ow), 0)
    return (first_row[:, None] * kw + first_col[None, :]).astype(np.int64)


def max_pool(x, kernel, stride, padding, out_size):
    """``(best, choice)``: each window's maximum and the kernel offset it came from, one
    strided slice of the padded batch per kernel offset."""
    n, c = x.shape[:2]
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    padded = pad(x, padding, lowest)
    best = np.full((n, c) + tuple(out_size), lowest, dtype=x.dtype)
    choice = np.broadcast_to(first_real_offset(kernel, out_size, stride, padding), best.shape).copy()
    for offset, rows, cols in offset_slices(kernel, out_size, stride):
        values = padded[:, :, rows, cols]
        # Strictly greater keeps the first of equal values; NaN wins, as PyTorch.
        better = (values > best) | np.isnan(values)
        np.copyto(best, values, where=better)
        choice[better] = offset
    return best, choice


def max_pool_scatter(grad, choice, kernel, stride, padding, input_shape):
    """Max pooling's input gradient: each window's ``grad`` added at its arg-max."""
    n, c, h, w = input_shape
    ph, pw = padding
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
    for offset, rows, cols in offset_slices(kernel, grad.shape[2:], stride):
        padded[:, :, rows, cols] += np.where(choice == offset, grad, 0)
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])


def im2col(x, kernel, geometry):
    """The column matrix of ``x`` (N, C, H, W): (groups, C/groups*kH*kW, N*OH*OW).

    Row ``(c, i, j)`` of group ``g`` holds, for every image and output position, the
    input value that kernel offset (i, j) of channel ``g*C/groups + c`` multiplies.
    One copy of a strided view; the channel axis leads so the groups split for free.
    """
    n, c = x.shape[:2]
    kh, kw = kernel
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    oh, ow = conv_output_size(x.shape, kernel, geometry)
    xp = pad(x, geometry.padding)
    s_n, s_c, s_h, s_w = xp.strides
    windows = as_strided(xp, shape=(c, kh, kw, n, oh, ow),
                         strides=(s_c, dh * s_h, dw * s_w, s_n, sh * s_h, sw * s_w), writeable=False)
    return windows.copy().reshape(geometry.groups, c // geometry.groups * kh * kw, n * oh * ow)


def col2im(columns, input_shape, kernel, geometry):
    """The adjoint of ``im2col``: add each column entry back onto the input position it
    was copied from. ``columns`` has shape (groups, C/groups*kH*kW, N*OH*OW)."""
    n, c, h, w = input_shape
    kh, kw = kernel
    ph, pw = geometry.padding
    oh, ow = conv_output_size(input_shape, kernel, geometry)
    columns = columns.reshape(c, kh * kw, n, oh, ow)
    padded = np.zeros((c, n, h + 2 * ph, w + 2 * pw), columns.dtype)
    for offset, rows, cols in offset_slices(kernel, (oh, ow), geometry.stride, geometry.dilation):
        padded[:, :, rows, cols] += columns[:, offset]
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))


def weight_matrix(weight, groups):
    """The weight (C_out, C/groups, kH, kW) as (groups, C_out/groups, C/groups*kH*kW)."""
    return weight.reshape(groups, weight.shape[0] // groups, -1)


def grad_columns(grad, groups):
    """The upstream gradient (N, C_out, OH, OW) as (groups, C_out/groups, N*OH*OW)."""
    n, c_out, oh, ow = grad.shape
    return np.ascontiguousarray(grad.transpose(1, 0, 2, 3)).reshape(groups, c_out // groups, n * oh * ow)


def conv2d_forward(x, weight, geometry, bias=None):
    """``(output, columns)``: the convolution plus ``bias``, and the columns for the
    weight gradient."""
    n, c_out = x.shape[0], weight.shape[0]
    oh, ow = conv_output_size(x.shape, weight.shape[2:], geometry)
    columns = im2col(x, weight.shape[2:], geometry)
    product = np.matmul(weight_matrix(weight, geometry.groups), columns)
    out = np.ascontiguousarray(product.reshape(c_out, n, oh, ow).transpose(1, 0, 2, 3))
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out, columns


def conv2d_input_grad(grad, weight, input_shape, geometry):
    """``weight.T @ grad`` folded back onto the image."""
    weights = weight_matrix(weight, geometry.groups)
    columns = np.matmul(weights.transpose(0, 2, 1), grad_columns(grad, geometry.groups))
    return col2im(columns, input_shape, weight.shape[2:], geometry)


def conv2d_weight_grad(x, grad, weight_shape, geometry, columns=None):
    """``grad @ columns.T``, reshaped to the weight."""
    if columns is None:
        columns = im2col(x, weight_shape[2:], geometry)
    product = np.matmul(grad_columns(grad, geometry.groups), columns.transpose(0, 2, 1))
    return product.reshape(weight_shape)
