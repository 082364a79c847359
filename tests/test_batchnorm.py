"""Batch norm, composed and fused: one function, PyTorch's semantics, clear errors.

The central promise: ``impl="composed"`` (the definition, from primitive ops) and
``impl="fused"`` (one Numba node) agree on outputs, on the gradients with respect to
x, weight and bias, and on the running statistics, over many shapes and both dtypes.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

IMPLS = ("composed", "fused")
RTOL = {np.float64: 1e-10, np.float32: 1e-4}


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------
def draw_case(seed, shape, dtype, affine=True):
    """Random x, upstream gradient, weight, bias and running statistics as NumPy arrays."""
    rng = np.random.default_rng(seed)
    channels = shape[1]
    case = {
        "x": (rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)).astype(dtype),
        "dy": rng.standard_normal(shape).astype(dtype),
        "running_mean": rng.standard_normal(channels).astype(dtype),
        "running_var": rng.uniform(0.5, 2.0, channels).astype(dtype),
        "weight": None,
        "bias": None,
    }
    if affine:
        case["weight"] = (rng.uniform(0.5, 2.0, channels) * rng.choice([-1, 1], channels)).astype(dtype)
        case["bias"] = rng.standard_normal(channels).astype(dtype)
    return case


def run(case, impl, training, momentum=0.1, eps=1e-5, steps=1):
    """Forward (``steps`` times, for the running statistics) and backward; NumPy results."""
    x = mg.Tensor(case["x"].copy(), requires_grad=True)
    weight = None if case["weight"] is None else mg.Tensor(case["weight"].copy(), requires_grad=True)
    bias = None if case["bias"] is None else mg.Tensor(case["bias"].copy(), requires_grad=True)
    running_mean = mg.Tensor(case["running_mean"].copy())
    running_var = mg.Tensor(case["running_var"].copy())
    for step in range(steps):
        shifted = case["x"] * (1 + 0.5 * step) + step  # a different batch each step
        source = x if step == steps - 1 else mg.Tensor(shifted.astype(case["x"].dtype))
        y = F.batch_norm(source, running_mean, running_var, weight, bias,
                         training=training, momentum=momentum, eps=eps, impl=impl)
    y.backward(mg.Tensor(case["dy"]))
    out = {"y": y.numpy(), "dx": x.grad.numpy(), "running_mean": running_mean.numpy(),
           "running_var": running_var.numpy()}
    if weight is not None:
        out["dweight"] = weight.grad.numpy()
        out["dbias"] = bias.grad.numpy()
    return out


def assert_same(composed, fused, dtype, case):
    """Element-wise rtol, with an absolute floor at rtol times the quantity's natural scale."""
    rtol = RTOL[dtype]
    for name, expected in composed.items():
        actual = fused[name]
        assert actual.dtype == expected.dtype == dtype, (name, actual.dtype, expected.dtype)
        assert actual.shape == expected.shape, name
        scale = max(np.abs(expected).max(initial=0.0), 1.0)
        if name == "dx":  # dx ~ gamma * dy / std: tiny where its terms cancel
            x64 = case["x"].astype(np.float64)
            axes = (0,) + tuple(range(2, x64.ndim))
            gamma = 1.0 if case["weight"] is None else np.abs(case["weight"]).max()
            scale = max(scale, np.abs(case["dy"]).max() * gamma / np.sqrt(x64.var(axis=axes).min() + 1e-5))
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=name)


shapes = st.tuples(
    st.integers(2, 64),  # batch
    st.integers(1, 32),  # channels
    st.lists(st.integers(1, 8), min_size=0, max_size=2),  # (), (L,) or (H, W)
).map(lambda t: (t[0], t[1]) + tuple(t[2]))


# ---------------------------------------------------------------------------------
# composed and fused are one function
# ---------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float64, np.float32]),
       affine=st.booleans(), training=st.booleans())
def test_composed_and_fused_agree(shape, seed, dtype, affine, training):
    case = draw_case(seed, shape, dtype, affine)
    assert_same(run(case, "composed", training), run(case, "fused", training), dtype, case)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 1), (64, 32), (5, 3, 7), (4, 6, 3, 5), (16, 8, 8, 8)])
def test_running_stats_agree_after_several_steps(shape, dtype):
    case = draw_case(1, shape, dtype)
    composed = run(case, "composed", training=True, steps=4)
    fused = run(case, "fused", training=True, steps=4)
    assert_same(composed, fused, dtype, case)


@pytest.mark.parametrize("impl", IMPLS)
def test_float32_stays_float32(impl):
    case = draw_case(2, (4, 3, 2, 2), np.float32)
    out = run(case, impl, training=True)
    assert all(value.dtype == np.float32 for value in out.values())


@pytest.mark.parametrize("impl", IMPLS)
def test_non_contiguous_input(impl):
    base = np.random.default_rng(3).standard_normal((6, 5, 4, 8))
    view = base[:, :, :, ::2].transpose(0, 1, 3, 2)  # strided and transposed
    assert not view.flags.c_contiguous
    x = mg.Tensor(view, requires_grad=True)
    y = F.batch_norm(x, None, None, training=True, impl=impl)
    dense = np.ascontiguousarray(view)
    mean = dense.mean(axis=(0, 2, 3), keepdims=True)
    var = dense.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y.numpy(), (dense - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)
    # A broadcast (zero-stride) upstream gradient, as from ``.sum()``, is handled too.
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.0, atol=1e-10)


# ---------------------------------------------------------------------------------
# both against numeric derivatives
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(3, 2), (2, 2, 3)])
def test_gradcheck(impl, training, shape):
    case = draw_case(4, shape, np.float64)
    x = mg.Tensor(case["x"], requires_grad=True)
    weight = mg.Tensor(case["weight"], requires_grad=True)
    bias = mg.Tensor(case["bias"], requires_grad=True)
    running_mean = mg.Tensor(case["running_mean"])
    running_var = mg.Tensor(case["running_var"])

    def fn(x, weight, bias):
        return F.batch_norm(x, running_mean, running_var, weight, bias, training=training, impl=impl)

    assert mg.gradcheck(fn, [x, weight, bias])


@pytest.mark.parametrize("training", [True, False])
def test_gradgradcheck_composed(training):
    case = draw_case(5, (3, 2), np.float64)
    x = mg.Tensor(case["x"], requires_grad=True)
    weight = mg.Tensor(case["weight"], requires_grad=True)
    bias = mg.Tensor(case["bias"], requires_grad=True)
    running_mean, running_var = mg.Tensor(case["running_mean"]), mg.Tensor(case["running_var"])

    def fn(x, weight, bias):
        return F.batch_norm(x, running_mean, running_var, weight, bias, training=training,
                            impl="composed")

    assert mg.gradgradcheck(fn, [x, weight, bias])


def test_fused_is_once_differentiable():
    x = mg.Tensor(np.random.default_rng(6).standard_normal((4, 3)), requires_grad=True)
    y = F.batch_norm(x, None, None, training=True, impl="fused")
    (dx,) = mg.grad((y * y * y).sum(), x, create_graph=True)  # the first derivative works
    reference = F.batch_norm(x, None, None, training=True, impl="composed")
    (expected,) = mg.grad((reference * reference * reference).sum(), x)
    np.testing.assert_allclose(dx.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match=r"BatchNormFunction.*impl='composed'"):
        mg.grad(dx.sum(), x)


# ---------------------------------------------------------------------------------
# known values
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
def test_design_matrix_by_hand(impl):
    # Rows are examples, columns are units: each unit is normalized over the batch (axis 0).
    #   column 0: 1 3 5  mean 3  deviations -2  0  2  biased var  8/3  unbiased 4
    #   column 1: 2 4 9  mean 5  deviations -3 -1  4  biased var 26/3  unbiased 13
    #   column 2: 6 0 3  mean 3  deviations  3 -3  0  biased var   6   unbiased 9
    h = mg.Tensor(np.array([[1.0, 2.0, 6.0], [3.0, 4.0, 0.0], [5.0, 9.0, 3.0]]))
    running_mean, running_var = mg.zeros(3, dtype="float64"), mg.ones(3, dtype="float64")
    y = F.batch_norm(h, running_mean, running_var, training=True, momentum=1.0, eps=0.0, impl=impl)
    expected = np.array([
        [-2 / np.sqrt(8 / 3), -3 / np.sqrt(26 / 3), 3 / np.sqrt(6)],
        [0.0, -1 / np.sqrt(26 / 3), -3 / np.sqrt(6)],
        [2 / np.sqrt(8 / 3), 4 / np.sqrt(26 / 3), 0.0],
    ])
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-14)
    # momentum=1 keeps only this batch: its mean and its unbiased variance
    np.testing.assert_allclose(running_mean.numpy(), [3.0, 5.0, 3.0], rtol=1e-12)
    np.testing.assert_allclose(running_var.numpy(), [4.0, 13.0, 9.0], rtol=1e-12)
    # gamma and beta are per unit: column j becomes xhat * gamma[j] + beta[j]
    gamma, beta = mg.tensor([1.0, 2.0, 3.0], dtype="float64"), mg.tensor([0.0, 10.0, -1.0], dtype="float64")
    z = F.batch_norm(h, None, None, gamma, beta, training=True, eps=0.0, impl=impl)
    np.testing.assert_allclose(z.numpy(), expected * [1, 2, 3] + [0, 10, -1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("impl", IMPLS)
def test_nchw_statistics_are_per_channel_over_n_h_w(impl):
    x = np.random.default_rng(7).standard_normal((5, 3, 4, 6)) * [[[[1.0]], [[5.0]], [[0.1]]]] + 2.0
    running_mean, running_var = mg.zeros(3, dtype="float64"), mg.ones(3, dtype="float64")
    y = F.batch_norm(mg.Tensor(x), running_mean, running_var, training=True, momentum=1.0, impl=impl)
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    count = 5 * 4 * 6
    np.testing.assert_allclose(running_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(running_var.numpy(), var * count / (count - 1), rtol=1e-12)
    expected = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert np.allclose(y.numpy().mean(axis=(0, 2, 3)), 0, atol=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_eval_normalizes_with_running_stats_and_leaves_them(impl):
    x = mg.Tensor(np.random.default_rng(8).standard_normal((4, 2, 3)))
    running_mean, running_var = mg.tensor([1.0, -1.0], dtype="float64"), mg.tensor([4.0, 0.25], dtype="float64")
    y = F.batch_norm(x, running_mean, running_var, training=False, eps=0.0, impl=impl)
    expected = (x.numpy() - np.array([1.0, -1.0])[:, None]) / np.array([2.0, 0.5])[:, None]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    assert running_mean.tolist() == [1.0, -1.0] and running_var.tolist() == [4.0, 0.25]


@pytest.mark.parametrize("impl", IMPLS)
def test_large_mean_keeps_its_variance_in_float32(impl):
    # 1e4 plus unit noise: the naive E[x^2] - E[x]^2 in float32 loses all the variance.
    rng = np.random.default_rng(9)
    noise = rng.standard_normal((256, 2, 8, 8))
    x = (1e4 + noise).astype(np.float32)
    running_mean, running_var = mg.zeros(2), mg.ones(2)
    y = F.batch_norm(mg.Tensor(x), running_mean, running_var, training=True, momentum=1.0, impl=impl)
    exact = x.astype(np.float64).var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(running_var.numpy(), exact, rtol=1e-3)
    np.testing.assert_allclose(y.numpy().std(axis=(0, 2, 3), dtype=np.float64), 1.0, rtol=1e-3)


@pytest.mark.parametrize("impl", IMPLS)
def test_bias_before_batch_norm_gets_zero_gradient(impl):
    # Ioffe and Szegedy's point: with the mean subtracted inside the graph, x + b and x
    # normalize to the same y, so the gradient reaching b is zero: the layer ignores b.
    rng = np.random.default_rng(10)
    u = mg.Tensor(rng.standard_normal((16, 4, 3)))
    b = mg.Tensor(rng.standard_normal(4), requires_grad=True)
    x = u + b.reshape(1, 4, 1)
    weight = mg.Tensor(rng.standard_normal(4), requires_grad=True)
    y = F.batch_norm(x, None, None, weight, training=True, impl=impl)
    loss = (y * mg.Tensor(rng.standard_normal(y.shape))).sum()
    loss.backward()
    assert np.abs(b.grad.numpy()).max() < 1e-12 * np.abs(weight.grad.numpy()).max()
    # and indeed moving b changes nothing
    y_moved = F.batch_norm(u + (b.detach() + 5.0).reshape(1, 4, 1), None, None, weight.detach(),
                           training=True, impl=impl)
    np.testing.assert_allclose(y_moved.numpy(), y.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_inputs_are_not_mutated_and_grads_are_fresh(impl):
    case = draw_case(11, (6, 3, 2, 2), np.float64)
    x = mg.Tensor(case["x"].copy(), requires_grad=True)
    weight = mg.Tensor(case["weight"].copy(), requires_grad=True)
    bias = mg.Tensor(case["bias"].copy(), requires_grad=True)
    dy = mg.Tensor(case["dy"].copy())
    y = F.batch_norm(x, None, None, weight, bias, training=True, impl=impl)
    dx, dweight, dbias = mg.grad(y, [x, weight, bias], grad_outputs=dy)
    for tensor, original in ((x, "x"), (weight, "weight"), (bias, "bias"), (dy, "dy")):
        np.testing.assert_array_equal(tensor.numpy(), case[original])
    for g in (dx, dweight, dbias):
        for other in (x, weight, bias, dy, y):
            assert not np.shares_memory(g.numpy(), other.numpy())


# ---------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 2, 1, 1)])
def test_one_value_per_channel_in_training(impl, shape):
    x = mg.ones(*shape)
    running_mean, running_var = mg.zeros(shape[1]), mg.ones(shape[1])
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, "
                                         r"got input size \(1, "):
        F.batch_norm(x, running_mean, running_var, training=True, impl=impl)
    assert running_mean.tolist() == [0.0] * shape[1]  # nothing changed
    F.batch_norm(x, running_mean, running_var, training=False, impl=impl)  # eval is fine


def test_wrong_impl_lists_the_allowed_values():
    with pytest.raises(ValueError, match=r"impl must be one of \('fused', 'composed'\), got 'numba'"):
        F.batch_norm(mg.ones(2, 3), None, None, training=True, impl="numba")
    with pytest.raises(ValueError, match="impl must be one of"):
        nn.BatchNorm1d(3, impl="Fused")


@pytest.mark.parametrize("impl", IMPLS)
def test_shape_errors_name_the_shapes(impl):
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\).*\(4, 3\).*\(2,\)"):
        F.batch_norm(mg.ones(4, 3), None, None, mg.ones(2), training=True, impl=impl)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.batch_norm(mg.ones(4), None, None, training=True, impl=impl)
    with pytest.raises(ValueError, match=r"shape \(0, 3\) is empty"):
        F.batch_norm(mg.ones(0, 3), None, None, training=True, impl=impl)
    with pytest.raises(ValueError, match="needed when training=False"):
        F.batch_norm(mg.ones(4, 3), None, None, training=False, impl=impl)


# ---------------------------------------------------------------------------------
# the modules
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
def test_modules_state_and_modes(impl):
    bn = nn.BatchNorm2d(3, impl=impl)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype == np.int64
    # 4 * C numbers, 2 * C of them trained
    assert sum(p.numel() for p in bn.parameters()) == 6
    assert sum(b.numel() for b in bn.buffers() if b.dtype.kind == "f") == 6
    x = mg.Tensor(np.random.default_rng(12).standard_normal((4, 3, 2, 2)).astype(np.float32))
    bn(x)
    bn(x)
    assert int(bn.num_batches_tracked.item()) == 2
    frozen = bn.state_dict()
    bn.eval()
    y = bn(x)
    after = bn.state_dict()
    for name in frozen:
        np.testing.assert_array_equal(frozen[name], after[name])
    expected = (x.numpy() - frozen["running_mean"][:, None, None]) / np.sqrt(frozen["running_var"][:, None, None] + 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("impl", IMPLS)
def test_momentum_none_is_a_cumulative_average(impl):
    bn = nn.BatchNorm1d(2, momentum=None, impl=impl).double()
    rng = np.random.default_rng(13)
    batches = [rng.standard_normal((5, 2)) * (i + 1) + i for i in range(3)]
    for batch in batches:
        bn(mg.Tensor(batch))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([b.mean(axis=0) for b in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean([b.var(axis=0, ddof=1) for b in batches], axis=0), rtol=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_no_running_stats_uses_batch_stats_in_eval(impl):
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False, impl=impl)
    assert list(bn.state_dict()) == [] and list(bn.parameters()) == []
    x = mg.Tensor(np.random.default_rng(14).standard_normal((6, 3, 4)).astype(np.float32))
    bn.eval()
    y = bn(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, rtol=1e-3)


def test_modules_check_the_input_rank():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(mg.ones(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        nn.BatchNorm2d(3)(mg.ones(2, 3))
    with pytest.raises(ValueError, match="3 channels"):
        nn.BatchNorm2d(4)(mg.ones(2, 3, 4, 4))


def test_fused_module_trains_like_composed():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((8, 4, 3, 3)).astype(np.float64)
    results = []
    for impl in IMPLS:
        bn = nn.BatchNorm2d(4, impl=impl).double()
        for _ in range(3):
            out = bn(mg.Tensor(x))
            (out * out * out).sum().backward()
            with mg.no_grad():
                for p in bn.parameters():
                    p -= 0.1 * p.grad
            bn.zero_grad()
        results.append(bn.state_dict())
    for name in results[0]:
        np.testing.assert_allclose(results[1][name], results[0][name], rtol=1e-10, err_msg=name)


def run_fresh(code):
    """Run ``code`` in a fresh interpreter, without thread settings inherited from this one."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY", "MINIGRAD_BACKEND")}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return out.stdout.split()


def test_numba_is_imported_lazily_and_its_threads_do_not_spin():
    code = (
        "import os, sys, minigrad as mg, minigrad.nn.functional as F\n"
        "assert 'numba' not in sys.modules\n"
        "F.batch_norm(mg.randn(64, 8, 8, 8), None, None, training=True)\n"
        "import numba\n"
        "print(numba.threading_layer(), os.environ['OMP_WAIT_POLICY'])\n"
    )
    assert run_fresh(code) == ["omp", "PASSIVE"]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("which", ["weight only", "bias only", "x frozen"])
def test_partial_affine_and_frozen_inputs(which, training):
    case = draw_case(16, (5, 3, 4), np.float64)
    results = []
    for impl in IMPLS:
        x = mg.Tensor(case["x"], requires_grad=which != "x frozen")
        weight = None if which == "bias only" else mg.Tensor(case["weight"], requires_grad=True)
        bias = None if which == "weight only" else mg.Tensor(case["bias"], requires_grad=True)
        y = F.batch_norm(x, mg.Tensor(case["running_mean"].copy()), mg.Tensor(case["running_var"].copy()),
                         weight, bias, training=training, impl=impl)
        wanted = [t for t in (x, weight, bias) if t is not None and t.requires_grad]
        results.append([y] + list(mg.grad(y, wanted, grad_outputs=mg.Tensor(case["dy"]))))
    for composed, fused in zip(*results):
        np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-10, atol=1e-12)


def test_a_rejected_batch_leaves_the_module_unchanged():
    bn = nn.BatchNorm1d(3, momentum=None)
    before = {name: value.copy() for name, value in bn.state_dict().items()}
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(mg.ones(1, 3))
    for name, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    # and the cumulative average still counts from the first accepted batch
    first = mg.tensor(np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]))
    bn(first)
    assert int(bn.num_batches_tracked.item()) == 1
    np.testing.assert_allclose(bn.running_mean.data, [2.0, 3.0, 4.0])


def test_fused_batch_norm_refuses_an_input_changed_in_place_before_backward():
    x = mg.randn(4, 3, 2, 2)
    weight = mg.ones(3, requires_grad=True)
    y = F.batch_norm(x, None, None, weight, training=True, impl="fused")
    x += 1.0
    with pytest.raises(RuntimeError, match="changed in place"):
        y.sum().backward()
