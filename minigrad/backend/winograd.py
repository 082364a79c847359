"""Winograd's F(4x4, 3x3) put together: the tile transforms of minigrad/kernels/winograd.py
(the maths is described there) around NumPy's matrix products.

Tiles are laid out as ``(36, N * tiles_high * tiles_wide, channels)``, and the kernels
read and write images channels last, (N, H, W, C): the transposing copies to and from
NCHW are NumPy's, into scratch arrays.
"""

import numpy as np

from ..runtime import memory

ALPHA = 6  # input values per tile side
TILE = 4  # output values per tile side


def _kernels():
    from ..kernels import winograd

    return winograd


def _kron(dtype):
    return _kernels().KRON[np.dtype(dtype)]


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


def _channels_last(images, role):
    """``images`` (N, C, H, W) as a channels-last (N, H, W, C) scratch copy."""
    n, c, h, w = images.shape
    out = memory.scratch(role, (n, h, w, c), images.dtype)
    np.copyto(out, images.transpose(0, 2, 3, 1))
    return out


def _to_channels_first(channels_last, out):
    """Copy (N, H, W, C) into ``out`` (N, C, H, W); returns ``out``."""
    np.copyto(out, channels_last.transpose(0, 3, 1, 2))
    return out


def tiles_from_input(x, out_size, padding, out):
    """V: the transformed input tiles (36, N*th*tw, C) of ``x`` (N, C, H, W), padded."""
    th, tw = tile_counts(out_size)
    _kernels().input_transform(_channels_last(x, "winograd_input"), out, th, tw, padding[0], padding[1])
    return out


def output_from_tiles(product, bias, out):
    """The output (N, C_out, OH, OW) from the products M (36, N*th*tw, C_out), plus ``bias``."""
    th, tw = tile_counts(out.shape[2:])
    if bias is None:
        bias = np.zeros(out.shape[1], dtype=out.dtype)
    n, c_out, oh, ow = out.shape
    images = memory.scratch("winograd_output", (n, oh, ow, c_out), out.dtype)
    _kernels().output_transform(product, np.ascontiguousarray(bias, dtype=out.dtype), images, th, tw)
    return _to_channels_first(images, out)


def tiles_from_grad(grad, out):
    """dM: the upstream gradient (N, C_out, OH, OW) as transformed tiles (36, N*th*tw, C_out)."""
    th, tw = tile_counts(grad.shape[2:])
    _kernels().grad_transform(_channels_last(grad, "winograd_grad"), out, th, tw)
    return out


def input_from_tiles(d_tiles, out_size, padding, out):
    """The input gradient (N, C, H, W) from dV (36, N*th*tw, C)."""
    th, tw = tile_counts(out_size)
    n, c, h, w = out.shape
    images = memory.scratch("winograd_input_grad", (n, h, w, c), out.dtype)
    _kernels().input_grad_transform(d_tiles, images, th, tw, padding[0], padding[1])
    return _to_channels_first(images, out)
