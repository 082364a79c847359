"""conv2d's three products (forward, input gradient, weight gradient) on the path that
suits the problem: the one place where that choice is made.

Paths (``plan``):

* ``"reference"``: minigrad/backend/reference.py, NumPy im2col over a strided view. The
  reference backend takes it for everything, and so does any dtype the kernels are not
  compiled for (float16, integers, complex).
* ``"numpy"``: the same in NumPy, for problems too small for the kernels, with two
  speed-ups: scratch arrays from minigrad/runtime/memory.py, and for stride 1 the
  "flat" column layout (each kernel offset is one fixed shift of the padded image read
  as a flat array, so each row of the column matrix is one contiguous slice; a row of
  outputs then spans the padded width Wp instead of OW, used when that wastes at most
  ``FLAT_MAX_WASTE`` of the products).
* ``"columns"``: im2col, col2im and the two layout changes as single-pass Numba kernels
  (minigrad/kernels/conv.py), straight from and into the unpadded NCHW arrays.
* ``"winograd"``: Winograd's F(4x4, 3x3) (the section of that name below) for 3x3,
  stride-1, undilated, ungrouped layers whose arrays share one dtype: 4x fewer
  multiplications for the price of tile transforms.

Between "numpy", "columns" and "winograd", minigrad/backend/cost.py decides by timing
each once on the problem's shapes, on this machine. The forward hands the backward what
it made (columns or tiles) as ``(path, array)``: an array made for another path (a
backend switched in between, another dtype) is not used.
"""

from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import KERNEL_DTYPES, cost, reference
from ..runtime import memory

# The flat layout's largest share of wasted columns (a fraction of the products).
FLAT_MAX_WASTE = 0.25

Plan = namedtuple("Plan", ["out_size", "path", "width"])


def _kernels():
    """minigrad/kernels/conv.py, imported on first use (so is Numba)."""
    from ..kernels import conv

    return conv


def choose(input_shape, c_out, kernel, geometry, dtypes):
    """The path (see the module's docstring) for these shapes, dtypes and this backend."""
    n, c = input_shape[:2]
    out_size = reference.conv_output_size(input_shape, kernel, geometry)
    elements = c * kernel[0] * kernel[1] * n * out_size[0] * out_size[1]
    if reference.active() or any(d not in KERNEL_DTYPES for d in dtypes) or elements == 0:
        return "reference"
    forced = cost.trial_path()
    if forced is not None:
        return forced
    if elements < cost.CALIBRATE_MIN:
        return "numpy"
    candidates = ["numpy", "columns"] + (["winograd"] if winograd_possible(kernel, geometry, dtypes) else [])
    # The forward and the gradients see different operands (x and weight; grad and
    # weight; x and grad), so one problem is keyed on the set of their dtypes; and on
    # the shape of one image, not the batch size, so that a last, smaller batch or an
    # evaluation batch is not timed again.
    kinds = tuple(sorted({d.str for d in dtypes}))
    problem = (input_shape[1:], c_out, kernel, geometry, kinds)
    dtype = np.result_type(*dtypes)
    return cost.fastest(problem, candidates, lambda: _step(input_shape, c_out, kernel, geometry, dtype))


def _step(input_shape, c_out, kernel, geometry, dtype):
    """A function running one forward and both gradients of this problem on random
    data made here, outside the timing (for ``cost``)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(input_shape).astype(dtype)
    weight_shape = (c_out, input_shape[1] // geometry.groups) + tuple(kernel)
    weight = rng.standard_normal(weight_shape).astype(dtype)
    grad = np.ones((input_shape[0], c_out) + reference.conv_output_size(input_shape, kernel, geometry), dtype)

    def step():
        out, kept = conv2d_forward(x, weight, geometry)
        upstream = upstream_layout(grad, x.shape, weight, geometry, x)
        conv2d_input_grad(grad, weight, x.shape, geometry, upstream)
        conv2d_weight_grad(x, grad, weight.shape, geometry, kept, upstream)

    return step


def winograd_possible(kernel, geometry, dtypes):
    """Whether Winograd's F(4x4, 3x3) computes this convolution: 3x3, stride 1, no
    dilation, one group, and one dtype for every array (the transforms run in each
    operand's dtype, so a float32 operand would bring float32 rounding into a float64
    result; mixed dtypes take the columns, which promote before multiplying)."""
    return (tuple(kernel) == (3, 3) and geometry.stride == (1, 1) and geometry.dilation == (1, 1)
            and geometry.groups == 1 and len(set(dtypes)) == 1)


def plan(input_shape, c_out, kernel, geometry, *arrays):
    """``Plan(out_size, path, width)``: the output size (OH, OW); the path; and how many
    columns a row of outputs takes in a column matrix (OW, or the padded width Wp in the
    flat layout). A function of the shapes, dtypes and backend only (``choose``), so the
    forward and every backward of one convolution agree."""
    w = input_shape[3]
    oh, ow = reference.conv_output_size(input_shape, kernel, geometry)
    path = choose(tuple(input_shape), c_out, tuple(kernel), geometry, tuple(np.dtype(a.dtype) for a in arrays))
    padded_width = w + 2 * geometry.padding[1]
    flat = (path == "numpy" and geometry.stride == (1, 1) and padded_width <= (1 + FLAT_MAX_WASTE) * ow)
    return Plan((oh, ow), path, padded_width if flat else ow)


# ---- the Numba column kernels, shapes in, every element of ``out`` written -----------------
def _ints(kernel, geometry, out_size):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, geometry.stride, geometry.padding, geometry.dilation
    return kh, kw, sh, sw, ph, pw, dh, dw, out_size[0], out_size[1]


def kernel_im2col(x, kernel, geometry, out=None):
    """Columns of ``x`` (N, C, H, W): (C*kH*kW, N*OH*OW), on the kernels."""
    x = np.ascontiguousarray(x)
    n, c = x.shape[:2]
    out_size = reference.conv_output_size(x.shape, kernel, geometry)
    if out is None:
        out = memory.empty((c * kernel[0] * kernel[1], n * out_size[0] * out_size[1]), x.dtype)
    _kernels().im2col_kernel(x, out, *_ints(kernel, geometry, out_size))
    return out


def kernel_col2im(columns, input_shape, kernel, geometry, out=None):
    """The adjoint of ``kernel_im2col``: (C*kH*kW, N*OH*OW) -> (N, C, H, W)."""
    columns = np.ascontiguousarray(columns)
    out_size = reference.conv_output_size(input_shape, kernel, geometry)
    if out is None:
        out = memory.empty(tuple(input_shape), columns.dtype)
    # enough images per task to read runs of about 16 KiB, and at least four tasks
    images = max(1, min((1 << 14) // max(1, out_size[0] * out_size[1] * columns.itemsize),
                        input_shape[0] * input_shape[1] // 4))
    _kernels().col2im_kernel(columns, out, *_ints(kernel, geometry, out_size), images)
    return out


def kernel_output(product, bias, n, out_size):
    """(C_out, N*OH*OW) -> (N, C_out, OH, OW), plus ``bias`` (C_out,) or None."""
    product = np.ascontiguousarray(product)
    c_out = product.shape[0]
    bias = np.zeros(c_out, product.dtype) if bias is None else np.ascontiguousarray(bias, product.dtype)
    out = memory.empty((n, c_out) + tuple(out_size), product.dtype)
    _kernels().rows_to_images(product, bias, out.reshape(n, c_out, -1))
    return out


def kernel_grad_rows(grad):
    """The upstream gradient (N, C_out, OH, OW) as (C_out, N*OH*OW), a scratch array."""
    grad = np.ascontiguousarray(grad)
    n, c_out = grad.shape[:2]
    out = memory.scratch("grad_rows", (c_out, grad.size // c_out), grad.dtype)
    _kernels().images_to_rows(grad.reshape(n, c_out, -1), out)
    return out


# ---- the NumPy path with scratch arrays and the flat layout -------------------------------
def numpy_im2col(x, kernel, geometry, width):
    """Columns (groups, C/groups*kH*kW, N*OH*width); ``width`` OW (strided) or Wp (flat)."""
    n, c, h, w = x.shape
    kh, kw = kernel
    (ph, pw), (dh, dw) = geometry.padding, geometry.dilation
    oh, ow = reference.conv_output_size(x.shape, kernel, geometry)
    if width == ow:
        return reference.im2col(x, kernel, geometry)
    # One spare row at the bottom: the last shifts run past the padded image. The
    # border is zero from creation and never written (the role names the padding).
    xp = memory.scratch(("padded", ph, pw), (n, c, h + 2 * ph + 1, width), x.dtype, zeros=True)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    s_n, s_c, s_h, s_w = xp.strides
    windows = as_strided(xp, shape=(c, kh, kw, n, oh * width),
                         strides=(s_c, dh * s_h, dw * s_w, s_n, s_w), writeable=False)
    return windows.copy().reshape(geometry.groups, -1, n * oh * width)  # never a view of scratch


def numpy_col2im(columns, input_shape, kernel, geometry, width):
    """The adjoint of ``numpy_im2col``."""
    n, c, h, w = input_shape
    kh, kw = kernel
    (ph, pw), (dh, dw) = geometry.padding, geometry.dilation
    oh, ow = reference.conv_output_size(input_shape, kernel, geometry)
    if width == ow:
        return reference.col2im(columns, input_shape, kernel, geometry)
    columns = columns.reshape(c, kh * kw, n, oh * width)
    padded_height = h + 2 * ph
    flat = memory.scratch("col2im", (c, n, (padded_height + 1) * width), columns.dtype)
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


def numpy_grad_columns(grad, geometry, width):
    """The upstream gradient as (groups, C_out/groups, N*OH*width), zero in the columns
    the flat layout ignores."""
    n, c_out, oh, ow = grad.shape
    if width == ow:
        return reference.grad_columns(grad, geometry.groups)
    matrix = memory.scratch("grad_columns", (c_out, n, oh, width), grad.dtype)
    matrix[:, :, :, :ow] = grad.transpose(1, 0, 2, 3)
    matrix[:, :, :, ow:] = 0
    return matrix.reshape(geometry.groups, c_out // geometry.groups, n * oh * width)


def _matmul(a, b, role=None):
    """A stack of matrix products over the group axis; a plain 2-D product (BLAS with
    transpose flags, no copy of a transposed operand) when there is one group. With a
    ``role``, the result is a scratch array."""
    out = None
    if role is not None:
        out = memory.scratch(role, (a.shape[0], a.shape[1], b.shape[2]), np.result_type(a, b))
    if a.shape[0] == 1:
        return np.matmul(a[0], b[0], out=None if out is None else out[0])[None]
    return np.matmul(a, b, out=out)


# ---- Winograd's F(4x4, 3x3): the tile transforms of minigrad/kernels/winograd.py (the
# maths is described there) around NumPy's matrix products. Tiles are laid out as
# (36, N * tiles_high * tiles_wide, channels); the kernels read and write NCHW images.
ALPHA = 6  # input values per tile side
TILE = 4  # output values per tile side


def _winograd_kernels():
    """minigrad/kernels/winograd.py, imported on first use (so is Numba)."""
    from ..kernels import winograd

    return winograd


def _kron(dtype):
    return _winograd_kernels().KRON[np.dtype(dtype)]


def tile_counts(out_size):
    """(tiles_high, tiles_wide) covering an output of ``out_size`` = (OH, OW)."""
    return -(-out_size[0] // TILE), -(-out_size[1] // TILE)


def tiles_shape(n, channels, out_size):
    th, tw = tile_counts(out_size)
    return (ALPHA * ALPHA, n * th * tw, channels)


def filter_transform(weight):
    """U = G g G^T per filter: (C_out, C_in, 3, 3) -> (36, C_in, C_out), weight's dtype."""
    c_out, c_in = weight.shape[:2]
    u = np.matmul(_kron(weight.dtype), weight.reshape(c_out * c_in, 9).T)  # (36, C_out * C_in)
    return np.ascontiguousarray(u.reshape(ALPHA * ALPHA, c_out, c_in).transpose(0, 2, 1))


def filter_grad_transform(d_filters):
    """dg = G^T dU G, the adjoint of ``filter_transform``: (36, C_in, C_out) -> (C_out, C_in, 3, 3)."""
    _, c_in, c_out = d_filters.shape
    dg = np.matmul(_kron(d_filters.dtype).T, d_filters.reshape(ALPHA * ALPHA, c_in * c_out))  # (9, C_in * C_out)
    return np.ascontiguousarray(dg.reshape(3, 3, c_in, c_out).transpose(3, 2, 0, 1))


def tiles_from_input(x, out_size, padding, out):
    """V: the transformed input tiles (36, N*th*tw, C) of ``x`` (N, C, H, W), padded."""
    th, tw = tile_counts(out_size)
    _winograd_kernels().input_transform(np.ascontiguousarray(x), out, th, tw, padding[0], padding[1])
    return out


def output_from_tiles(product, bias, out):
    """The output (N, C_out, OH, OW) from the products M (36, N*th*tw, C_out), plus ``bias``."""
    th, tw = tile_counts(out.shape[2:])
    if bias is None:
        bias = np.zeros(out.shape[1], dtype=out.dtype)
    _winograd_kernels().output_transform(product, np.ascontiguousarray(bias, dtype=out.dtype), out, th, tw)
    return out


def tiles_from_grad(grad, out):
    """dM: the upstream gradient (N, C_out, OH, OW) as transformed tiles (36, N*th*tw, C_out)."""
    th, tw = tile_counts(grad.shape[2:])
    _winograd_kernels().grad_transform(np.ascontiguousarray(grad), out, th, tw)
    return out


def input_from_tiles(d_tiles, out_size, padding, out):
    """The input gradient (N, C, H, W) from dV (36, N*th*tw, C)."""
    th, tw = tile_counts(out_size)
    _winograd_kernels().input_grad_transform(d_tiles, out, th, tw, padding[0], padding[1])
    return out


# ---- the three products -------------------------------------------------------------------
def _kept(kept, path):
    """The array of ``kept`` = (path, array) if it was made for ``path``, else None."""
    return kept[1] if kept is not None and kept[0] == path else None


def upstream_layout(grad, input_shape, weight, geometry, x):
    """``(path, array)``: the upstream gradient laid out once for both gradients."""
    p = plan(input_shape, weight.shape[0], weight.shape[2:], geometry, x, weight, grad)
    if p.path == "winograd":
        out = memory.scratch("grad_tiles", tiles_shape(grad.shape[0], grad.shape[1], grad.shape[2:]),
                             grad.dtype)
        return p.path, tiles_from_grad(grad, out)
    if p.path == "columns":
        return p.path, kernel_grad_rows(grad).reshape(geometry.groups, weight.shape[0] // geometry.groups, -1)
    if p.path == "numpy":
        return p.path, numpy_grad_columns(grad, geometry, p.width)
    return p.path, reference.grad_columns(grad, geometry.groups)


def conv2d_forward(x, weight, geometry, bias=None):
    """``(output, kept)``: the convolution of ``x`` with ``weight``, plus ``bias`` (C_out,)
    if given; ``kept`` = (path, columns or tiles) for the weight gradient."""
    n, c_out = x.shape[0], weight.shape[0]
    p = plan(x.shape, c_out, weight.shape[2:], geometry, x, weight)
    (oh, ow), width = p.out_size, p.width
    if p.path == "reference":
        out, columns = reference.conv2d_forward(x, weight, geometry, bias)
        return out, (p.path, columns)
    if p.path == "winograd":
        tiles = tiles_from_input(x, (oh, ow), geometry.padding,
                                          memory.empty(tiles_shape(n, x.shape[1], (oh, ow)), x.dtype))
        filters = filter_transform(weight)
        product = memory.scratch("product", tiles.shape[:2] + (c_out,), np.result_type(tiles, filters))
        np.matmul(tiles, filters, out=product)
        out = memory.empty((n, c_out, oh, ow), product.dtype)
        return output_from_tiles(product, bias, out), (p.path, tiles)
    if p.path == "columns":
        columns = kernel_im2col(x, weight.shape[2:], geometry).reshape(geometry.groups, -1, n * oh * ow)
        product = _matmul(reference.weight_matrix(weight, geometry.groups), columns, "product")
        return kernel_output(product.reshape(c_out, -1), bias, n, (oh, ow)), (p.path, columns)
    columns = numpy_im2col(x, weight.shape[2:], geometry, width)
    product = _matmul(reference.weight_matrix(weight, geometry.groups), columns, "product")
    out = product.reshape(c_out, n, oh, width)[:, :, :, :ow].transpose(1, 0, 2, 3).copy()
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out, (p.path, columns)


def conv2d_input_grad(grad, weight, input_shape, geometry, upstream=None):
    """The gradient of conv2d with respect to its input (a transposed convolution):
    ``weight.T @ grad`` folded back onto the image. ``upstream`` is an
    ``upstream_layout`` of ``grad``, if already made."""
    kernel = weight.shape[2:]
    p = plan(input_shape, weight.shape[0], kernel, geometry, grad, weight)
    grad_matrix = _kept(upstream, p.path)
    if p.path == "reference":
        return reference.conv2d_input_grad(grad, weight, input_shape, geometry)
    if p.path == "winograd":
        if grad_matrix is None:
            grad_matrix = upstream_layout(grad, input_shape, weight, geometry, grad)[1]
        filters = filter_transform(weight)
        d_tiles = memory.scratch("input_tiles", grad_matrix.shape[:2] + (input_shape[1],),
                                 np.result_type(grad_matrix, filters))
        np.matmul(grad_matrix, filters.transpose(0, 2, 1), out=d_tiles)
        out = memory.empty(tuple(input_shape), d_tiles.dtype)
        return input_from_tiles(d_tiles, grad.shape[2:], geometry.padding, out)
    if grad_matrix is None:
        grad_matrix = upstream_layout(grad, input_shape, weight, geometry, grad)[1]
    weights = reference.weight_matrix(weight, geometry.groups)
    columns = _matmul(weights.transpose(0, 2, 1), grad_matrix, "input_columns")
    if p.path == "columns":
        return kernel_col2im(columns.reshape(-1, columns.shape[2]), input_shape, kernel, geometry)
    return numpy_col2im(columns, input_shape, kernel, geometry, p.width)


def conv2d_weight_grad(x, grad, weight_shape, geometry, kept=None, upstream=None):
    """The gradient of conv2d with respect to its weight: ``grad @ columns.T``, one
    product. ``kept`` (from the forward) and ``upstream`` are used when made for this path."""
    kernel = weight_shape[2:]
    p = plan(x.shape, weight_shape[0], kernel, geometry, x, grad)
    columns, grad_matrix = _kept(kept, p.path), _kept(upstream, p.path)
    if p.path == "reference":
        return reference.conv2d_weight_grad(x, grad, weight_shape, geometry, columns)
    if p.path == "winograd":
        if columns is None:
            shape = tiles_shape(x.shape[0], x.shape[1], grad.shape[2:])
            columns = tiles_from_input(x, grad.shape[2:], geometry.padding, memory.empty(shape, x.dtype))
        if grad_matrix is None:
            shape = tiles_shape(grad.shape[0], grad.shape[1], grad.shape[2:])
            grad_matrix = tiles_from_grad(grad, memory.scratch("grad_tiles", shape, grad.dtype))
        return filter_grad_transform(np.matmul(columns.transpose(0, 2, 1), grad_matrix))
    if columns is None:
        if p.path == "columns":
            positions = x.shape[0] * p.out_size[0] * p.out_size[1]
            columns = kernel_im2col(x, kernel, geometry).reshape(geometry.groups, -1, positions)
        else:
            columns = numpy_im2col(x, kernel, geometry, p.width)
    if grad_matrix is None:
        if p.path == "columns":
            grad_matrix = kernel_grad_rows(grad).reshape(geometry.groups, weight_shape[0] // geometry.groups, -1)
        else:
            grad_matrix = numpy_grad_columns(grad, geometry, p.width)
    # (columns @ grad.T).T rather than grad @ columns.T: the same product, and BLAS runs
    # it faster with the long axis of both operands contiguous and the short one outside.
    weight_grad = _matmul(columns, grad_matrix.transpose(0, 2, 1)).transpose(0, 2, 1)
    return weight_grad.reshape(weight_shape)

