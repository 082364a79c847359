"""conv2d and nn.Conv2d: forward against a nested-loop reference, gradcheck over a grid of
strides, paddings, dilations and groups, second derivatives, dtypes and errors."""

import itertools
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def reference_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d straight from the definition: for every output element, sum the products
    of the weight with the input values its kernel offsets land on (zero outside)."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, c_in, h, w = x.shape
    c_out, c_group, kh, kw = weight.shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out_per_group = c_out // groups
    out = np.zeros((n, c_out, oh, ow), dtype=np.float64)
    for b in range(n):
        for o in range(c_out):
            group = o // out_per_group
            for r in range(oh):
                for s in range(ow):
                    total = 0.0 if bias is None else float(bias[o])
                    for c in range(c_group):
                        for i in range(kh):
                            for j in range(kw):
                                row = r * sh - ph + i * dh
                                col = s * sw - pw + j * dw
                                if 0 <= row < h and 0 <= col < w:
                                    total += weight[o, c, i, j] * x[b, group * c_group + c, row, col]
                    out[b, o, r, s] = total
    return out


def draw(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---- forward -------------------------------------------------------------------------
FORWARD_CASES = [
    # (x shape, weight shape, stride, padding, dilation, groups)
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0, 1, 1),
    ((2, 3, 7, 6), (4, 3, 3, 2), 1, 1, 1, 1),
    ((1, 4, 9, 7), (6, 2, 3, 3), 2, 1, 1, 2),
    ((2, 4, 8, 8), (4, 1, 3, 3), 1, 1, 1, 4),  # depthwise
    ((1, 2, 9, 10), (3, 2, 2, 3), (3, 2), (2, 1), (2, 1), 1),
    ((3, 1, 6, 5), (2, 1, 1, 1), 1, 0, 1, 1),  # 1x1
    ((1, 2, 5, 5), (2, 2, 5, 5), 1, 0, 1, 1),  # kernel as large as the input
    ((1, 6, 7, 5), (9, 2, 2, 2), (1, 3), 2, 2, 3),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", FORWARD_CASES)
def test_conv2d_forward_matches_definition(x_shape, w_shape, stride, padding, dilation, groups):
    x, w, b = draw(*x_shape, seed=1), draw(*w_shape, seed=2), draw(w_shape[0], seed=3)
    expected = reference_conv2d(x, w, b, stride, padding, dilation, groups)
    out = F.conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride, padding, dilation, groups)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    no_bias = F.conv2d(mg.tensor(x), mg.tensor(w), None, stride, padding, dilation, groups)
    np.testing.assert_allclose(no_bias.data, expected - b.reshape(1, -1, 1, 1), atol=1e-12)


def test_conv2d_unbatched_input():
    x, w = draw(3, 6, 5, seed=1), draw(2, 3, 3, 3, seed=2)
    out = F.conv2d(mg.tensor(x), mg.tensor(w), padding=1)
    assert out.shape == (2, 6, 5)
    np.testing.assert_allclose(out.data, reference_conv2d(x[None], w, padding=1)[0], atol=1e-12)


def test_conv2d_does_not_change_its_inputs():
    x, w, b = draw(1, 2, 5, 5, seed=1), draw(3, 2, 3, 3, seed=2), draw(3, seed=3)
    copies = [a.copy() for a in (x, w, b)]
    tensors = [mg.tensor(a, requires_grad=True) for a in (x, w, b)]
    F.conv2d(*tensors, padding=1).sum().backward()
    for original, copy in zip((x, w, b), copies):
        np.testing.assert_array_equal(original, copy)


# ---- gradients ------------------------------------------------------------------------
# The grid of the issue: stride 1-3, padding 0-2, dilation 1 and 2, groups 1, 2 and
# depthwise; non-square kernels and inputs, batch 1, odd sizes. Tensors are tiny:
# gradcheck costs one backward per output element and two forwards per input element.
GROUPS = {  # groups -> (C_in, C_out, kernel)
    1: (2, 2, (3, 2)),
    2: (4, 2, (2, 3)),
    "depthwise": (3, 3, (3, 3)),
}
GRID = list(itertools.product([1, 2, 3], [0, 1, 2], [1, 2], sorted(GROUPS, key=str)))


@pytest.mark.parametrize("stride, padding, dilation, groups", GRID)
def test_conv2d_gradcheck_grid(stride, padding, dilation, groups):
    c_in, c_out, (kh, kw) = GROUPS[groups]
    groups = c_in if groups == "depthwise" else groups
    x = mg.tensor(draw(1, c_in, 7, 6, seed=stride), requires_grad=True)
    w = mg.tensor(draw(c_out, c_in // groups, kh, kw, seed=10 + padding), requires_grad=True)
    b = mg.tensor(draw(c_out, seed=20 + dilation), requires_grad=True)
    assert mg.gradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), [x, w, b]
    )


@pytest.mark.parametrize(
    "stride, padding, dilation", [((2, 1), (1, 2), (2, 1)), ((1, 3), (0, 1), 1), (2, 2, 2)]
)
def test_conv2d_gradcheck_asymmetric_pairs(stride, padding, dilation):
    x = mg.tensor(draw(2, 2, 6, 7, seed=4), requires_grad=True)
    w = mg.tensor(draw(2, 2, 2, 3, seed=5), requires_grad=True)
    assert mg.gradcheck(lambda x, w: F.conv2d(x, w, None, stride, padding, dilation), [x, w])


GRADGRAD_CASES = [
    # (x shape, weight shape, stride, padding, dilation, groups)
    ((1, 2, 4, 4), (2, 2, 2, 2), 1, 0, 1, 1),
    ((1, 2, 5, 4), (2, 1, 3, 2), 2, 1, 1, 2),
    ((2, 1, 5, 5), (1, 1, 2, 2), 1, 1, 2, 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", GRADGRAD_CASES)
def test_conv2d_gradgradcheck(x_shape, w_shape, stride, padding, dilation, groups):
    x = mg.tensor(draw(*x_shape, seed=6), requires_grad=True)
    w = mg.tensor(draw(*w_shape, seed=7), requires_grad=True)
    b = mg.tensor(draw(w_shape[0], seed=8), requires_grad=True)
    assert mg.gradgradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), [x, w, b]
    )


def test_conv2d_third_derivative():
    # Each gradient op's backward is made of the other two, so the loop never ends.
    x = mg.tensor(draw(1, 1, 4, 4, seed=1), requires_grad=True)
    w = mg.tensor(draw(1, 1, 2, 2, seed=2), requires_grad=True)

    def second(x, w):
        (gw,) = mg.grad((F.conv2d(x, w) ** 2).sum(), w, create_graph=True)
        (gx,) = mg.grad((gw * gw).sum(), x, create_graph=True)
        return gx

    assert mg.gradcheck(second, [x, w])


def test_conv2d_gradient_wrt_input_only_and_weight_only():
    x = mg.tensor(draw(1, 2, 5, 5, seed=1), requires_grad=True)
    w = mg.tensor(draw(3, 2, 3, 3, seed=2))
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad.shape == x.shape and w.grad is None
    x2 = mg.tensor(draw(1, 2, 5, 5, seed=1))
    w2 = mg.tensor(draw(3, 2, 3, 3, seed=2), requires_grad=True)
    F.conv2d(x2, w2, padding=1).sum().backward()
    assert w2.grad.shape == w2.shape and x2.grad is None


def test_conv2d_gradients_do_not_share_memory():
    x = mg.tensor(draw(1, 2, 4, 4, seed=1), requires_grad=True)
    w = mg.tensor(draw(2, 2, 1, 1, seed=2), requires_grad=True)
    out = F.conv2d(x, w)
    grad = draw(*out.shape, seed=3)
    out.backward(grad)
    for g in (x.grad.data, w.grad.data):
        assert not np.shares_memory(g, grad)
        assert not np.shares_memory(g, x.data) and not np.shares_memory(g, w.data)


# ---- dtypes ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_keeps_dtype(dtype):
    x = mg.tensor(draw(2, 4, 6, 5, seed=1, dtype=dtype), requires_grad=True)
    w = mg.tensor(draw(4, 2, 3, 3, seed=2, dtype=dtype), requires_grad=True)
    b = mg.tensor(draw(4, seed=3, dtype=dtype), requires_grad=True)
    out = F.conv2d(x, w, b, stride=2, padding=1, groups=2)
    assert out.dtype == dtype
    out.sum().backward()
    for t in (x, w, b):
        assert t.grad.dtype == dtype and t.grad.shape == t.shape
    expected = reference_conv2d(x.data.astype(np.float64), w.data.astype(np.float64),
                                b.data.astype(np.float64), 2, 1, 1, 2)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)


# ---- errors ---------------------------------------------------------------------------
def test_conv2d_channel_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(1, 2, 5, 5\).*\(4, 3, 3, 3\)"):
        F.conv2d(mg.zeros(1, 2, 5, 5), mg.zeros(4, 3, 3, 3))
    with pytest.raises(ValueError, match="groups=2"):
        F.conv2d(mg.zeros(1, 6, 5, 5), mg.zeros(4, 2, 3, 3), groups=2)


def test_conv2d_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"larger than the padded input \(4, 4\).*\(1, 1, 2, 2\)"):
        F.conv2d(mg.zeros(1, 1, 2, 2), mg.zeros(1, 1, 5, 5), padding=1)
    with pytest.raises(ValueError, match="dilation"):
        F.conv2d(mg.zeros(1, 1, 4, 4), mg.zeros(1, 1, 3, 3), dilation=2)
    assert F.conv2d(mg.zeros(1, 1, 3, 3), mg.zeros(1, 1, 5, 5), padding=1).shape == (1, 1, 1, 1)


def test_conv2d_groups_must_divide_channels():
    with pytest.raises(ValueError, match=r"groups=2 does not divide.*\(3, 2, 3, 3\)"):
        F.conv2d(mg.zeros(1, 4, 5, 5), mg.zeros(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="groups"):
        F.conv2d(mg.zeros(1, 4, 5, 5), mg.zeros(4, 4, 3, 3), groups=0)
    with pytest.raises(ValueError, match="groups=2 must divide"):
        nn.Conv2d(3, 4, 3, groups=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stride": 0}, "stride"),
        ({"padding": -1}, "padding"),
        ({"dilation": 0}, "dilation"),
        ({"stride": (1, 2, 3)}, "pair"),
        ({"padding": 1.5}, "pair"),
    ],
)
def test_conv2d_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        F.conv2d(mg.zeros(1, 1, 5, 5), mg.zeros(1, 1, 3, 3), **kwargs)


def test_conv2d_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        F.conv2d(mg.zeros(5, 5), mg.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="weight"):
        F.conv2d(mg.zeros(1, 1, 5, 5), mg.zeros(1, 3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        F.conv2d(mg.zeros(1, 1, 5, 5), mg.zeros(2, 1, 3, 3), mg.zeros(3))


# ---- nn.Conv2d ------------------------------------------------------------------------
def test_conv2d_module_shapes_and_names():
    layer = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=1, groups=2)
    assert layer.weight.shape == (6, 2, 3, 2) and layer.bias.shape == (6,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(layer.state_dict()) == ["weight", "bias"]
    out = layer(mg.randn(2, 4, 7, 6))
    assert out.shape == (2, 6, 4, 4) and out.dtype == np.float32
    no_bias = nn.Conv2d(1, 2, 3, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]


def test_conv2d_module_default_init_is_pytorchs():
    mg.manual_seed(0)
    layer = nn.Conv2d(8, 16, 3, groups=2)
    bound = 1 / math.sqrt(4 * 3 * 3)  # fan_in = in_channels / groups * kH * kW
    for tensor in (layer.weight, layer.bias):
        assert np.abs(tensor.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound  # 576 draws fill the range
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.1 * bound
    mg.manual_seed(0)
    again = nn.Conv2d(8, 16, 3, groups=2)
    np.testing.assert_array_equal(again.weight.data, layer.weight.data)


def test_conv2d_module_trains():
    mg.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 2, 3), nn.AvgPool2d(2), nn.Flatten())
    x = mg.randn(4, 1, 8, 8)
    target = mg.randn(4, 2)
    losses = []
    for _ in range(20):
        loss = F.mse_loss(model(x), target)
        model.zero_grad()
        loss.backward()
        with mg.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    assert "Conv2d(1, 4, kernel_size=(3, 3)" in repr(model)


# ---- the two column layouts and the workspace ------------------------------------------
@pytest.mark.parametrize("flat", [True, False], ids=["flat", "strided"])
@pytest.mark.parametrize(
    "x_shape, w_shape, padding, dilation, groups",
    [((2, 2, 6, 5), (3, 2, 3, 3), 1, 1, 1), ((1, 4, 7, 7), (4, 2, 2, 3), (2, 0), (1, 2), 2)],
)
def test_conv2d_both_column_layouts(monkeypatch, flat, x_shape, w_shape, padding, dilation, groups):
    # Stride 1 may use the flat layout (rows of outputs span the padded width); force
    # each layout and check forward, first and second derivatives.
    from minigrad.backend import conv as conv_backend
    from minigrad.ops import conv as conv_ops

    from minigrad import backend

    monkeypatch.setattr(backend, "DEFAULT", "fast")  # the layouts of the fast NumPy path
    monkeypatch.setattr(conv_backend, "FLAT_MAX_WASTE", 100.0 if flat else -1.0)
    x, w = draw(*x_shape, seed=1), draw(*w_shape, seed=2)
    geometry = conv_ops.Geometry((1, 1), (padding,) * 2 if isinstance(padding, int) else padding,
                                 (dilation,) * 2 if isinstance(dilation, int) else dilation, groups)
    width = conv_backend.plan(x_shape, w_shape[0], w_shape[2:], geometry, x, w).width
    assert (width == x_shape[3] + 2 * geometry.padding[1]) == flat
    out = F.conv2d(mg.tensor(x), mg.tensor(w), None, 1, padding, dilation, groups)
    expected = reference_conv2d(x, w, None, 1, padding, dilation, groups)
    np.testing.assert_allclose(out.data, expected, atol=1e-12)
    xt, wt = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    fn = lambda x, w: F.conv2d(x, w, None, 1, padding, dilation, groups)
    assert mg.gradcheck(fn, [xt, wt])
    if x_shape[0] == 1:
        assert mg.gradgradcheck(fn, [xt, wt])


def test_conv2d_results_never_alias_the_workspace():
    # Big enough for the workspace; results must survive later calls of every shape.
    x1, x2 = draw(4, 8, 32, 32, seed=1), draw(4, 8, 32, 32, seed=2)
    w = mg.tensor(draw(8, 8, 3, 3, seed=3), requires_grad=True)
    first = F.conv2d(mg.tensor(x1, requires_grad=True), w, padding=1)
    kept = first.data.copy()
    gx = mg.grad(first.sum(), first._ctx.inputs[0])[0]
    kept_gx = gx.data.copy()
    x_big = mg.tensor(x2, requires_grad=True)
    second = F.conv2d(x_big, w, padding=1)
    (second * second).sum().backward()
    np.testing.assert_array_equal(first.data, kept)
    np.testing.assert_array_equal(gx.data, kept_gx)
    for array in (second.data, x_big.grad.data, w.grad.data):
        assert all(not np.shares_memory(array, scratch) for scratch in conv_workspace_arrays())


def conv_workspace_arrays():
    from minigrad.runtime import memory

    return memory.held(outliving=False)


def reference_conv2d_grads(x, w, grad, padding):
    """Gradients of <conv2d(x, w), grad> (stride 1, no groups) from the definition, one
    kernel offset at a time: dw correlates x with grad, dx scatters grad through w."""
    _, _, kh, kw = w.shape
    (ph, pw), (oh, ow) = padding, grad.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dw = np.zeros_like(w)
    dxp = np.zeros_like(xp)
    for i in range(kh):
        for j in range(kw):
            dw[:, :, i, j] = np.einsum("nchw,nohw->oc", xp[:, :, i:i + oh, j:j + ow], grad)
            dxp[:, :, i:i + oh, j:j + ow] += np.einsum("nohw,oc->nchw", grad, w[:, :, i, j])
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]], dw


def test_conv2d_same_layout_shape_different_kernels():
    # Kernels (3, 3) and (3, 5) with padding 1 give gradient layouts of one shape but
    # different valid columns: the workspace's ignored columns must be zeroed each time.
    x = draw(8, 8, 40, 40, seed=1)
    for kernel in ((3, 3), (3, 5), (3, 3)):
        w = draw(16, 8, *kernel, seed=kernel[1])
        xt, wt = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
        out = F.conv2d(xt, wt, padding=1)
        grad = draw(*out.shape, seed=4)
        out.backward(grad)
        dx, dw = reference_conv2d_grads(x, w, grad, (1, 1))
        np.testing.assert_allclose(xt.grad.data, dx, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(wt.grad.data, dw, rtol=1e-10, atol=1e-10)
    from minigrad.runtime import memory

    from minigrad import backend

    if not memory.debugging() and backend.current() == "fast":
        assert conv_workspace_arrays(), "the shapes above are meant to use the workspace"


@pytest.mark.parametrize("padding", [0, 1])
def test_conv2d_non_contiguous_input(padding):
    # Views (a transpose, a reversed axis) are read through their own strides.
    base = draw(5, 6, 3, 2, seed=1)
    x = base.transpose(3, 2, 1, 0)[:, :, ::-1, :]  # (2, 3, 6, 5), negative strides
    w = draw(4, 3, 3, 2, seed=2)
    out = F.conv2d(mg.tensor(x), mg.tensor(w), padding=padding)
    expected = reference_conv2d(np.ascontiguousarray(x), w, padding=padding)
    np.testing.assert_allclose(out.data, expected, atol=1e-12)
    pooled = F.max_pool2d(mg.tensor(x), 2, 1, padding)
    np.testing.assert_array_equal(pooled.data, F.max_pool2d(mg.tensor(x.copy()), 2, 1, padding).data)
