"""The cost model that picks conv2d's path, with its machine constants measured here.

conv2d can run three ways (minigrad/backend/conv.py): im2col in NumPy, im2col on the
Numba kernels, or Winograd's F(4x4, 3x3) on the kernels. Which is fastest depends on
the CPU, its caches and cores, so nothing here is a threshold measured on one machine:
the first convolution large enough to matter (``CALIBRATE_MIN`` column elements)
measures, once per process and in about a tenth of a second,

* the fixed and the per-element cost of building a column matrix (im2col) and of
  folding one back (col2im, a scatter-add that costs more than the build), in NumPy
  and on the kernels (two sizes each, the larger past the core's L2 cache: a straight
  line through them);
* the time per multiply-add of NumPy's matrix product at a column product's shape and
  at a Winograd tile product's shape;
* the time per element of each of Winograd's four tile transforms, which differ by
  up to 2x (the output and input-gradient transforms change the layout back).

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
    from . import conv  # the column kernels' wrappers; Numba is imported on their first use

    rng = np.random.default_rng(0)
    geometry = reference.Geometry((1, 1), (1, 1), (1, 1), 1)
    # Two sizes per pass: a small one for the fixed cost, and one past the core's L2
    # cache (9.4 MB of columns), as a training step's layers are.
    small = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    large = rng.standard_normal((8, 32, 32, 32)).astype(np.float32)
    shapes = [x.shape for x in (small, large)]
    sizes = [x.shape[1] * 9 * x.shape[0] * x.shape[2] * x.shape[3] for x in (small, large)]
    columns = [reference.im2col(x, (3, 3), geometry)[0] for x in (small, large)]
    passes = {
        "numpy_im2col": [lambda x=x: reference.im2col(x, (3, 3), geometry) for x in (small, large)],
        "numpy_col2im": [lambda c=c, s=s: reference.col2im(c[None], s, (3, 3), geometry) for c, s in zip(columns, shapes)],
        "kernel_im2col": [lambda x=x: conv.kernel_im2col(x, (3, 3), geometry) for x in (small, large)],
        "kernel_col2im": [lambda c=c, s=s: conv.kernel_col2im(c, s, (3, 3), geometry) for c, s in zip(columns, shapes)],
    }
    measured = {name: _line(*[_best_seconds(call) for call in calls], *sizes) for name, calls in passes.items()}

    weights = rng.standard_normal((32, 288)).astype(np.float32)
    matrix = rng.standard_normal(columns[1].shape).astype(np.float32)
    measured["mac_columns"] = _best_seconds(lambda: np.matmul(weights, matrix)) / (32 * matrix.size)
    out_size = large.shape[2:]
    tiles = winograd.tiles_from_input(large, out_size, (1, 1),
                                      np.empty(winograd.tiles_shape(large.shape[0], 32, out_size), np.float32))
    filters = rng.standard_normal((36, 32, 32)).astype(np.float32)
    measured["mac_tiles"] = _best_seconds(lambda: np.matmul(tiles, filters)) / (tiles.size * 32)
    image = np.empty(large.shape, np.float32)
    transforms = {
        "input": lambda: winograd.tiles_from_input(large, out_size, (1, 1), np.empty_like(tiles)),
        "output": lambda: winograd.output_from_tiles(tiles, None, np.empty_like(image)),
        "grad": lambda: winograd.tiles_from_grad(large, np.empty_like(tiles)),
        "input_grad": lambda: winograd.input_from_tiles(tiles, out_size, (1, 1), np.empty_like(image)),
    }
    measured["transforms"] = {name: _best_seconds(call) / tiles.size for name, call in transforms.items()}
    return measured


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
    built once (forward) and folded back once by col2im (input gradient); the
    products' multiply-adds are the same three times over; Winograd does 36 products
    per 16 outputs instead of 9 * 16, and four tile transforms (input, gradient, output
    and input-gradient tiles) over 36 values per tile and channel, each at its own
    measured cost.
    """
    n, c = input_shape[:2]
    kh, kw = kernel
    positions = n * out_size[0] * out_size[1]
    elements = c * kh * kw * positions
    k = constants()
    macs = 3 * c_out * c * kh * kw * positions
    costs = {}
    for path, prefix in (("numpy", "numpy_"), ("columns", "kernel_")):
        builds = [k[prefix + name][0] + k[prefix + name][1] * elements for name in ("im2col", "col2im")]
        costs[path] = sum(builds) + macs * k["mac_columns"]
    if winograd_possible:
        tiles = n * -(-out_size[0] // 4) * -(-out_size[1] // 4)
        tile_macs = 3 * 36 * tiles * c * c_out
        per_channel = k["transforms"]
        transforms = 36 * tiles * (c * (per_channel["input"] + per_channel["input_grad"])
                                   + c_out * (per_channel["output"] + per_channel["grad"]))
        costs["winograd"] = tile_macs * k["mac_tiles"] + transforms
    return costs
