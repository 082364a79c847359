"""conv2d's memory passes as parallel Numba kernels over C-contiguous NumPy arrays.

The matrix products of conv2d stay with NumPy's BLAS; everything around them is here.
The column matrix of these kernels is position-major: one row per output position
(n, r, s), N*OH*OW of them, and one column per weight entry in the order
(group, kernel row i, kernel column j, channel within the group), C*kH*kW of them.
In that layout BLAS gets the shapes it runs fastest: a long axis of output positions
against the short axes of channels and kernel entries. Measured for x (64, 32, 16, 16),
w (64, 32, 3, 3) on 2 cores: the three products of a step take 4.7 ms, against 6.5 ms
in the channel-major layout (C*kH*kW, N*OH*OW) of minigrad/ops/conv.py's NumPy code.

* ``pad_to_positions`` copies the input (N, C, H, W) into a zero-padded channels-last
  buffer (N, Hp, Wp, C), so that every kernel offset of an output position reads C/groups
  contiguous values, with no bounds test;
* ``im2col_kernel`` gathers the column matrix from that buffer, one task per output row;
* ``col2im_kernel``, its adjoint, sums the columns back into (N, C, H, W), one task per
  image (each task writes only its own image, so no two threads touch one element);
* ``positions_to_images``: the product (N*P, C_out) to the output (N, C_out, P), plus a bias;
* ``images_to_positions``: the upstream gradient (N, C_out, P) to (N*P, C_out).

The results go into ``out`` arrays the caller passes (fresh, or recycled by
minigrad/ops/conv.py), every element written. The geometry comes in as ints.
Unsigned indices let Numba skip the negative-index test, so the copies vectorize.

With ``NUMBA_DISABLE_JIT=1`` the same code runs as plain Python (``prange`` is
``range``), which is how tests/test_conv_kernels.py covers it on small shapes.
"""

import numpy as np
from numba import njit, prange

from .threads import single_thread_below

U = np.uint64  # the index type inside the kernels

# Below this many elements moved, a kernel runs on one thread: waking a worker costs
# more than it saves.
PARALLEL_MIN_SIZE = 1 << 15


# ---------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def pad_to_positions(x, padded, ph, pw):
    """padded[n, y + ph, t + pw, c] = x[n, c, y, t]; the border zero."""
    n, c, h, w = x.shape
    hp, wp = padded.shape[1], padded.shape[2]
    flat = padded.reshape(-1)
    zero = x.dtype.type(0)
    for task in prange(n * hp):
        b = task // hp
        yp = task - b * hp
        row = U(task * wp * c)
        y = yp - ph
        if y < 0 or y >= h:
            for t in range(U(wp * c)):
                flat[row + t] = zero
            continue
        for t in range(U(pw * c)):
            flat[row + t] = zero
        for t in range(U((pw + w) * c), U(wp * c)):
            flat[row + t] = zero
        for ch in range(c):
            for t in range(w):
                flat[row + U((t + pw) * c + ch)] = x[b, ch, y, t]
    return padded


@njit(parallel=True, cache=True)
def im2col_kernel(padded, out, kh, kw, sh, sw, dh, dw, oh, ow, groups):
    """Columns (N*OH*OW, C*kH*kW) from the padded channels-last input (N, Hp, Wp, C):
    row (n, r, s), column (g, i, j, c') holds padded[n, r*sh + i*dh, s*sw + j*dw, g*C/groups + c']."""
    n, hp, wp, c = padded.shape
    cg = c // groups
    k = c * kh * kw
    block = cg * kh * kw
    flat_in = padded.reshape(-1)
    flat_out = out.reshape(-1)
    count = U(cg)
    for task in prange(n * oh):
        b = task // oh
        r = task - b * oh
        for s in range(ow):
            row = U((task * ow + s) * k)
            for g in range(groups):
                for i in range(kh):
                    line = (b * hp + r * sh + i * dh) * wp
                    for j in range(kw):
                        source = U((line + s * sw + j * dw) * c + g * cg)
                        target = row + U(g * block + (i * kw + j) * cg)
                        for t in range(count):
                            flat_out[target + t] = flat_in[source + t]
    return out


@njit(parallel=True, cache=True)
def col2im_kernel(columns, out, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, groups):
    """The adjoint of ``im2col_kernel`` composed with ``pad_to_positions``: (N, C, H, W),
    each input position the sum of the column entries copied from it.

    One task per image: it adds the image's rows of columns into a private zero-padded
    channels-last buffer (in cache: (H + 2*ph) * (W + 2*pw) * C values), then writes the
    inside of that buffer out channel by channel. No two threads touch one element.
    """
    n, c, h, w = out.shape
    cg = c // groups
    k = c * kh * kw
    block = cg * kh * kw
    hp, wp = h + 2 * ph, w + 2 * pw
    flat_columns = columns.reshape(-1)
    count = U(cg)
    for b in prange(n):
        padded = np.zeros(hp * wp * c, dtype=out.dtype)
        for r in range(oh):
            for s in range(ow):
                row = U(((b * oh + r) * ow + s) * k)
                for g in range(groups):
                    for i in range(kh):
                        line = (r * sh + i * dh) * wp
                        for j in range(kw):
                            source = row + U(g * block + (i * kw + j) * cg)
                            target = U((line + s * sw + j * dw) * c + g * cg)
                            for t in range(count):
                                padded[target + t] += flat_columns[source + t]
        for ch in range(c):
            for y in range(h):
                line = (y + ph) * wp + pw
                for t in range(w):
                    out[b, ch, y, t] = padded[(line + t) * c + ch]
    return out


@njit(parallel=True, cache=True)
def positions_to_images(product, bias, out):
    """(N*P, C_out) -> (N, C_out, P), adding ``bias[o]`` to output channel o."""
    n, c_out, plane = out.shape
    for task in prange(n * c_out):
        b = task // c_out
        o = task - b * c_out
        value = bias[o]
        first = b * plane
        for p in range(plane):
            out[b, o, p] = product[first + p, o] + value
    return out


@njit(parallel=True, cache=True)
def images_to_positions(images, out):
    """(N, C_out, P) -> (N*P, C_out), the upstream gradient laid out as the output's columns."""
    n, c_out, plane = images.shape
    for b in prange(n):
        first = b * plane
        for p in range(plane):
            for o in range(c_out):
                out[first + p, o] = images[b, o, p]
    return out


# ---------------------------------------------------------------------------------
# the calls from minigrad/ops/conv.py: shapes and geometry in, every element of ``out``
# written (``out`` C-contiguous, of the dtype of the input; fresh or recycled, never
# zeroed first)
# ---------------------------------------------------------------------------------
def padded_shape(input_shape, padding):
    """The shape (N, H + 2*ph, W + 2*pw, C) of ``im2col``'s channels-last buffer."""
    n, c, h, w = input_shape
    return (n, h + 2 * padding[0], w + 2 * padding[1], c)


def im2col(x, kernel, geometry, out_size, out=None, padded=None):
    """Position-major columns of ``x`` (N, C, H, W): (N*OH*OW, C*kH*kW), the columns of
    group g a contiguous block. ``padded`` is an optional scratch of ``padded_shape``."""
    x = np.ascontiguousarray(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, geometry.stride, geometry.padding, geometry.dilation
    oh, ow = out_size
    if out is None:
        out = np.empty((n * oh * ow, c * kh * kw), x.dtype)
    if padded is None:
        padded = np.empty(padded_shape(x.shape, (ph, pw)), x.dtype)
    with single_thread_below(out.size, PARALLEL_MIN_SIZE):
        pad_to_positions(x, padded, ph, pw)
        im2col_kernel(padded, out, kh, kw, sh, sw, dh, dw, oh, ow, geometry.groups)
    return out


def col2im(columns, input_shape, kernel, geometry, out_size, out=None):
    """The adjoint of ``im2col``: (N*OH*OW, C*kH*kW) -> (N, C, H, W)."""
    columns = np.ascontiguousarray(columns)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, geometry.stride, geometry.padding, geometry.dilation
    if out is None:
        out = np.empty(input_shape, columns.dtype)
    with single_thread_below(columns.size, PARALLEL_MIN_SIZE):
        col2im_kernel(columns, out, kh, kw, sh, sw, ph, pw, dh, dw, out_size[0], out_size[1],
                      geometry.groups)
    return out


def output_from_product(product, bias, n, out_size, out=None):
    """(N*OH*OW, C_out) -> (N, C_out, OH, OW), plus ``bias`` (C_out,) or None."""
    product = np.ascontiguousarray(product)
    c_out = product.shape[1]
    if bias is None:
        bias = np.zeros(c_out, dtype=product.dtype)
    bias = np.ascontiguousarray(bias, dtype=product.dtype)
    if out is None:
        out = np.empty((n, c_out) + tuple(out_size), product.dtype)
    with single_thread_below(product.size, PARALLEL_MIN_SIZE):
        positions_to_images(product, bias, out.reshape(n, c_out, -1))
    return out


def grad_positions(grad, out=None):
    """The upstream gradient (N, C_out, OH, OW) as (N*OH*OW, C_out)."""
    grad = np.ascontiguousarray(grad)
    n, c_out = grad.shape[:2]
    if out is None:
        out = np.empty((grad.size // c_out, c_out), grad.dtype)
    with single_thread_below(grad.size, PARALLEL_MIN_SIZE):
        images_to_positions(grad.reshape(n, c_out, -1), out)
    return out
