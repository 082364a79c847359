"""Winograd's minimal filtering F(4x4, 3x3): conv2d's 3x3, stride-1 layers with 4x fewer
multiplications.

A 3x3 convolution of a 6x6 input tile ``d`` gives a 4x4 output tile ``Y``. Winograd's
algorithm (in the form of Lavin and Gray, "Fast Algorithms for Convolutional Neural
Networks", 2016) writes it as

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* elementwise; g the 3x3 filter)

so that, over channels, each of the 36 positions (a, b) of the transformed tile is an
independent matrix product: ``M[ab] = V[ab] @ U[ab]`` with V the transformed input
tiles (tiles, C_in) and U the transformed filters (C_in, C_out). That is 36 products of
(tiles, C_in) @ (C_in, C_out): 36 multiplications per tile and pair of channels instead
of im2col's 16 * 9 = 144, 4x fewer, at the price of the tile transforms (memory passes).
The gradients are the adjoints:

* the output gradient dY goes to dM = A dY A^T (tile by tile);
* the input gradient: dV[ab] = dM[ab] @ U[ab]^T, then dd = B dV B^T added onto the
  (overlapping) input tiles;
* the weight gradient: dU[ab] = V[ab]^T @ dM[ab], then dg = G^T dU G.

The kernels here are the tile transforms, loop bodies over NumPy arrays; the products
are NumPy's (BLAS), and minigrad/backend/conv.py puts the pieces together. A transform runs
in the dtype of its data, vectorized over the channel axis, which is the contiguous one
in every buffer it touches: each task copies the rows of the NCHW image it reads
(or writes) into a buffer held channels last, in cache, and transforms from there. Tiles are laid out as
``(36, N * tiles_high * tiles_wide, channels)``: tile (n, ty, tx) covers output rows
4*ty to 4*ty + 3 and columns 4*tx to 4*tx + 3, and input rows 4*ty - ph to 4*ty - ph + 5.

The interpolation points are 0, 1, -1, 2, -2 and infinity; in float32 the result
differs from a direct convolution by a few 1e-6 relative to the output's scale
(measured in tests/test_conv_kernels.py), in float64 by about 1e-15. Two consequences
of mixing a tile's values before multiplying, as every Winograd implementation does:
an inf or NaN in the input makes the whole 4x4 output tile NaN (a direct convolution
keeps inf, and only in the outputs whose window holds it), and the transforms scale
values by up to about 100 (input) and 225 (gradient), so float32 inputs near 1e36
overflow where a direct convolution would not.
"""

import numpy as np
from numba import njit, prange

from ..runtime.threads import kernel

TILE = 4  # output values per tile side
ALPHA = 6  # input values per tile side: TILE + 3 - 1

# The three transforms; the kernels below write out their products by hand.
BT = np.array([
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
], dtype=np.float64)
G = np.array([
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
], dtype=np.float64)
AT = np.array([
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
], dtype=np.float64)



# ---- the 1-D transforms, one vector of 6 (or 4) values at a time -------------------------
# The constants as float32: exact, and they keep float32 arithmetic in float32 (16 lanes
# a vector) while float64 inputs still compute in float64.
_2, _4, _5, _8 = np.float32(2), np.float32(4), np.float32(5), np.float32(8)


@njit(cache=True, inline="always")
def _bt(d0, d1, d2, d3, d4, d5):
    """B^T d."""
    return (_4 * d0 - _5 * d2 + d4,
            -_4 * d1 - _4 * d2 + d3 + d4,
            _4 * d1 - _4 * d2 - d3 + d4,
            -_2 * d1 - d2 + _2 * d3 + d4,
            _2 * d1 - d2 - _2 * d3 + d4,
            _4 * d1 - _5 * d3 + d5)


@njit(cache=True, inline="always")
def _b(v0, v1, v2, v3, v4, v5):
    """B v, the adjoint of ``_bt``."""
    return (_4 * v0,
            -_4 * v1 + _4 * v2 - _2 * v3 + _2 * v4 + _4 * v5,
            -_5 * v0 - _4 * v1 - _4 * v2 - v3 - v4,
            v1 - v2 + _2 * v3 - _2 * v4 - _5 * v5,
            v0 + v1 + v2 + v3 + v4,
            v5)


@njit(cache=True, inline="always")
def _at(m0, m1, m2, m3, m4, m5):
    """A^T m."""
    return (m0 + m1 + m2 + m3 + m4,
            m1 - m2 + _2 * m3 - _2 * m4,
            m1 + m2 + _4 * m3 + _4 * m4,
            m1 - m2 + _8 * m3 - _8 * m4 + m5)


@njit(cache=True, inline="always")
def _a(y0, y1, y2, y3):
    """A y, the adjoint of ``_at``."""
    return (y0,
            y0 + y1 + y2 + y3,
            y0 - y1 + y2 - y3,
            y0 + _2 * y1 + _4 * y2 + _8 * y3,
            y0 - _2 * y1 + _4 * y2 - _8 * y3,
            y3)


# ---- kernels ---------------------------------------------------------------------------
@kernel
def input_transform(x, out, tiles_high, tiles_wide, ph, pw):
    """V = B^T d B for every tile and channel of ``x`` (N, C, H, W), zero-padded by
    (ph, pw); ``out`` (36, N*th*tw, C).

    One task per row of tiles: it first copies the 6 input rows the tiles read into a
    zero-padded buffer, channels last (in cache), then transforms tile by tile.
    """
    n, c, h, w = x.shape
    width = TILE * tiles_wide + 2
    for task in prange(n * tiles_high):
        b = task // tiles_high
        y0 = TILE * (task - b * tiles_high)
        padded = np.zeros((ALPHA, width, c), dtype=out.dtype)
        for u in range(ALPHA):
            y = y0 + u - ph
            if 0 <= y < h:
                for ch in range(c):
                    row = x[b, ch, y]
                    for t in range(w):
                        padded[u, t + pw, ch] = row[t]
        columns = np.empty((ALPHA, ALPHA, c), dtype=out.dtype)  # (B^T d)[a, v] per channel
        for tx in range(tiles_wide):
            tile = task * tiles_wide + tx
            x0 = TILE * tx
            for v in range(ALPHA):
                for ch in range(c):
                    r0, r1, r2, r3, r4, r5 = _bt(
                        padded[0, x0 + v, ch], padded[1, x0 + v, ch], padded[2, x0 + v, ch],
                        padded[3, x0 + v, ch], padded[4, x0 + v, ch], padded[5, x0 + v, ch])
                    columns[0, v, ch] = r0
                    columns[1, v, ch] = r1
                    columns[2, v, ch] = r2
                    columns[3, v, ch] = r3
                    columns[4, v, ch] = r4
                    columns[5, v, ch] = r5
            for a in range(ALPHA):
                for ch in range(c):
                    r0, r1, r2, r3, r4, r5 = _bt(columns[a, 0, ch], columns[a, 1, ch], columns[a, 2, ch],
                                                 columns[a, 3, ch], columns[a, 4, ch], columns[a, 5, ch])
                    first = a * ALPHA
                    out[first, tile, ch] = r0
                    out[first + 1, tile, ch] = r1
                    out[first + 2, tile, ch] = r2
                    out[first + 3, tile, ch] = r3
                    out[first + 4, tile, ch] = r4
                    out[first + 5, tile, ch] = r5
    return out


@kernel
def output_transform(product, bias, out, tiles_high, tiles_wide):
    """Y = A^T M A + bias for every tile and output channel: ``product`` (36, N*th*tw,
    C_out); ``out`` (N, C_out, OH, OW), the tiles cut to its size, written from a row of
    tiles held channels last (in cache)."""
    n, c_out, oh, ow = out.shape
    for task in prange(n * tiles_high):
        b = task // tiles_high
        y0 = TILE * (task - b * tiles_high)
        rows = np.empty((TILE, TILE * tiles_wide, c_out), dtype=out.dtype)  # a row of tiles, channels last
        columns = np.empty((TILE, ALPHA, c_out), dtype=out.dtype)  # (A^T M)[p, e] per channel
        for tx in range(tiles_wide):
            tile = task * tiles_wide + tx
            for e in range(ALPHA):
                for o in range(c_out):
                    r0, r1, r2, r3 = _at(
                        product[e, tile, o], product[ALPHA + e, tile, o],
                        product[2 * ALPHA + e, tile, o], product[3 * ALPHA + e, tile, o],
                        product[4 * ALPHA + e, tile, o], product[5 * ALPHA + e, tile, o])
                    columns[0, e, o] = r0
                    columns[1, e, o] = r1
                    columns[2, e, o] = r2
                    columns[3, e, o] = r3
            for p in range(TILE):
                for o in range(c_out):
                    r0, r1, r2, r3 = _at(columns[p, 0, o], columns[p, 1, o], columns[p, 2, o],
                                         columns[p, 3, o], columns[p, 4, o], columns[p, 5, o])
                    first = TILE * tx
                    rows[p, first, o] = r0
                    rows[p, first + 1, o] = r1
                    rows[p, first + 2, o] = r2
                    rows[p, first + 3, o] = r3
        for o in range(c_out):
            for p in range(min(TILE, oh - y0)):
                row = out[b, o, y0 + p]
                for t in range(ow):
                    row[t] = rows[p, t, o] + bias[o]
    return out


@kernel
def grad_transform(grad, out, tiles_high, tiles_wide):
    """dM = A dY A^T, the adjoint of ``output_transform``: ``grad`` (N, C_out, OH, OW)
    (zero beyond its edge), read into a row of tiles channels last; ``out``
    (36, N*th*tw, C_out)."""
    n, c_out, oh, ow = grad.shape
    for task in prange(n * tiles_high):
        b = task // tiles_high
        y0 = TILE * (task - b * tiles_high)
        rows = np.zeros((TILE, TILE * tiles_wide, c_out), dtype=out.dtype)
        for o in range(c_out):
            for p in range(min(TILE, oh - y0)):
                row = grad[b, o, y0 + p]
                for t in range(ow):
                    rows[p, t, o] = row[t]
        columns = np.empty((ALPHA, TILE, c_out), dtype=out.dtype)  # (A dY)[k, q] per channel
        for tx in range(tiles_wide):
            tile = task * tiles_wide + tx
            x0 = TILE * tx
            for q in range(TILE):
                for o in range(c_out):
                    r0, r1, r2, r3, r4, r5 = _a(rows[0, x0 + q, o], rows[1, x0 + q, o],
                                                rows[2, x0 + q, o], rows[3, x0 + q, o])
                    columns[0, q, o] = r0
                    columns[1, q, o] = r1
                    columns[2, q, o] = r2
                    columns[3, q, o] = r3
                    columns[4, q, o] = r4
                    columns[5, q, o] = r5
            for k in range(ALPHA):
                for o in range(c_out):
                    r0, r1, r2, r3, r4, r5 = _a(columns[k, 0, o], columns[k, 1, o],
                                                columns[k, 2, o], columns[k, 3, o])
                    first = k * ALPHA
                    out[first, tile, o] = r0
                    out[first + 1, tile, o] = r1
                    out[first + 2, tile, o] = r2
                    out[first + 3, tile, o] = r3
                    out[first + 4, tile, o] = r4
                    out[first + 5, tile, o] = r5
    return out


@kernel
def input_grad_transform(d_tiles, out, tiles_high, tiles_wide, ph, pw):
    """dd = B dV B^T for every tile, added onto its 6x6 window of the input: the adjoint
    of ``input_transform`` (and of the padding). ``d_tiles`` (36, N*th*tw, C); ``out``
    (N, C, H, W), from a whole image's sums held channels last. One task per image, so
    that overlapping tiles never race."""
    n, c, h, w = out.shape
    for b in prange(n):
        total = np.zeros((TILE * tiles_high + 2, TILE * tiles_wide + 2, c), dtype=out.dtype)
        columns = np.empty((ALPHA, ALPHA, c), dtype=out.dtype)  # (B dV)[u, e] per channel
        line = np.empty((ALPHA, c), dtype=out.dtype)  # one row u of B dV B^T
        for ty in range(tiles_high):
            for tx in range(tiles_wide):
                tile = (b * tiles_high + ty) * tiles_wide + tx
                y0, x0 = TILE * ty, TILE * tx
                for e in range(ALPHA):
                    for ch in range(c):
                        r0, r1, r2, r3, r4, r5 = _b(
                            d_tiles[e, tile, ch], d_tiles[ALPHA + e, tile, ch],
                            d_tiles[2 * ALPHA + e, tile, ch], d_tiles[3 * ALPHA + e, tile, ch],
                            d_tiles[4 * ALPHA + e, tile, ch], d_tiles[5 * ALPHA + e, tile, ch])
                        columns[0, e, ch] = r0
                        columns[1, e, ch] = r1
                        columns[2, e, ch] = r2
                        columns[3, e, ch] = r3
                        columns[4, e, ch] = r4
                        columns[5, e, ch] = r5
                for u in range(ALPHA):
                    for ch in range(c):
                        r0, r1, r2, r3, r4, r5 = _b(columns[u, 0, ch], columns[u, 1, ch], columns[u, 2, ch],
                                                    columns[u, 3, ch], columns[u, 4, ch], columns[u, 5, ch])
                        line[0, ch] = r0
                        line[1, ch] = r1
                        line[2, ch] = r2
                        line[3, ch] = r3
                        line[4, ch] = r4
                        line[5, ch] = r5
                    # added one window column at a time: two arrays per loop, which the
                    # compiler vectorizes (six targets in one loop it did not)
                    for k in range(ALPHA):
                        target = total[y0 + u, x0 + k]
                        source = line[k]
                        for ch in range(c):
                            target[ch] += source[ch]
        for ch in range(c):
            for y in range(h):
                row = out[b, ch, y]
                for t in range(w):
                    row[t] = total[y + ph, t + pw, ch]
    return out


# The two filter transforms at once, per 3x3 filter read as 9 numbers: U[ab] = sum over
# (i, j) of G[a, i] G[b, j] g[i, j], so U = KRON @ g with KRON = G (x) G, (36, 9).
KRON = {np.dtype(dtype): np.kron(G, G).astype(dtype) for dtype in (np.float32, np.float64)}
