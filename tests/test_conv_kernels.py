"""The Numba kernels of conv2d (minigrad/kernels/conv.py), against the NumPy reference
(minigrad/backend/reference.py), and conv2d forced onto them on small shapes.

Small shapes only: CI also runs this file with ``NUMBA_DISABLE_JIT=1``, so the
kernels' index arithmetic is covered as plain Python.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.backend import conv as conv_backend
from minigrad.backend import reference
from minigrad.nn import checks
from minigrad.ops import conv as conv_ops
from minigrad.runtime import memory

# (x shape, kernel, stride, padding, dilation)
GEOMETRIES = [
    ((2, 3, 6, 5), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 3, 7, 5), (3, 2), (1, 1), (1, 0), (1, 1)),
    ((2, 2, 7, 6), (3, 3), (2, 1), (2, 1), (2, 1)),
    ((1, 2, 5, 5), (2, 2), (3, 2), (0, 2), (1, 2)),
    ((3, 1, 8, 4), (1, 3), (2, 3), (0, 1), (1, 1)),
    ((1, 2, 1, 1), (2, 2), (1, 1), (2, 2), (4, 4)),  # columns entirely in the padding
    ((2, 2, 4, 9), (2, 4), (1, 2), (1, 3), (3, 2)),
    # stride 1 with an output as wide as the input: the kernels' long-run case
    ((2, 2, 6, 7), (3, 3), (1, 1), (2, 2), (2, 2)),
    ((2, 3, 5, 4), (2, 3), (1, 1), (0, 1), (1, 1)),
    ((1, 2, 3, 4), (5, 3), (1, 1), (2, 1), (1, 1)),
]


def ids(case):
    shape, kernel, stride, padding, dilation = case
    return f"x{shape}-k{kernel}-s{stride}-p{padding}-d{dilation}".replace(" ", "")


def force(monkeypatch, wanted):
    """Make conv2d take path ``wanted`` wherever it can (dtypes the kernels are not
    compiled for take the reference; Winograd only where it applies)."""
    def choose(input_shape, c_out, kernel, geometry, dtypes):
        if any(d not in conv_backend.KERNEL_DTYPES for d in dtypes):
            return "reference"
        if wanted == "winograd" and not conv_backend.winograd_possible(kernel, geometry, dtypes):
            return "columns"
        return wanted

    monkeypatch.setattr(conv_backend, "choose", choose)


def numpy_path(monkeypatch):
    """The NumPy reference for every shape."""
    force(monkeypatch, "reference")


def numba_path(monkeypatch):
    force(monkeypatch, "columns")


def winograd_path(monkeypatch):
    """The kernels, and Winograd for every 3x3 stride-1 convolution, however few channels."""
    force(monkeypatch, "winograd")


def out_size(shape, kernel, geometry):
    return reference.conv_output_size(shape, kernel, geometry)


def draw(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", GEOMETRIES, ids=ids)
def test_im2col_and_col2im_equal_numpy(monkeypatch, case, dtype):
    numpy_path(monkeypatch)
    shape, kernel, stride, padding, dilation = case
    geometry = conv_ops.Geometry(stride, padding, dilation, 1)
    x = draw(*shape, seed=1, dtype=dtype)
    oh, ow = out_size(shape, kernel, geometry)
    expected = reference.im2col(x, kernel, geometry)[0]
    columns = conv_backend.kernel_im2col(x, kernel, geometry)
    assert columns.dtype == dtype and columns.flags.c_contiguous
    np.testing.assert_array_equal(columns, expected)
    # every element is written: a recycled buffer full of garbage gives the same result
    dirty = np.full_like(columns, np.nan)
    np.testing.assert_array_equal(conv_backend.kernel_im2col(x, kernel, geometry, out=dirty), expected)

    d_columns = draw(*columns.shape, seed=2, dtype=dtype)
    expected = reference.col2im(d_columns[None], shape, kernel, geometry)
    dx = conv_backend.kernel_col2im(d_columns, shape, kernel, geometry, out=np.full(shape, np.nan, dtype))
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, expected, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)


@pytest.mark.parametrize("case", GEOMETRIES, ids=ids)
def test_col2im_is_the_adjoint_of_im2col(case):
    shape, kernel, stride, padding, dilation = case
    geometry = conv_ops.Geometry(stride, padding, dilation, 1)
    oh, ow = out_size(shape, kernel, geometry)
    a = draw(*shape, seed=3)
    columns = conv_backend.kernel_im2col(a, kernel, geometry)
    b = draw(*columns.shape, seed=4)
    np.testing.assert_allclose((columns * b).sum(), (a * conv_backend.kernel_col2im(b, shape, kernel, geometry)).sum())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layout_changes(dtype):
    n, c_out, oh, ow = 3, 4, 2, 5
    product = draw(c_out, n * oh * ow, seed=5, dtype=dtype)
    bias = draw(c_out, seed=6, dtype=dtype)
    out = conv_backend.kernel_output(product, bias, n, (oh, ow))
    expected = product.reshape(c_out, n, oh, ow).transpose(1, 0, 2, 3) + bias.reshape(1, -1, 1, 1)
    assert out.dtype == dtype and out.shape == (n, c_out, oh, ow)
    np.testing.assert_array_equal(out, expected)
    no_bias = conv_backend.kernel_output(product, None, n, (oh, ow))
    np.testing.assert_array_equal(no_bias, product.reshape(c_out, n, oh, ow).transpose(1, 0, 2, 3))

    grad = draw(n, c_out, oh, ow, seed=7, dtype=dtype)
    rows = conv_backend.kernel_grad_rows(grad[:, :, ::-1])  # a view: read through its strides
    np.testing.assert_array_equal(rows, grad[:, :, ::-1].transpose(1, 0, 2, 3).reshape(c_out, -1))


# conv2d forced onto the kernels: (x shape, w shape, stride, padding, dilation, groups)
CONVS = [
    ((2, 2, 6, 5), (3, 2, 3, 3), 1, 1, 1, 1),
    ((1, 4, 7, 6), (4, 2, 2, 3), (2, 1), (2, 0), (1, 2), 2),
    ((2, 3, 5, 7), (3, 1, 3, 2), (1, 3), (0, 1), (2, 1), 3),  # depthwise
    ((1, 2, 6, 6), (4, 2, 3, 3), 2, 1, 1, 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONVS)
def test_conv2d_on_the_kernels_equals_numpy_and_passes_gradcheck(
        monkeypatch, x_shape, w_shape, stride, padding, dilation, groups):
    x, w, b = draw(*x_shape, seed=1), draw(*w_shape, seed=2), draw(w_shape[0], seed=3)

    def run():
        xt, wt, bt = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.conv2d(xt, wt, bt, stride, padding, dilation, groups)
        out.backward(draw(*out.shape, seed=4))
        return out.data, xt.grad.data, wt.grad.data, bt.grad.data

    numpy_path(monkeypatch)
    expected = run()
    numba_path(monkeypatch)
    got = run()
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)

    fn = lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups)
    inputs = [mg.tensor(a, requires_grad=True) for a in (x, w, b)]
    assert mg.gradcheck(fn, inputs)
    if x_shape[0] == 1:
        assert mg.gradgradcheck(fn, inputs)


def test_float32_in_float32_out(monkeypatch):
    numba_path(monkeypatch)
    x = mg.tensor(draw(2, 3, 5, 5, seed=1, dtype=np.float32), requires_grad=True)
    w = mg.tensor(draw(4, 3, 3, 3, seed=2, dtype=np.float32), requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    out.sum().backward()
    assert out.dtype == x.grad.dtype == w.grad.dtype == np.float32


# (kernel, padding, the shape of what the forward keeps): Winograd's tiles (36, N*th*tw, C)
# for 3x3 and stride 1, else the columns (C*kH*kW, N*OH*OW)
KEPT = [((3, 3), 1, (36, 8, 3)), ((2, 2), 0, (12, 50))]


@pytest.mark.parametrize("kernel, padding, kept_shape", KEPT)
def test_kept_arrays_survive_a_second_forward(monkeypatch, kernel, padding, kept_shape):
    # The columns (or tiles) kept for the weight gradient are recycled only once nothing
    # refers to them: two forwards of one shape, then the two backwards.
    if memory.debugging():
        pytest.skip("debug mode reuses nothing")
    winograd_path(monkeypatch)
    monkeypatch.setattr(memory, "OUTLIVING_MIN_BYTES", 0)  # these small arrays too
    memory.clear()
    x1, x2 = draw(2, 3, 6, 6, seed=1), draw(2, 3, 6, 6, seed=2)
    w = mg.tensor(draw(4, 3, *kernel, seed=3), requires_grad=True)
    first = F.conv2d(mg.tensor(x1), w, padding=padding)
    second = F.conv2d(mg.tensor(x2), w, padding=padding)
    grad = draw(*first.shape, seed=4)
    second.backward(grad)
    from_second = w.grad.data.copy()
    w.grad = None
    first.backward(grad)
    numpy_path(monkeypatch)
    for x, kept in ((x1, w.grad.data), (x2, from_second)):
        wt = mg.tensor(w.data, requires_grad=True)
        F.conv2d(mg.tensor(x), wt, padding=padding).backward(grad)
        np.testing.assert_allclose(kept, wt.grad.data, rtol=1e-12, atol=1e-12)
    # and freed ones are used again: two kept arrays and two outputs, still
    winograd_path(monkeypatch)
    del first, second
    F.conv2d(mg.tensor(x1), w, padding=padding)
    shapes = sorted(array.shape for array in memory.held(scratch=False))
    assert shapes == sorted([grad.shape] * 2 + [kept_shape] * 2)


def test_numba_is_imported_only_for_a_large_convolution():
    code = (
        "import sys, numpy as np, minigrad as mg, minigrad.nn.functional as F\n"
        "from minigrad.backend import conv\n"
        "F.conv2d(mg.ones(2, 1, 8, 8), mg.ones(4, 1, 3, 3), padding=1)\n"
        "assert 'numba' not in sys.modules\n"
        "conv.choose = lambda *arguments: 'columns'\n"
        "F.conv2d(mg.ones(2, 1, 8, 8), mg.ones(4, 1, 3, 3), padding=1)\n"
        "from minigrad.runtime import threads\n"
        "print(threads.layer())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_BACKEND"}  # the kernels, whatever this run uses
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip(), "the kernels package configured the threads"


def test_other_dtypes_take_numpy_in_the_same_layout(monkeypatch):
    # float16 has no kernels: on a "kernels" shape it goes through NumPy in the strided
    # layout, which must still meet the float32 gradient's layout in the weight gradient.
    x16 = draw(2, 3, 6, 6, seed=1, dtype=np.float16)
    w32 = draw(4, 3, 3, 3, seed=2, dtype=np.float32)
    grads = []
    for path in (numpy_path, numba_path):
        path(monkeypatch)
        x, w = mg.tensor(x16, requires_grad=True), mg.tensor(w32, requires_grad=True)
        out = F.conv2d(x, w, padding=1)
        out.backward(draw(*out.shape, seed=3, dtype=np.float32))
        grads.append((out.data, x.grad.data, w.grad.data))
    for a, e in zip(*grads):
        assert a.dtype == e.dtype
        np.testing.assert_allclose(a, e, rtol=1e-3, atol=1e-3)


# ---- Winograd's F(4x4, 3x3): 3x3 kernels, stride 1, no dilation, one group ----------------
from minigrad.backend import conv as winograd  # noqa: E402  (its Winograd section)

# (x shape, C_out, padding): odd sizes, partial tiles, batch 1, one channel, wide padding
WINOGRAD = [
    ((2, 3, 6, 6), 4, 1),
    ((1, 2, 9, 7), 3, 1),
    ((3, 1, 5, 8), 2, 0),
    ((2, 4, 4, 3), 5, 2),
    ((1, 3, 11, 13), 2, (0, 2)),
]


def conv_both_paths(monkeypatch, x, w, b, padding, upstream):
    """(output, dx, dw, db) on the NumPy path and on the kernels."""
    results = []
    for path in (numpy_path, winograd_path):
        path(monkeypatch)
        xt, wt, bt = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.conv2d(xt, wt, bt, padding=padding)
        out.backward(mg.tensor(upstream))
        results.append((out.data, xt.grad.data, wt.grad.data, bt.grad.data))
    return results


@pytest.mark.parametrize("x_shape, c_out, padding", WINOGRAD)
def test_winograd_is_chosen_and_equals_numpy_in_float64(monkeypatch, x_shape, c_out, padding):
    x, w, b = draw(*x_shape, seed=1), draw(c_out, x_shape[1], 3, 3, seed=2), draw(c_out, seed=3)
    geometry = conv_ops.Geometry((1, 1), checks.pair(padding, "padding", "test"), (1, 1), 1)
    winograd_path(monkeypatch)
    assert conv_backend.plan(x_shape, c_out, (3, 3), geometry, x, w).path == "winograd"
    oh, ow = out_size(x_shape, (3, 3), geometry)
    expected, got = conv_both_paths(monkeypatch, x, w, b, padding, draw(x_shape[0], c_out, oh, ow, seed=4))
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_winograd_float32_error_is_small(monkeypatch):
    # float32 rounding through the transforms: measured about 1e-6 of the output's scale
    x = draw(4, 16, 12, 12, seed=1, dtype=np.float32)
    w = draw(8, 16, 3, 3, seed=2, dtype=np.float32)
    b = draw(8, seed=3, dtype=np.float32)
    upstream = draw(4, 8, 12, 12, seed=4, dtype=np.float32)
    got = conv_both_paths(monkeypatch, x, w, b, 1, upstream)[1]
    exact = conv_both_paths(monkeypatch, *(a.astype(np.float64) for a in (x, w, b)), 1,
                            upstream.astype(np.float64))[0]
    for a, e in zip(got, exact):
        assert a.dtype == np.float32
        assert np.abs(a - e).max() <= 2e-5 * np.abs(e).max()


def test_winograd_passes_gradcheck_and_gradgradcheck(monkeypatch):
    winograd_path(monkeypatch)
    x, w, b = draw(1, 2, 5, 6, seed=1), draw(3, 2, 3, 3, seed=2), draw(3, seed=3)
    fn = lambda x, w, b: F.conv2d(x, w, b, padding=1)
    inputs = [mg.tensor(a, requires_grad=True) for a in (x, w, b)]
    assert mg.gradcheck(fn, inputs)
    assert mg.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("stride, dilation, groups, possible", [
    (1, 1, 1, True), (2, 1, 1, False), (1, 2, 1, False), (1, 1, 2, False),
])
def test_where_winograd_applies(stride, dilation, groups, possible):
    geometry = conv_ops.Geometry((stride, stride), (1, 1), (dilation, dilation), groups)
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    assert conv_backend.winograd_possible((3, 3), geometry, (f64, f64)) == possible
    assert not conv_backend.winograd_possible((3, 2), geometry, (f64, f64))
    # mixed float32 and float64: the columns, which promote before multiplying
    assert not conv_backend.winograd_possible((3, 3), geometry, (f64, f32))


def test_the_path_follows_dtype_backend_and_size(monkeypatch):
    from minigrad import backend

    monkeypatch.setattr(backend, "DEFAULT", "fast")
    geometry = conv_ops.Geometry((1, 1), (1, 1), (1, 1), 1)
    x, w = np.zeros((2, 16, 8, 8)), np.zeros((16, 16, 3, 3))
    assert conv_backend.plan(x.shape, 16, (3, 3), geometry, x.astype(np.float16), w).path == "reference"
    small = np.zeros((1, 1, 4, 4))
    assert conv_backend.plan(small.shape, 1, (3, 3), geometry, small, w).path == "numpy"
    with backend.use("reference"):
        assert conv_backend.plan(x.shape, 16, (3, 3), geometry, x, w).path == "reference"
    large = np.zeros((8, 16, 16, 16))
    assert conv_backend.plan(large.shape, 16, (3, 3), geometry, large, w).path in ("numpy", "columns", "winograd")


def test_winograd_transforms_are_adjoint_pairs():
    rng = np.random.default_rng(0)
    x_shape, out_size, padding = (2, 3, 7, 6), (7, 6), (1, 1)
    x = rng.standard_normal(x_shape)
    tiles = winograd.tiles_from_input(x, out_size, padding, np.empty(winograd.tiles_shape(2, 3, out_size)))
    d_tiles = rng.standard_normal(tiles.shape)
    dx = winograd.input_from_tiles(d_tiles, out_size, padding, np.full(x_shape, np.nan))
    np.testing.assert_allclose((tiles * d_tiles).sum(), (x * dx).sum())

    product = rng.standard_normal((36, tiles.shape[1], 4))
    out = winograd.output_from_tiles(product, None, np.full((2, 4) + out_size, np.nan))
    grad = rng.standard_normal(out.shape)
    grad_tiles = winograd.tiles_from_grad(grad, np.empty(product.shape))
    np.testing.assert_allclose((out * grad).sum(), (product * grad_tiles).sum())

    weight = rng.standard_normal((4, 3, 3, 3))
    filters = winograd.filter_transform(weight)
    d_filters = rng.standard_normal(filters.shape)
    d_weight = winograd.filter_grad_transform(d_filters)
    np.testing.assert_allclose((filters * d_filters).sum(), (weight * d_weight).sum())


def test_winograd_makes_a_nonfinite_input_tile_nan(monkeypatch):
    # Documented behaviour (minigrad/kernels/winograd.py): the transforms mix a tile's
    # values, so an inf turns its whole 4x4 output tile into NaN.
    winograd_path(monkeypatch)
    x = np.zeros((1, 2, 8, 8))
    x[0, 0, 5, 5] = np.inf
    with np.errstate(invalid="ignore"):  # inf - inf, as plain Python under NUMBA_DISABLE_JIT
        out = F.conv2d(mg.tensor(x), mg.tensor(np.ones((1, 2, 3, 3))), padding=1).data[0, 0]
    assert np.isnan(out[4:8, 4:8]).all() and np.isfinite(out[:4]).all() and np.isfinite(out[:, :4]).all()
