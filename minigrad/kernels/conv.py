"""conv2d's memory passes as parallel Numba kernels over C-contiguous NumPy arrays.

The matrix products of conv2d stay with NumPy's BLAS; everything around them is here,
each a single pass over memory, split over the threads:

* ``im2col``: the (C*kH*kW, N*OH*OW) column matrix straight from the unpadded input
  (the padding is a bounds check: zeros are written, no padded copy is made);
* ``col2im``: its adjoint, adding the columns back straight into the (N, C, H, W)
  result (no padded buffer, no final transpose);
* ``rows_to_images``: the product (C_out, N*P) to the output (N, C_out, P), plus a bias;
* ``images_to_rows``: the upstream gradient (N, C_out, P) to (C_out, N*P).

Every kernel takes ``prange`` over independent (row or channel, image) blocks, so no two
threads ever write the same element, and reads or writes the column matrix in
contiguous runs. The results go into ``out`` arrays the caller passes (fresh, or
from minigrad/runtime/memory.py), every element written. The geometry (kernel, stride,
padding, dilation, output size) comes in
as ints; groups need nothing here, since the channel axis leads the column matrix and
a group is a block of its rows.

Threads, measured on 2 cores: right after an OpenBLAS matrix product (as every one of
these kernels runs in a training step), OpenBLAS's worker thread keeps spinning for a
while (about 0.1 s by default), and the second Numba thread gets little of that core:
the kernels then run at about their one-thread speed (im2col of the benchmark's layer,
19 MB of columns: 1.3 ms either way in a step; 0.45 ms on 2 threads with
OPENBLAS_NUM_THREADS=1). So the loops are made fast on one thread first: unsigned
indices (no negative-index test, so the copies vectorize), and for stride 1 with an
output as wide as the input one masked run per (row, image) instead of OH short rows.

With ``NUMBA_DISABLE_JIT=1`` the same code runs as plain Python (``prange`` is
``range``), which is how tests/test_conv_kernels.py covers it on small shapes.
"""

import numpy as np
from numba import njit, prange

from ..runtime.threads import kernel

U = np.uint64  # the index type inside the kernels (see im2col_kernel)



@njit(cache=True)
def _valid_range(offset, stride, size, count):
    """The positions t in [0, count) with 0 <= t*stride + offset < size, as (lo, hi)."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = (size - 1 - offset) // stride + 1
    if hi > count:
        hi = count
    if lo > count:
        lo = count
    if hi < lo:
        hi = lo
    return lo, hi


@njit(cache=True, inline="always")
def copy_row(source, start, step, target, first, count):
    """target[first + s] = source[start + s * step] for s < count (unsigned indices)."""
    if step == 1:
        for s in range(count):
            target[first + s] = source[start + s]
    else:
        for s in range(count):
            target[first + s] = source[start + s * step]


@njit(cache=True, inline="always")
def add_row(source, start, target, first, step, count):
    """target[first + s * step] += source[start + s] for s < count (unsigned indices)."""
    if step == 1:
        for s in range(count):
            target[first + s] += source[start + s]
    else:
        for s in range(count):
            target[first + s * step] += source[start + s]


@njit(cache=True)
def _column_masks(same_width, kw, pw, dw, w, plane):
    """For the stride-1, output-as-wide-as-input case: masks[j, p], whether position p
    of an output plane (width w) has its input column, for kernel column j, inside the
    image. Empty otherwise."""
    masks = np.zeros((kw, plane if same_width else 0), dtype=np.bool_)
    if same_width:
        for j in range(kw):
            lo, hi = _valid_range(j * dw - pw, 1, w, w)
            for p in range(plane):
                s = p % w
                masks[j, p] = lo <= s < hi
    return masks


# ---------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------
@kernel
def im2col_kernel(x, out, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Columns (C*kH*kW, N*OH*OW) of ``x`` (N, C, H, W): row (c, i, j), column (n, r, s)
    holds x[n, c, r*sh + i*dh - ph, s*sw + j*dw - pw], zero outside the image."""
    n, c, h, w = x.shape
    rows = c * kh * kw
    plane = oh * ow
    flat_out = out.reshape(-1)
    flat_x = x.reshape(-1)
    zero = x.dtype.type(0)
    # Stride 1 and an output as wide as the input (padding "same"): output position p of
    # a row (c, i, j) reads input position p + a fixed shift, so rows need not be split.
    same_width = sh == 1 and sw == 1 and ow == w
    masks = _column_masks(same_width, kw, pw, dw, w, plane)
    for task in prange(rows * n):
        row = task // n
        b = task - row * n
        ch = row // (kh * kw)
        offset = row - ch * (kh * kw)
        i = offset // kw
        j = offset - i * kw
        col0 = j * dw - pw
        lo, hi = _valid_range(col0, sw, w, ow)
        # Unsigned indices: Numba then skips the negative-index wraparound test, and
        # the copy loops vectorize.
        count = U(hi - lo)
        step = U(sw)
        base = U(row * n * plane + b * plane)
        if same_width:
            r_lo, r_hi = _valid_range(i * dh - ph, 1, h, oh)
            if r_hi > r_lo and hi > lo:
                # One long run from row r_lo to row r_hi - 1, the mask zeroing the
                # positions whose input column lies outside the image.
                first = r_lo * ow + lo
                last = (r_hi - 1) * ow + hi
                for s in range(U(first)):
                    flat_out[base + s] = zero
                source = U((b * c + ch) * h * w + (i * dh - ph) * w + col0 + first)
                target = base + U(first)
                valid = masks[j, first:]
                for s in range(U(last - first)):
                    flat_out[target + s] = flat_x[source + s] if valid[s] else zero
                for s in range(U(last), U(plane)):
                    flat_out[base + s] = zero
            else:
                for s in range(U(plane)):
                    flat_out[base + s] = zero
            continue
        for r in range(oh):
            y = r * sh + i * dh - ph
            start = base + U(r * ow)
            if y < 0 or y >= h:
                for s in range(U(ow)):
                    flat_out[start + s] = zero
                continue
            for s in range(U(lo)):
                flat_out[start + s] = zero
            if hi > lo:  # else lo * sw + col0 may be negative
                copy_row(flat_x, U(((b * c + ch) * h + y) * w + lo * sw + col0), step,
                         flat_out, start + U(lo), count)
            for s in range(U(hi), U(ow)):
                flat_out[start + s] = zero
    return out


@kernel
def col2im_kernel(columns, out, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, images_per_task):
    """The adjoint of ``im2col_kernel``: (N, C, H, W), each input position the sum of the
    column entries that were copied from it.

    One task per channel and run of ``images_per_task`` images: each thread adds into
    its own (image, channel) blocks only, and a task reads each of its kH*kW rows of
    columns as one contiguous run while its blocks stay in cache.
    """
    n, c, h, w = out.shape
    plane = oh * ow
    flat_out = out.reshape(-1)
    flat_columns = columns.reshape(-1)
    zero = columns.dtype.type(0)
    same_width = sh == 1 and sw == 1 and ow == w  # as in im2col_kernel
    masks = _column_masks(same_width, kw, pw, dw, w, plane)
    runs = (n + images_per_task - 1) // images_per_task
    for task in prange(c * runs):
        ch = task // runs
        b_first = (task - ch * runs) * images_per_task
        b_last = min(n, b_first + images_per_task)
        for b in range(b_first, b_last):
            block = U((b * c + ch) * h * w)
            for t in range(U(h * w)):
                flat_out[block + t] = zero
        for i in range(kh):
            r_lo, r_hi = _valid_range(i * dh - ph, sh, h, oh)
            for j in range(kw):
                col0 = j * dw - pw
                lo, hi = _valid_range(col0, sw, w, ow)
                if hi <= lo or r_hi <= r_lo:  # nothing valid (lo * sw + col0 may be negative)
                    continue
                count = U(hi - lo)
                step = U(sw)
                row = (ch * kh + i) * kw + j
                # the run of position p: column position p adds into input position
                # p + shift, where p's column lies in [lo, hi)
                first = r_lo * ow + lo
                last = (r_hi - 1) * ow + hi
                shift = (i * dh - ph) * w + col0
                valid = masks[j, first:]
                for b in range(b_first, b_last):
                    block = U((b * c + ch) * h * w)
                    base = U(row * n * plane + b * plane)
                    if same_width:
                        source = base + U(first)
                        target = block + U(shift + first)
                        for p in range(U(last - first)):  # a select, not a branch: vectorizes
                            flat_out[target + p] += flat_columns[source + p] if valid[p] else zero
                        continue
                    for r in range(r_lo, r_hi):
                        y = r * sh + i * dh - ph
                        add_row(flat_columns, base + U(r * ow + lo), flat_out,
                                block + U(y * w + lo * sw + col0), step, count)
    return out


@kernel
def rows_to_images(product, bias, out):
    """(C_out, N*P) -> (N, C_out, P), adding ``bias[o]`` to output channel o."""
    c_out, total = product.shape
    n = out.shape[0]
    plane = total // n
    flat_out = out.reshape(-1)
    flat_product = product.reshape(-1)
    for task in prange(n * c_out):
        b = task // c_out
        o = task - b * c_out
        value = bias[o]
        target = U(task * plane)
        source = U(o * total + b * plane)
        for p in range(U(plane)):
            flat_out[target + p] = flat_product[source + p] + value
    return out


@kernel
def images_to_rows(images, out):
    """(N, C_out, P) -> (C_out, N*P), the upstream gradient laid out as columns."""
    n, c_out, plane = images.shape
    flat_out = out.reshape(-1)
    flat_images = images.reshape(-1)
    for task in prange(c_out * n):
        o = task // n
        b = task - o * n
        target = U(task * plane)
        source = U((b * c_out + o) * plane)
        for p in range(U(plane)):
            flat_out[target + p] = flat_images[source + p]
    return out
