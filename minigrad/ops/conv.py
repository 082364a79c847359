"""Convolution and pooling over NCHW images, built on im2col views.

conv2d is one matrix product: the input's sliding windows, viewed with stride tricks
and copied once into a column matrix of shape (C*kH*kW, N*OH*OW), are multiplied by the
weight reshaped to (C_out, C*kH*kW). Its gradients are again matrix products:

* the weight gradient is ``grad @ columns.T`` (the columns are kept from the forward);
* the input gradient is ``weight.T @ grad``, a column matrix folded back onto the
  image ("col2im") with one vectorized add per kernel offset (kH*kW of them).

For large problems (``KERNEL_MIN_SIZE``) the memory passes around the three matrix
products run as parallel Numba kernels (minigrad/kernels/conv.py, imported on first
use): im2col straight from the unpadded input, col2im straight into the (N, C, H, W)
result, and the two layout changes between (C_out, N*OH*OW) and (N, C_out, OH, OW),
the bias added on the way; the large arrays that outlive a call (the kept columns,
the output, the input gradient) are recycled once nothing refers to them. Small
problems stay in NumPy, which is also the reference the kernels are tested against;
the stride-1 flat layout below is used on that path only.

For 3x3, stride-1 convolutions with at least ``WINOGRAD_MIN_CHANNELS`` input channels on
the kernels, Winograd's F(4x4, 3x3) replaces im2col (minigrad/kernels/winograd.py): the
input and the upstream gradient become 6x6 tiles in a transformed space where the
convolution is 36 independent matrix products over the channels, 4x fewer
multiplications than im2col; the forward keeps the transformed input tiles instead of
the columns.

Three Functions close the loop for higher derivatives: ``Conv2d`` (the forward),
``Conv2dInputGrad`` (a transposed convolution) and ``Conv2dWeightGrad``. Each is linear
in each of its inputs, and the backward of each is written with the other two, so
conv2d can be differentiated any number of times.

Pooling loops over the kH*kW kernel offsets, each step one strided slice of the
whole batch. Max pooling records which offset won in each window (the first on ties,
as PyTorch); its gradient scatters to that offset, and the scatter's own gradient is
the gather again.
"""

import threading
from collections import OrderedDict, namedtuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function
from ..recycle import recycler as _recycler

# Everything about a convolution except the arrays; each field a pair (rows, columns),
# groups an int.
Geometry = namedtuple("Geometry", ["stride", "padding", "dilation", "groups"])


# ---- plain NumPy helpers (arrays in, arrays out) -------------------------------------
class _Workspace(threading.local):
    """Scratch arrays that live from one call to the next, one per role and shape.

    A fresh array of more than about 100 KiB is often memory the allocator has just handed
    back to the system, so writing it costs a page fault per 4 KiB: several milliseconds
    per call for conv2d's temporaries, more than doubling a small convolution. The
    temporaries that never leave a function (the padded input, the raw product, the
    upstream gradient's layout, the input-gradient columns, col2im's buffer) reuse these
    arrays instead. Never used for an array that is returned or kept on a ctx. One set
    per thread.
    """

    MIN_BYTES = 1 << 16  # smaller blocks come from the heap and rarely fault
    MAX_ARRAYS = 12

    def __init__(self):
        self.arrays = OrderedDict()

    def get(self, role, shape, dtype, zeros=False):
        """An array of this shape and dtype, as the last user of this role left it; when
        new, zeros if ``zeros`` (else uninitialized)."""
        dtype = np.dtype(dtype)
        size = 1
        for length in shape:
            size *= length
        new = np.zeros if zeros else np.empty
        if size * dtype.itemsize < self.MIN_BYTES:
            return new(shape, dtype)
        key = (role, tuple(shape), dtype)
        array = self.arrays.pop(key, None)
        if array is None:
            array = new(shape, dtype)
            while len(self.arrays) >= self.MAX_ARRAYS:
                self.arrays.popitem(last=False)
        self.arrays[key] = array
        return array

    def clear(self):
        self.arrays.clear()


_workspace = _Workspace()


def _pad(x, padding, value=0.0):
    """Pad the two last axes by ``padding`` = (ph, pw) on both sides (no copy if zero)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _output_size(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _offset_slices(kernel, out_size, stride, dilation=(1, 1)):
    """For each kernel offset (i, j) in order: the flat offset i*kW + j and the pair of
    slices of the padded input that this offset sees across all output positions."""
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = kernel, out_size, stride, dilation
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            yield i * kw + j, rows, cols


# The stride-1 column layout: the kernel offset (i, j) of every output position is one
# fixed shift of the padded image read as a flat array, so each row of the column matrix
# is a contiguous slice (a fast copy, and col2im adds long runs). The price is that a row
# of outputs spans the padded width Wp instead of OW (the extra columns are ignored), so
# it is used when that wastes at most this fraction of the matrix products.
FLAT_MAX_WASTE = 0.25


# Column matrices of at least this many elements (C*kH*kW * N*OH*OW) are made, folded
# back and laid out by the parallel Numba kernels of minigrad/kernels/conv.py; smaller
# ones by the NumPy code here. Measured on whole forward+backward steps (float32, 3x3,
# padding 1, 2 cores, medians): the kernels lose on the digits layer (37k elements:
# 0.33-0.40 against 0.21 ms), draw from about 70k to 110k, and win from about 150k
# (x (64, 1, 16, 16), 147k: 0.45-0.53 against 0.55-0.57 ms; x (64, 1, 28, 28), 452k:
# 1.1 against 1.6 ms; the benchmark's layer, 4.7M: about 10.5 against 15 ms).
KERNEL_MIN_SIZE = 1 << 17


def _plan(input_shape, kernel, geometry):
    """``((OH, OW), width, kernels)``: the output size; how many columns a row of outputs
    takes in the column matrix (OW, or the padded width Wp in the stride-1 flat layout);
    and whether the Numba kernels do the memory passes. A function of the shapes only,
    so the forward and every backward of one convolution agree."""
    n, c, h, w = input_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, geometry.stride, geometry.padding, geometry.dilation
    oh = _output_size(h, kh, sh, ph, dh)
    ow = _output_size(w, kw, sw, pw, dw)
    kernels = c * kh * kw * n * oh * ow >= KERNEL_MIN_SIZE
    padded_width = w + 2 * pw
    flat = not kernels and sh == 1 and sw == 1 and padded_width <= (1 + FLAT_MAX_WASTE) * ow
    return (oh, ow), (padded_width if flat else ow), kernels


# The dtypes the kernels are compiled for; others (float16, integers, complex) take the
# NumPy code even when _plan says "kernels", in the same (strided) layout.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _kernels():
    """minigrad/kernels/conv.py, imported on first use (importing minigrad does not
    import Numba; the kernels package sets up the threads first)."""
    from ..kernels import conv as kernels

    return kernels


def _layout(input_shape, kernel, geometry):
    """``((OH, OW), width)`` of ``_plan``: the output size, and how many columns a row of
    outputs takes in the column matrix (OW, or the padded width Wp in the stride-1
    layout, which the Numba kernels never need)."""
    return _plan(input_shape, kernel, geometry)[:2]


def im2col(x, kernel, geometry):
    """The column matrix of ``x`` (N, C, H, W): shape (groups, C/groups*kH*kW, N*OH*width).

    Row ``(c, i, j)`` of group ``g`` holds, for every image and output position, the
    input value that kernel offset (i, j) of channel ``g*C/groups + c`` multiplies.
    One copy of a strided view; the channel axis leads so the groups split for free.
    """
    n, c, h, w = x.shape
    kh, kw = kernel
    (sh, sw), (ph, pw), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
    (oh, ow), width, kernels = _plan(x.shape, kernel, geometry)
    if kernels and x.dtype in KERNEL_DTYPES:
        out = _recycler.get((c * kh * kw, n * oh * ow), x.dtype)
        columns = _kernels().im2col(x, kernel, geometry, (oh, ow), out=out)
        return columns.reshape(geometry.groups, -1, n * oh * ow)
    if width == ow:
        xp = _pad(x, geometry.padding)
        s_n, s_c, s_h, s_w = xp.strides
        windows = as_strided(
            xp,
            shape=(c, kh, kw, n, oh, ow),
            strides=(s_c, dh * s_h, dw * s_w, s_n, sh * s_h, sw * s_w),
            writeable=False,
        )
    else:
        # One spare row at the bottom: the last shifts run past the padded image. The
        # border is zero from creation and never written (the role names the padding).
        shape = (n, c, h + 2 * ph + 1, width)
        xp = _workspace.get(("padded", ph, pw), shape, x.dtype, zeros=True)
        xp[:, :, ph:ph + h, pw:pw + w] = x
        s_n, s_c, s_h, s_w = xp.strides
        windows = as_strided(
            xp,
            shape=(c, kh, kw, n, oh * width),
            strides=(s_c, dh * s_h, dw * s_w, s_n, s_w),
            writeable=False,
        )
    columns = windows.copy()  # always a copy: never a view of x or of the workspace
    return columns.reshape(geometry.groups, -1, n * oh * width)


def col2im(columns, input_shape, kernel, geometry):
    """The adjoint of ``im2col``: add each column entry back onto the input position it
    was copied from. ``columns`` has shape (groups, C/groups*kH*kW, N*OH*width)."""
    n, c, h, w = input_shape
    kh, kw = kernel
    (ph, pw), (dh, dw) = geometry.padding, geometry.dilation
    (oh, ow), width, kernels = _plan(input_shape, kernel, geometry)
    if kernels and columns.dtype in KERNEL_DTYPES:
        out = _recycler.get(tuple(input_shape), columns.dtype)
        return _kernels().col2im(columns.reshape(c * kh * kw, -1), input_shape, kernel, geometry,
                                 (oh, ow), out=out)
    if width == ow:
        columns = columns.reshape(c, kh * kw, n, oh, ow)
        padded = _workspace.get("col2im", (c, n, h + 2 * ph, w + 2 * pw), columns.dtype)
        padded.fill(0)
        for offset, rows, cols in _offset_slices(kernel, (oh, ow), geometry.stride, geometry.dilation):
            padded[:, :, rows, cols] += columns[:, offset]
    else:
        columns = columns.reshape(c, kh * kw, n, oh * width)
        padded_height = h + 2 * ph
        flat = _workspace.get("col2im", (c, n, (padded_height + 1) * width), columns.dtype)
        flat.fill(0)
        # A few channels at a time, so the block being added to stays in cache.
        block = max(1, (1 << 18) // max(1, flat[0].nbytes))
        for first in range(0, c, block):
            target, source = flat[first:first + block], columns[first:first + block]
            for i in range(kh):
                for j in range(kw):
                    shift = i * dh * width + j * dw
                    target[:, :, shift:shift + oh * width] += source[:, i * kw + j]
        padded = flat[:, :, :padded_height * width].reshape(c, n, padded_height, width)
    return padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3).copy()  # C order


def grad_columns(grad, input_shape, kernel, geometry):
    """The upstream gradient (N, C_out, OH, OW) laid out as the columns of the output:
    (groups, C_out/groups, N*OH*width), zero in the columns the layout ignores."""
    n, c_out, oh, ow = grad.shape
    _, width, kernels = _plan(input_shape, kernel, geometry)
    if kernels and grad.dtype in KERNEL_DTYPES:
        out = _workspace.get("grad_columns", (c_out, n * oh * ow), grad.dtype)
        matrix = _kernels().grad_rows(grad, out=out)
    elif width == ow:
        matrix = np.ascontiguousarray(grad.transpose(1, 0, 2, 3))
    else:
        matrix = _workspace.get("grad_columns", (c_out, n, oh, width), grad.dtype)
        matrix[:, :, :, :ow] = grad.transpose(1, 0, 2, 3)
        matrix[:, :, :, ow:] = 0
    return matrix.reshape(geometry.groups, c_out // geometry.groups, n * oh * width)


def _weight_matrix(weight, groups):
    """The weight (C_out, C/groups, kH, kW) as (groups, C_out/groups, C/groups*kH*kW)."""
    c_out = weight.shape[0]
    return weight.reshape(groups, c_out // groups, -1)


def _matmul(a, b, role=None):
    """A stack of matrix products over the group axis; a plain 2-D product (BLAS with
    transpose flags, no copy of a transposed operand) when there is one group. With a
    ``role``, the result is a workspace array."""
    out = None
    if role is not None:
        shape = (a.shape[0], a.shape[1], b.shape[2])
        out = _workspace.get(role, shape, np.result_type(a, b))
    if a.shape[0] == 1:
        return np.matmul(a[0], b[0], out=None if out is None else out[0])[None]
    return np.matmul(a, b, out=out)


# ---- the Numba path for 3x3, stride 1: Winograd's F(4x4, 3x3) -------------------------
def _winograd():
    from ..kernels import winograd

    return winograd


def _input_tiles(x, out_size, padding):
    """V, the transformed input tiles (36, tiles, C) of ``x``, recycled."""
    winograd = _winograd()
    out = _recycler.get(winograd.tiles_shape(x.shape[0], x.shape[1], out_size), x.dtype)
    return winograd.tiles_from_input(x, out_size, padding, out)


def _grad_tiles(grad):
    """dM, the upstream gradient as transformed tiles (36, tiles, C_out), a workspace array."""
    winograd = _winograd()
    n, c_out = grad.shape[:2]
    out = _workspace.get("grad_tiles", winograd.tiles_shape(n, c_out, grad.shape[2:]), grad.dtype)
    return winograd.tiles_from_grad(grad, out)


def _forward_winograd(x, weight, geometry, bias):
    (oh, ow), _, _ = _plan(x.shape, weight.shape[2:], geometry)
    tiles = _input_tiles(x, (oh, ow), geometry.padding)
    filters = _winograd().filter_transform(weight)
    product = _workspace.get("product", tiles.shape[:2] + (weight.shape[0],), np.result_type(tiles, filters))
    np.matmul(tiles, filters, out=product)
    out = _recycler.get((x.shape[0], weight.shape[0], oh, ow), product.dtype)
    return _winograd().output_from_tiles(product, bias, out), tiles


def _input_grad_winograd(grad, weight, input_shape, geometry, grad_tiles):
    if grad_tiles is None:
        grad_tiles = _grad_tiles(grad)
    filters = _winograd().filter_transform(weight)
    shape = grad_tiles.shape[:2] + (input_shape[1],)
    d_tiles = _workspace.get("input_tiles", shape, np.result_type(grad_tiles, filters))
    np.matmul(grad_tiles, filters.transpose(0, 2, 1), out=d_tiles)
    out = _recycler.get(tuple(input_shape), d_tiles.dtype)
    return _winograd().input_from_tiles(d_tiles, grad.shape[2:], geometry.padding, out)


def _weight_grad_winograd(x, grad, weight_shape, geometry, tiles, grad_tiles):
    if tiles is None:
        tiles = _input_tiles(x, grad.shape[2:], geometry.padding)
    if grad_tiles is None:
        grad_tiles = _grad_tiles(grad)
    d_filters = np.matmul(tiles.transpose(0, 2, 1), grad_tiles)
    return _winograd().filter_grad_transform(d_filters)


# Winograd saves multiplications in proportion to C_in * C_out but pays for its tile
# transforms in proportion to C_in + C_out, so with few channels (an image's first
# layers) the column matrix is faster. Measured on forward+backward steps, float32, 3x3,
# padding 1, 2 cores, ms, columns against Winograd: x (64, 4, 16, 16) with 16 filters 0.9
# against 1.3; (64, 8, 16, 16) with 16: 1.5 against 1.7; (64, 16, 8, 8) with 32: 1.2
# against 0.8; (64, 16, 14, 14) with 32: 2.9 against 3.2 (a 14-wide output wastes an
# eighth of its 4-wide tiles); (64, 32, 16, 16) with 64: 11.0 against 8.6.
WINOGRAD_MIN_CHANNELS = 16


def _on_kernels(input_shape, kernel, geometry, *arrays):
    """Whether this convolution runs on the Numba kernels: a large problem (``_plan``)
    whose arrays all have a dtype the kernels are compiled for."""
    return _plan(input_shape, kernel, geometry)[2] and all(a.dtype in KERNEL_DTYPES for a in arrays)


# ---- the three products, on whichever path suits the problem --------------------------
# Each returns, or takes, the arrays shared between the forward and the two gradients as
# ``(path, array)``: an array made for the other path (another dtype can change it) is
# not used.
def _path(input_shape, kernel, geometry, *arrays):
    """Which algorithm runs this convolution: "winograd" (3x3, stride 1, no dilation,
    one group, at least WINOGRAD_MIN_CHANNELS input channels, on the kernels, every array
    of one dtype) or "columns" (im2col, on the kernels or in NumPy).

    Winograd transforms each operand in its own dtype, so a float32 operand would bring
    float32 rounding into a float64 result: mixed dtypes take the columns, which promote
    before multiplying.
    """
    if (tuple(kernel) == (3, 3) and geometry.stride == (1, 1) and geometry.dilation == (1, 1)
            and geometry.groups == 1 and input_shape[1] >= WINOGRAD_MIN_CHANNELS
            and len({a.dtype for a in arrays}) == 1
            and _on_kernels(input_shape, kernel, geometry, *arrays)):
        return "winograd"
    return "columns"


def _kept(kept, path):
    """The array of ``kept`` = (path, array) if it was made for ``path``, else None."""
    return kept[1] if kept is not None and kept[0] == path else None


def upstream_layout(grad, input_shape, kernel, geometry, *arrays):
    """``(path, array)``: the upstream gradient laid out for both gradients of the path
    that ``arrays`` (with ``grad``) take."""
    path = _path(input_shape, kernel, geometry, grad, *arrays)
    if path == "winograd":
        return path, _grad_tiles(grad)
    return path, grad_columns(grad, input_shape, kernel, geometry)


def conv2d_forward(x, weight, geometry, bias=None):
    """``(output, kept)``: the convolution of ``x`` with ``weight``, plus ``bias`` (an
    array of shape (C_out,)) if given; ``kept`` = (path, columns or tiles) for the
    weight gradient."""
    n = x.shape[0]
    c_out, _, kh, kw = weight.shape
    if _path(x.shape, (kh, kw), geometry, x, weight) == "winograd":
        out, tiles = _forward_winograd(x, weight, geometry, bias)
        return out, ("winograd", tiles)
    columns = im2col(x, (kh, kw), geometry)
    # (groups, C_out/groups, N*OH*width), then (N, C_out, OH, OW)
    product = _matmul(_weight_matrix(weight, geometry.groups), columns, "product")
    (oh, ow), width, kernels = _plan(x.shape, (kh, kw), geometry)
    if kernels and product.dtype in KERNEL_DTYPES:
        out = _recycler.get((n, c_out, oh, ow), product.dtype)
        _kernels().output_from_product(product.reshape(c_out, -1), bias, n, (oh, ow), out=out)
        return out, ("columns", columns)
    out = product.reshape(c_out, n, oh, width)[:, :, :, :ow].transpose(1, 0, 2, 3)
    out = out.copy()  # C order, and never the workspace itself
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out, ("columns", columns)


def conv2d_input_grad(grad, weight, input_shape, geometry, upstream=None):
    """The gradient of conv2d with respect to its input (a transposed convolution):
    ``weight.T @ grad`` folded back onto the image by col2im. ``upstream`` is an
    ``upstream_layout`` of ``grad``, if already made."""
    kernel = weight.shape[2:]
    path = _path(input_shape, kernel, geometry, grad, weight)
    grad_matrix = _kept(upstream, path)
    if path == "winograd":
        return _input_grad_winograd(grad, weight, input_shape, geometry, grad_matrix)
    if grad_matrix is None:
        grad_matrix = grad_columns(grad, input_shape, kernel, geometry)
    weights = _weight_matrix(weight, geometry.groups)
    columns = _matmul(weights.transpose(0, 2, 1), grad_matrix, "input_columns")
    return col2im(columns, input_shape, kernel, geometry)


def conv2d_weight_grad(x, grad, weight_shape, geometry, kept=None, upstream=None):
    """The gradient of conv2d with respect to its weight: ``grad @ columns.T``, one product.
    ``kept`` (from the forward) and ``upstream`` (an ``upstream_layout``) are used when
    made for this path."""
    kernel = weight_shape[2:]
    path = _path(x.shape, kernel, geometry, x, grad)
    columns, grad_matrix = _kept(kept, path), _kept(upstream, path)
    if path == "winograd":
        return _weight_grad_winograd(x, grad, weight_shape, geometry, columns, grad_matrix)
    if columns is None:
        columns = im2col(x, kernel, geometry)
    if grad_matrix is None:
        grad_matrix = grad_columns(grad, x.shape, kernel, geometry)
    # (columns @ grad.T).T rather than grad @ columns.T: the same product, and BLAS runs
    # it faster with the long axis of both operands contiguous and the short one outside.
    weight_grad = _matmul(columns, grad_matrix.transpose(0, 2, 1)).transpose(0, 2, 1)
    return weight_grad.reshape(weight_shape)


# ---- conv2d as three Functions that differentiate into each other ----------------------
class Conv2d(Function):
    """conv2d(x, weight[, bias]); the columns (or tiles) are kept for the weight gradient."""

    @staticmethod
    def forward(ctx, x, weight, *bias, geometry):
        out, kept = conv2d_forward(x, weight, geometry, bias[0] if bias else None)
        ctx.geometry = geometry
        ctx.kept = kept
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        # Both gradients start from the upstream gradient in the same layout: make it once.
        upstream = upstream_layout(grad.data, x.shape, weight.shape[2:], ctx.geometry, x.data, weight.data)
        grad_x = grad_weight = None
        if needs[0]:
            grad_x = Conv2dInputGrad.apply(
                grad, weight, input_shape=x.shape, geometry=ctx.geometry, upstream=upstream
            )
        if needs[1]:
            grad_weight = Conv2dWeightGrad.apply(
                x, grad, weight_shape=weight.shape, geometry=ctx.geometry,
                kept=ctx.kept, upstream=upstream,
            )
        if len(needs) == 2:
            return grad_x, grad_weight
        grad_bias = grad.sum(axis=(0, 2, 3)) if needs[2] else None
        return grad_x, grad_weight, grad_bias


class Conv2dInputGrad(Function):
    """The input gradient of conv2d: a transposed convolution of ``grad`` with ``weight``."""

    @staticmethod
    def forward(ctx, grad, weight, input_shape, geometry, upstream=None):
        ctx.geometry = geometry
        ctx.save_for_backward(grad, weight)
        return conv2d_input_grad(grad, weight, input_shape, geometry, upstream)

    @staticmethod
    def backward(ctx, grad_grad):
        # The forward is <grad_grad, W^T g> = <conv(grad_grad, W), g>, linear in g and in W.
        grad, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_grad = d_weight = None
        if needs[0]:
            d_grad = Conv2d.apply(grad_grad, weight, geometry=ctx.geometry)
        if needs[1]:
            d_weight = Conv2dWeightGrad.apply(
                grad_grad, grad, weight_shape=weight.shape, geometry=ctx.geometry
            )
        return d_grad, d_weight


class Conv2dWeightGrad(Function):
    """The weight gradient of conv2d, from the input ``x`` and the upstream ``grad``."""

    @staticmethod
    def forward(ctx, x, grad, weight_shape, geometry, kept=None, upstream=None):
        ctx.geometry = geometry
        ctx.save_for_backward(x, grad)
        return conv2d_weight_grad(x, grad, weight_shape, geometry, kept, upstream)

    @staticmethod
    def backward(ctx, grad_grad):
        # The forward is <grad_grad, dW(x, g)> = <conv(x, grad_grad), g>.
        x, grad = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_x = d_grad = None
        if needs[0]:
            d_x = Conv2dInputGrad.apply(grad, grad_grad, input_shape=x.shape, geometry=ctx.geometry)
        if needs[1]:
            d_grad = Conv2d.apply(x, grad_grad, geometry=ctx.geometry)
        return d_x, d_grad


# ---- pooling -------------------------------------------------------------------------
def _first_real_offset(kernel, out_size, stride, padding):
    """For each output position, the kernel offset of the window's first non-padding
    element: PyTorch's starting arg-max, so a window of all -inf still has a real one."""
    (_, kw), (oh, ow), (sh, sw), (ph, pw) = kernel, out_size, stride, padding
    first_row = np.maximum(ph - sh * np.arange(oh), 0)
    first_col = np.maximum(pw - sw * np.arange(ow), 0)
    return (first_row[:, None] * kw + first_col[None, :]).astype(np.int64)


class MaxPool2d(Function):
    """Max over each window. With ``choice`` given (the winning kernel offset of every
    window, as found by a previous call), gather those entries instead: that is the
    gradient of the scatter below, so max pooling is differentiable twice (the second
    derivative is zero almost everywhere, as for ReLU)."""

    @staticmethod
    def forward(ctx, x, kernel, geometry, choice=None):
        n, c, h, w = x.shape
        out_size = tuple(
            _output_size(size, k, s, p, 1)
            for size, k, s, p in zip((h, w), kernel, geometry.stride, geometry.padding)
        )
        slices = _offset_slices(kernel, out_size, geometry.stride)
        if choice is None:
            lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
            padded = _pad(x, geometry.padding, lowest)
            best = np.full((n, c) + out_size, lowest, dtype=x.dtype)
            choice = np.broadcast_to(
                _first_real_offset(kernel, out_size, geometry.stride, geometry.padding), best.shape
            ).copy()
            for offset, rows, cols in slices:
                values = padded[:, :, rows, cols]
                # Strictly greater keeps the first of equal values; NaN wins, as PyTorch.
                better = (values > best) | np.isnan(values)
                np.copyto(best, values, where=better)
                choice[better] = offset
        else:
            padded = _pad(x, geometry.padding)
            best = np.zeros((n, c) + out_size, dtype=x.dtype)
            for offset, rows, cols in slices:
                np.copyto(best, padded[:, :, rows, cols], where=choice == offset)
        ctx.choice = choice
        ctx.kernel = kernel
        ctx.geometry = geometry
        ctx.input_shape = x.shape
        return best

    @staticmethod
    def backward(ctx, grad):
        return MaxPool2dScatter.apply(
            grad, kernel=ctx.kernel, geometry=ctx.geometry, choice=ctx.choice, input_shape=ctx.input_shape
        )


class MaxPool2dScatter(Function):
    """The gradient of max pooling: each window's gradient goes to its arg-max."""

    @staticmethod
    def forward(ctx, grad, kernel, geometry, choice, input_shape):
        n, c, h, w = input_shape
        ph, pw = geometry.padding
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
        for offset, rows, cols in _offset_slices(kernel, grad.shape[2:], geometry.stride):
            padded[:, :, rows, cols] += np.where(choice == offset, grad, 0)
        ctx.kernel, ctx.geometry, ctx.choice = kernel, geometry, choice
        return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])

    @staticmethod
    def backward(ctx, grad_grad):
        return MaxPool2d.apply(grad_grad, kernel=ctx.kernel, geometry=ctx.geometry, choice=ctx.choice)


class AvgPool2d(Function):
    """Mean over each window, the zero padding counted in the divisor (kH*kW)."""

    @staticmethod
    def forward(ctx, x, kernel, geometry):
        n, c, h, w = x.shape
        out_size = tuple(
            _output_size(size, k, s, p, 1)
            for size, k, s, p in zip((h, w), kernel, geometry.stride, geometry.padding)
        )
        padded = _pad(x, geometry.padding)
        total = np.zeros((n, c) + out_size, dtype=x.dtype)
        for _, rows, cols in _offset_slices(kernel, out_size, geometry.stride):
            total += padded[:, :, rows, cols]
        total *= 1.0 / (kernel[0] * kernel[1])
        ctx.kernel, ctx.geometry, ctx.input_shape = kernel, geometry, x.shape
        return total

    @staticmethod
    def backward(ctx, grad):
        return AvgPool2dAdjoint.apply(
            grad, kernel=ctx.kernel, geometry=ctx.geometry, input_shape=ctx.input_shape
        )


class AvgPool2dAdjoint(Function):
    """The gradient of average pooling: each window's gradient spread evenly over it."""

    @staticmethod
    def forward(ctx, grad, kernel, geometry, input_shape):
        n, c, h, w = input_shape
        ph, pw = geometry.padding
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
        share = grad * (1.0 / (kernel[0] * kernel[1]))
        for _, rows, cols in _offset_slices(kernel, grad.shape[2:], geometry.stride):
            padded[:, :, rows, cols] += share
        ctx.kernel, ctx.geometry = kernel, geometry
        return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])

    @staticmethod
    def backward(ctx, grad_grad):
        return AvgPool2d.apply(grad_grad, kernel=ctx.kernel, geometry=ctx.geometry)


# ---- argument checks and the functional forms ------------------------------------------
def _pair(value, name, op_name):
    """An int or a pair of ints as a tuple (rows, columns)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{op_name}: {name} must be an int or a pair of ints, got {value!r}")


def _as_batch(x, op_name):
    """A 4-D view of ``x``, and whether it was an unbatched (C, H, W) image."""
    from ..tensor import as_tensor

    x = as_tensor(x)
    if x.ndim == 3:
        return x.unsqueeze(0), True
    if x.ndim != 4:
        raise ValueError(f"{op_name}: expected an input of shape (N, C, H, W) or (C, H, W), got {x.shape}")
    return x, False


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) of an NCHW batch.

    Parameters
    ----------
    x : Tensor of shape (N, C_in, H, W), or (C_in, H, W)
    weight : Tensor of shape (C_out, C_in / groups, kH, kW)
    bias : Tensor of shape (C_out,), optional
    stride, padding, dilation : int or pair of ints
    groups : int
        Split the channels into this many independent convolutions.

    Returns
    -------
    Tensor of shape (N, C_out, OH, OW) with
    ``OH = (H + 2*padding - dilation*(kH - 1) - 1) // stride + 1`` (and OW alike).

    Examples
    --------
    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> x = mg.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.conv2d(x, mg.ones(1, 1, 2, 2), stride=2).tolist()
    [[[[10.0, 18.0], [42.0, 50.0]]]]
    """
    from ..tensor import as_tensor

    x, unbatched = _as_batch(x, "conv2d")
    weight = as_tensor(weight)
    stride = _pair(stride, "stride", "conv2d")
    padding = _pair(padding, "padding", "conv2d")
    dilation = _pair(dilation, "dilation", "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must have shape (C_out, C_in/groups, kH, kW), got {weight.shape}")
    if min(stride) <= 0:
        raise ValueError(f"conv2d: non-positive stride {stride} is not supported")
    if min(padding) < 0:
        raise ValueError(f"conv2d: negative padding {padding} is not supported")
    if min(dilation) <= 0:
        raise ValueError(f"conv2d: dilation must be greater than zero, got {dilation}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups <= 0:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    c_out, c_per_group, kh, kw = weight.shape
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
    inputs = (x, weight)
    if bias is not None:
        bias = as_tensor(bias)
        if bias.shape != (c_out,):
            raise ValueError(
                f"conv2d: bias must have shape ({c_out},) for weight {weight.shape}, got {bias.shape}"
            )
        inputs += (bias,)
    out = Conv2d.apply(*inputs, geometry=Geometry(stride, padding, dilation, int(groups)))
    return out.squeeze(0) if unbatched else out


def _pool_arguments(x, kernel_size, stride, padding, op_name):
    x, unbatched = _as_batch(x, op_name)
    kernel = _pair(kernel_size, "kernel_size", op_name)
    stride = kernel if stride is None else _pair(stride, "stride", op_name)
    padding = _pair(padding, "padding", op_name)
    if min(kernel) <= 0:
        raise ValueError(f"{op_name}: kernel_size must be greater than zero, got {kernel}")
    if min(stride) <= 0:
        raise ValueError(f"{op_name}: stride must be greater than zero, got {stride}")
    if min(padding) < 0 or padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{op_name}: padding should be at least zero and at most half of the kernel size, "
            f"got padding={padding} and kernel_size={kernel}"
        )
    out_size = tuple(
        _output_size(size, k, s, p, 1) for size, k, s, p in zip(x.shape[2:], kernel, stride, padding)
    )
    if min(out_size) <= 0:
        raise ValueError(
            f"{op_name}: the kernel {kernel} is larger than the padded input (input {x.shape}, "
            f"padding {padding}); the output would be {out_size}"
        )
    return x, unbatched, kernel, Geometry(stride, padding, (1, 1), 1)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over sliding windows; the gradient goes to each window's first maximum.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W), or (C, H, W)
    kernel_size : int or pair of ints
    stride : int or pair of ints, optional
        Defaults to ``kernel_size``.
    padding : int or pair of ints
        Implicit -inf padding on both sides, at most half the kernel size.

    Examples
    --------
    >>> import minigrad as mg, minigrad.nn.functional as F
    >>> x = mg.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.max_pool2d(x, 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    x, unbatched, kernel, geometry = _pool_arguments(x, kernel_size, stride, padding, "max_pool2d")
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
    x, unbatched, kernel, geometry = _pool_arguments(x, kernel_size, stride, padding, "avg_pool2d")
    out = AvgPool2d.apply(x, kernel=kernel, geometry=geometry)
    return out.squeeze(0) if unbatched else out
