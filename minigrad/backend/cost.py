"""The cost model that picks conv2d's path, with its machine constants measured here.

conv2d can run three ways (minigrad/backend/conv.py): im2col in NumPy, im2col on the
Numba kernels, or Winograd's F(4x4, 3x3) on the kernels. Which is fastest depends on
the CPU, its caches and cores, so nothing here is a threshold measured on one machine:
the first convolution large enough to matter (``CALIBRATE_MIN`` column elements)
measures, once per process and in a few tens of milliseconds,

* the fixed and the per-element cost of building a column matrix, in NumPy and on the
  kernels (two sizes each: a straight line through them);
* the time per multiply-add of NumPy's matrix product at a column product's shape and
  at a Winograd tile product's shape;
* the time per element of a Winograd tile transform.

and then compares, for each convolution, the predicted cost of a whole step (forward
and both gradients) on each path. ``constants()`` returns what was measured.
"""

import time

import numpy as np

from . import reference, winograd

# Below this many column elements (C*kH*kW*N*OH*OW) NumPy's im2col is taken without
# measuring: a few microseconds of work, where a Numba call's fixed cost alone is more.
# It also keeps Numba unimported for small convolutions.
CALIBRATE_MIN = 1 << 14

_constants = None


def _best_seconds(call, repeats=7):
    """The fastest of a few calls: on a shared machine the others measure the neighbours."""
    call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _line(small, large, small_size, large_size):
    """(fixed, per element) of the line through two timings."""
    per_element = max((large - small) / (large_size - small_size), 1e-13)
    return max(small - per_element * small_size, 0.0), per_element


def calibrate():
    """Measure the constants of the model (see the module's docstring)."""
    from ..kernels import conv as kernels  # Numba, imported here on first use

    def kernel_im2col(x):
        out = np.empty((x.shape[1] * 9, x.shape[0] * x.shape[2] * x.shape[3]), x.dtype)
        kernels.im2col_kernel(x, out, 3, 3, 1, 1, 1, 1, 1, 1, x.shape[2], x.shape[3])

    rng = np.random.default_rng(0)
    geometry = reference.Geometry((1, 1), (1, 1), (1, 1), 1)
    small = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    large = rng.standard_normal((4, 16, 32, 32)).astype(np.float32)
    sizes = [4 * 9 * 64, 16 * 9 * 4 * 1024]
    numpy_times = [_best_seconds(lambda x=x: reference.im2col(x, (3, 3), geometry)) for x in (small, large)]
    kernel_times = [_best_seconds(lambda x=x: kernel_im2col(x)) for x in (small, large)]

    columns = rng.standard_normal((144, 4096)).astype(np.float32)
    weights = rng.standard_normal((16, 144)).astype(np.float32)
    mac_columns = _best_seconds(lambda: np.matmul(weights, columns)) / (16 * 144 * 4096)
    tiles = rng.standard_normal((36, 1024, 16)).astype(np.float32)
    filters = rng.standard_normal((36, 16, 16)).astype(np.float32)
    mac_tiles = _best_seconds(lambda: np.matmul(tiles, filters)) / (36 * 1024 * 16 * 16)
    out = np.empty(winograd.tiles_shape(4, 16, (32, 32)), np.float32)
    transform = _best_seconds(lambda: winograd.tiles_from_input(large, (32, 32), (1, 1), out)) / out.size
    return {
        "numpy_im2col": _line(*numpy_times, *sizes),
        "kernel_im2col": _line(*kernel_times, *sizes),
        "mac_columns": mac_columns,
        "mac_tiles": mac_tiles,
        "transform": transform,
    }


def constants():
    """The measured constants, measured on first use in this process."""
    global _constants
    if _constants is None:
        _constants = calibrate()
    return _constants


def step_costs(input_shape, c_out, kernel, out_size, winograd_possible):
    """Predicted seconds of one forward + backward on each path: a dict with "numpy",
    "columns" and, when ``winograd_possible``, "winograd".

    Each path pays its products and its memory passes: im2col's column matrix is
    built once and read back once by col2im (each about one column build); the
    products' multiply-adds are the same three times over; Winograd does 36 products
    per 16 outputs instead of 9 * 16, and four tile transforms (input, gradient, output
    and input-gradient tiles) over 36 values per tile and channel.
    """
    n, c = input_shape[:2]
    kh, kw = kernel
    positions = n * out_size[0] * out_size[1]
    elements = c * kh * kw * positions
    k = constants()
    macs = 3 * c_out * c * kh * kw * positions
    costs = {}
    for path, (fixed, per_element) in (("numpy", k["numpy_im2col"]), ("columns", k["kernel_im2col"])):
        costs[path] = 2 * (fixed + per_element * elements) + macs * k["mac_columns"]
    if winograd_possible:
        tiles = n * -(-out_size[0] // 4) * -(-out_size[1] // 4)
        tile_macs = 3 * 36 * tiles * c * c_out
        transforms = 36 * tiles * (2 * c + 2 * c_out)
        costs["winograd"] = tile_macs * k["mac_tiles"] + transforms * k["transform"]
    return costs
