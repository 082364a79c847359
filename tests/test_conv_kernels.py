"""The Numba kernels of conv2d (minigrad/kernels/conv.py), against the NumPy code of
minigrad/ops/conv.py, and conv2d forced onto them on small shapes.

Small shapes only: CI also runs this file with ``NUMBA_DISABLE_JIT=1``, so the
kernels' index arithmetic is covered as plain Python.
"""

import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.kernels import conv as kernels
from minigrad.ops import conv as conv_ops

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


def numpy_path(monkeypatch):
    """Make the NumPy code of ops/conv.py take every shape, in its strided layout."""
    monkeypatch.setattr(conv_ops, "KERNEL_MIN_SIZE", 1 << 62)
    monkeypatch.setattr(conv_ops, "FLAT_MAX_WASTE", -1.0)


def numba_path(monkeypatch):
    monkeypatch.setattr(conv_ops, "KERNEL_MIN_SIZE", 0)


def draw(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def position_major(channel_major, shape, kernel, groups=1):
    """NumPy's channel-major columns (groups, (c', i, j), N*OH*OW) in the kernels' layout:
    (N*OH*OW, (g, i, j, c'))."""
    c = shape[1]
    kh, kw = kernel
    blocks = channel_major.reshape(groups, c // groups, kh, kw, -1)
    return np.ascontiguousarray(blocks.transpose(4, 0, 2, 3, 1).reshape(blocks.shape[-1], -1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", GEOMETRIES, ids=ids)
@pytest.mark.parametrize("groups", [1, "depthwise"])
def test_im2col_and_col2im_equal_numpy(monkeypatch, case, dtype, groups):
    numpy_path(monkeypatch)
    shape, kernel, stride, padding, dilation = case
    groups = shape[1] if groups == "depthwise" else groups
    geometry = conv_ops.Geometry(stride, padding, dilation, groups)
    x = draw(*shape, seed=1, dtype=dtype)
    (oh, ow), _ = conv_ops._layout(shape, kernel, geometry)
    expected = position_major(conv_ops.im2col(x, kernel, geometry), shape, kernel, groups)
    columns = kernels.im2col(x, kernel, geometry, (oh, ow))
    assert columns.dtype == dtype and columns.flags.c_contiguous
    np.testing.assert_array_equal(columns, expected)
    # every element is written: recycled buffers full of garbage give the same result
    dirty = np.full_like(columns, np.nan)
    padded = np.full(kernels.padded_shape(shape, padding), np.nan, dtype)
    np.testing.assert_array_equal(kernels.im2col(x, kernel, geometry, (oh, ow), out=dirty, padded=padded),
                                  expected)

    d_columns = draw(*columns.shape, seed=2, dtype=dtype)
    c, kh, kw = shape[1], *kernel
    channel_major = d_columns.reshape(-1, groups, kh, kw, c // groups).transpose(1, 4, 2, 3, 0)
    expected = conv_ops.col2im(np.ascontiguousarray(channel_major).reshape(groups, -1, columns.shape[0]),
                               shape, kernel, geometry)
    dx = kernels.col2im(d_columns, shape, kernel, geometry, (oh, ow),
                        out=np.full(shape, np.nan, dtype))
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, expected, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)


@pytest.mark.parametrize("case", GEOMETRIES, ids=ids)
def test_col2im_is_the_adjoint_of_im2col(case):
    shape, kernel, stride, padding, dilation = case
    geometry = conv_ops.Geometry(stride, padding, dilation, 1)
    (oh, ow), _ = conv_ops._layout(shape, kernel, geometry)
    a = draw(*shape, seed=3)
    columns = kernels.im2col(a, kernel, geometry, (oh, ow))
    b = draw(*columns.shape, seed=4)
    np.testing.assert_allclose((columns * b).sum(), (a * kernels.col2im(b, shape, kernel, geometry, (oh, ow))).sum())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layout_changes(dtype):
    n, c_out, oh, ow = 3, 4, 2, 5
    product = draw(n * oh * ow, c_out, seed=5, dtype=dtype)
    bias = draw(c_out, seed=6, dtype=dtype)
    out = kernels.output_from_product(product, bias, n, (oh, ow))
    expected = product.reshape(n, oh, ow, c_out).transpose(0, 3, 1, 2) + bias.reshape(1, -1, 1, 1)
    assert out.dtype == dtype and out.shape == (n, c_out, oh, ow)
    np.testing.assert_array_equal(out, expected)
    no_bias = kernels.output_from_product(product, None, n, (oh, ow))
    np.testing.assert_array_equal(no_bias, product.reshape(n, oh, ow, c_out).transpose(0, 3, 1, 2))

    grad = draw(n, c_out, oh, ow, seed=7, dtype=dtype)
    positions = kernels.grad_positions(grad[:, :, ::-1])  # a view: read through its strides
    np.testing.assert_array_equal(positions, grad[:, :, ::-1].transpose(0, 2, 3, 1).reshape(-1, c_out))


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


def test_kept_columns_survive_a_second_forward(monkeypatch):
    # The column matrix kept for the weight gradient is recycled only once nothing refers
    # to it: two forwards of one shape, then the two backwards.
    numba_path(monkeypatch)
    conv_ops._recycler.clear()
    x1, x2 = draw(2, 3, 6, 6, seed=1), draw(2, 3, 6, 6, seed=2)
    w = mg.tensor(draw(4, 3, 3, 3, seed=3), requires_grad=True)
    grad = draw(2, 4, 6, 6, seed=4)
    first = F.conv2d(mg.tensor(x1), w, padding=1)
    second = F.conv2d(mg.tensor(x2), w, padding=1)
    second.backward(grad)
    from_second = w.grad.data.copy()
    w.grad = None
    first.backward(grad)
    numpy_path(monkeypatch)
    for x, kept in ((x1, w.grad.data), (x2, from_second)):
        wt = mg.tensor(w.data, requires_grad=True)
        F.conv2d(mg.tensor(x), wt, padding=1).backward(grad)
        np.testing.assert_allclose(kept, wt.grad.data, rtol=1e-12, atol=1e-12)
    # and freed ones are used again: two column matrices and two outputs, still
    numba_path(monkeypatch)
    del first, second
    F.conv2d(mg.tensor(x1), w, padding=1)
    shapes = sorted(array.shape for array in conv_ops._recycler.arrays)
    assert shapes == [(2, 4, 6, 6)] * 2 + [(72, 27)] * 2


def test_numba_is_imported_only_for_a_large_convolution():
    code = (
        "import sys, numpy as np, minigrad as mg, minigrad.nn.functional as F\n"
        "from minigrad.ops import conv\n"
        "F.conv2d(mg.ones(2, 1, 8, 8), mg.ones(4, 1, 3, 3), padding=1)\n"
        "assert 'numba' not in sys.modules\n"
        "conv.KERNEL_MIN_SIZE = 0\n"
        "F.conv2d(mg.ones(2, 1, 8, 8), mg.ones(4, 1, 3, 3), padding=1)\n"
        "from minigrad.kernels import threads\n"
        "print(threads.CHOICE)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip(), "the kernels package configured the threads"


def test_other_dtypes_take_numpy(monkeypatch):
    # float16 has no kernels: on a "kernels" shape its convolution goes through NumPy,
    # and the float32 gradient's backward must not mix the kernels' layout into it.
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
