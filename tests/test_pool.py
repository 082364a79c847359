"""max_pool2d and avg_pool2d: forward against nested loops, gradcheck over a grid,
ties, padding, dtypes, errors and the module wrappers."""

import itertools

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def reference_pool(x, kernel_size, stride=None, padding=0, mode="max"):
    """Pooling from the definition: max, or the sum divided by kH*kW, over each window
    (padding is -inf for max and zero for the mean)."""
    (kh, kw) = pair(kernel_size)
    (sh, sw) = pair(kernel_size if stride is None else stride)
    (ph, pw) = pair(padding)
    n, c, h, w = x.shape
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, c, oh, ow))
    for b, ch, r, s in itertools.product(range(n), range(c), range(oh), range(ow)):
        values = []
        for i, j in itertools.product(range(kh), range(kw)):
            row, col = r * sh - ph + i, s * sw - pw + j
            inside = 0 <= row < h and 0 <= col < w
            values.append(x[b, ch, row, col] if inside else (-np.inf if mode == "max" else 0.0))
        out[b, ch, r, s] = max(values) if mode == "max" else sum(values) / (kh * kw)
    return out


POOLS = {"max": F.max_pool2d, "avg": F.avg_pool2d}
CASES = [
    # (x shape, kernel_size, stride, padding)
    ((2, 3, 6, 6), 2, None, 0),
    ((1, 2, 7, 5), 3, 2, 1),
    ((1, 2, 7, 8), (2, 3), (1, 2), (1, 1)),
    ((2, 1, 5, 5), 3, 1, 1),
    ((1, 1, 9, 6), (3, 2), 3, (1, 0)),
    ((1, 2, 4, 4), 4, 1, 2),
    ((1, 1, 5, 7), 1, 2, 0),
]


@pytest.mark.parametrize("mode", sorted(POOLS))
@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", CASES)
def test_pool_forward_matches_definition(mode, x_shape, kernel_size, stride, padding):
    x = np.random.default_rng(0).standard_normal(x_shape)
    out = POOLS[mode](mg.tensor(x), kernel_size, stride, padding)
    expected = reference_pool(x, kernel_size, stride, padding, mode)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


GRID = list(itertools.product(["max", "avg"], [(2, 2), (3, 3), (3, 2)], [1, 2, 3], [0, 1]))


@pytest.mark.parametrize("mode, kernel_size, stride, padding", GRID)
def test_pool_gradcheck_grid(mode, kernel_size, stride, padding):
    # Distinct values keep max pooling away from ties, where it is not differentiable.
    x = np.random.default_rng(stride).permutation(2 * 7 * 6).reshape(1, 2, 7, 6) / 10.0
    x = mg.tensor(x, requires_grad=True)
    assert mg.gradcheck(lambda t: POOLS[mode](t, kernel_size, stride, padding), [x])


@pytest.mark.parametrize("mode", sorted(POOLS))
def test_pool_gradgradcheck(mode):
    x = np.random.default_rng(3).permutation(2 * 5 * 5).reshape(2, 1, 5, 5) / 10.0
    x = mg.tensor(x, requires_grad=True)
    assert mg.gradgradcheck(lambda t: POOLS[mode](t, 3, 2, 1), [x])


def test_max_pool_ties_go_to_the_first_and_overlaps_accumulate():
    x = mg.tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    # Four windows, each with all values equal: each picks its top-left element.
    expected = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0]], dtype=np.float64)
    np.testing.assert_array_equal(x.grad.data[0, 0], expected)
    y = mg.tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    F.max_pool2d(y, 3, stride=1, padding=1).sum().backward()
    assert y.grad.data.sum() == 9 and y.grad.data[0, 0, 0, 0] == 4


def test_max_pool_padding_is_never_chosen():
    x = mg.tensor(np.full((1, 1, 3, 3), -np.inf), requires_grad=True)
    out = F.max_pool2d(x, 2, stride=2, padding=1)
    assert np.all(out.data == -np.inf)
    out.backward(np.ones(out.shape))
    # Every window holds one real element, which takes the gradient.
    assert x.grad.data.sum() == 4
    negative = mg.tensor(-np.arange(1.0, 10.0).reshape(1, 1, 3, 3))
    assert F.max_pool2d(negative, 3, 1, 1).data.max() == -1.0


def test_max_pool_propagates_nan():
    x = np.zeros((1, 1, 2, 2))
    x[0, 0, 1, 0] = np.nan
    assert np.isnan(F.max_pool2d(mg.tensor(x), 2).item())


def test_avg_pool_counts_padding():
    out = F.avg_pool2d(mg.ones(1, 1, 3, 3), 3, stride=1, padding=1)
    np.testing.assert_allclose(
        out.data[0, 0], np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9.0, rtol=1e-6
    )


@pytest.mark.parametrize("mode", sorted(POOLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_keeps_dtype(mode, dtype):
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 5)).astype(dtype), requires_grad=True)
    out = POOLS[mode](x, 3, 2, 1)
    assert out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == dtype and x.grad.shape == x.shape


@pytest.mark.parametrize("mode", sorted(POOLS))
def test_pool_unbatched_input(mode):
    x = np.random.default_rng(0).standard_normal((2, 6, 6))
    out = POOLS[mode](mg.tensor(x), 2)
    np.testing.assert_allclose(out.data, reference_pool(x[None], 2, mode=mode)[0])


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pool_errors(pool):
    with pytest.raises(ValueError, match="half of the kernel size"):
        pool(mg.zeros(1, 1, 6, 6), 3, padding=2)
    with pytest.raises(ValueError, match=r"larger than the padded input.*\(1, 1, 2, 2\)"):
        pool(mg.zeros(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="stride"):
        pool(mg.zeros(1, 1, 6, 6), 2, stride=0)
    with pytest.raises(ValueError, match="kernel_size"):
        pool(mg.zeros(1, 1, 6, 6), 0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        pool(mg.zeros(6, 6), 2)


def test_pool_modules():
    x = mg.randn(2, 3, 8, 6)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, F.max_pool2d(x, 2).data)
    np.testing.assert_array_equal(
        nn.AvgPool2d(3, stride=2, padding=1)(x).data, F.avg_pool2d(x, 3, 2, 1).data
    )
    assert nn.MaxPool2d((2, 3)).stride == (2, 3)
    assert list(nn.MaxPool2d(2).parameters()) == []
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"


def test_pool_integer_input():
    x = mg.tensor(np.arange(-8, 8).reshape(1, 1, 4, 4))
    assert F.max_pool2d(x, 3, 1, 1).data.tolist() == [[[[-3, -2, -1, -1], [1, 2, 3, 3],
                                                       [5, 6, 7, 7], [5, 6, 7, 7]]]]
    assert F.max_pool2d(x, 2).dtype == np.int64
