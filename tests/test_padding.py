"""F.pad (asymmetric, four modes), and conv2d / max_pool2d with padding="same", "valid" and
4-tuples (left, right, top, bottom), in F and in the layers."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def f64(shape, seed=0, requires_grad=True):
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


@pytest.mark.parametrize("mode,numpy_mode", [("constant", "constant"), ("reflect", "reflect"),
                                             ("replicate", "edge"), ("circular", "wrap")])
def test_pad_matches_numpy(mode, numpy_mode):
    x = f64((2, 3, 4, 5))
    out = F.pad(x, (1, 2, 3, 0), mode=mode)
    expected = np.pad(x.data, ((0, 0), (0, 0), (3, 0), (1, 2)), mode=numpy_mode)
    np.testing.assert_array_equal(out.data, expected)
    assert mg.gradcheck(lambda t: F.pad(t, (1, 2, 2, 0), mode=mode) * mg.tensor(
        np.arange(2 * 3 * 6 * 8.0).reshape(2, 3, 6, 8)), [x])


def test_pad_value_cropping_and_checks():
    x = f64((2, 3))
    assert F.pad(x, (1, 1), value=7.0).data[:, 0].tolist() == [7.0, 7.0]
    np.testing.assert_array_equal(F.pad(x, (-1, 1)).data, np.pad(x.data[:, 1:], ((0, 0), (0, 1))))
    np.testing.assert_array_equal(F.pad(x, (0, 0, 1, 0)).data, np.pad(x.data, ((1, 0), (0, 0))))
    assert F.pad(x, (0, 0)) is x
    assert mg.gradcheck(lambda t: F.pad(t, (-1, 2, 1, -1)), [x])
    with pytest.raises(ValueError, match="pad: pad must hold an even number of ints"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"pad: \(1, 1, 1, 1, 1, 1\) pads 3 axes, but the input has shape \(2, 3\)"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(ValueError, match="pad: reflect padding of \\(3, 0\\) needs amounts of at most 2"):
        F.pad(x, (3, 0), mode="reflect")
    assert F.pad(mg.ones(2, dtype=mg.float32), (1, 1)).dtype == np.float32


@pytest.mark.parametrize("kernel,dilation", [((3, 3), 1), ((2, 4), 1), ((3, 2), 2)])
def test_conv2d_same_keeps_the_size(kernel, dilation):
    x, w = f64((1, 2, 5, 6)), f64((3, 2) + kernel, seed=1)
    out = F.conv2d(x, w, padding="same", dilation=dilation)
    assert out.shape == (1, 3, 5, 6)
    # the odd pixel goes after: the same as padding by hand
    spans = [dilation * (k - 1) for k in kernel]
    by_hand = F.conv2d(F.pad(x, (spans[1] // 2, spans[1] - spans[1] // 2, spans[0] // 2, spans[0] - spans[0] // 2)),
                       w, dilation=dilation)
    np.testing.assert_allclose(out.data, by_hand.data, rtol=1e-12)
    small_x, small_w = f64((1, 1, 3, 4)), f64((1, 1) + kernel, seed=2)
    assert mg.gradcheck(lambda a, b: F.conv2d(a, b, padding="same", dilation=dilation), [small_x, small_w])


def test_conv2d_valid_and_four_tuples():
    x, w = f64((1, 2, 5, 6)), f64((3, 2, 3, 3), seed=1)
    np.testing.assert_array_equal(F.conv2d(x, w, padding="valid").data, F.conv2d(x, w).data)
    out = F.conv2d(x, w, padding=(2, 0, 1, 1), stride=2)
    np.testing.assert_allclose(out.data, F.conv2d(F.pad(x, (2, 0, 1, 1)), w, stride=2).data, rtol=1e-12)
    np.testing.assert_allclose(F.conv2d(x, w, padding=(1, 1, 2, 2)).data, F.conv2d(x, w, padding=(2, 1)).data)
    assert mg.gradcheck(lambda a: F.conv2d(a, w, padding=(0, 1, 1, 0)), [f64((1, 2, 3, 3))])
    with pytest.raises(ValueError, match="conv2d: padding='same' is not supported for strided convolutions"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="conv2d: padding must be an int, a pair, a 4-tuple, 'valid' or 'same'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match="conv2d: a 4-tuple padding must hold ints >= 0"):
        F.conv2d(x, w, padding=(1, -1, 0, 0))


@pytest.mark.parametrize("size,kernel,stride", [(5, 2, None), (6, 3, 2), (7, 3, 1), (4, 2, 3)])
def test_max_pool2d_same_gives_ceil_size_over_stride(size, kernel, stride):
    x = f64((1, 2, size, size))
    out = F.max_pool2d(x, kernel, stride, padding="same")
    step = kernel if stride is None else stride
    assert out.shape[2:] == (-(-size // step),) * 2
    total = max((-(-size // step) - 1) * step + kernel - size, 0)
    by_hand = F.max_pool2d(F.pad(x, (total // 2, total - total // 2) * 2, value=-np.inf), kernel, stride)
    np.testing.assert_array_equal(out.data, by_hand.data)
    assert mg.gradcheck(lambda t: F.max_pool2d(t, kernel, stride, padding="same"), [x])


def test_max_pool2d_four_tuple_pads_with_minus_infinity():
    x = mg.tensor(-np.ones((1, 1, 2, 2)))
    out = F.max_pool2d(x, 2, stride=1, padding=(1, 0, 0, 0))
    assert out.tolist() == [[[[-1.0, -1.0]]]]  # never the padding
    with pytest.raises(ValueError, match="max_pool2d: uneven padding needs a float input"):
        F.max_pool2d(mg.ones(1, 1, 2, 2, dtype=mg.int64), 2, padding=(1, 0, 0, 0))


def test_layers_take_the_new_paddings():
    x = mg.randn(2, 3, 7, 7)
    same = nn.Conv2d(3, 4, 4, padding="same")
    assert same(x).shape == (2, 4, 7, 7) and "padding='same'" in repr(same)
    assert nn.Conv2d(3, 4, 3, padding=(1, 0, 1, 0))(x).shape == (2, 4, 6, 6)
    assert nn.Conv2d(3, 4, 3, padding="valid")(x).shape == (2, 4, 5, 5)
    assert nn.MaxPool2d(2, padding="same")(x).shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match="Conv2d: padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv2d: padding must be"):
        nn.Conv2d(3, 4, 3, padding="full")
