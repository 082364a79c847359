"""Reliability of the engine: no wrong gradient without an error, one dtype rule,
reductions that agree with PyTorch and NumPy at the edges, and clear errors for bad data."""

import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim


# ---- one version counter for a tensor, its views and its detached aliases ----------------

def _linear_loss(seed=0):
    mg.manual_seed(seed)
    layer = nn.Linear(3, 2)
    x = mg.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    return layer, x, (layer(x) ** 2).sum()


def test_an_optimizer_step_between_forward_and_backward_raises():
    layer, x, loss = _linear_loss()
    for p in layer.parameters():
        p.grad = mg.ones_like(p)
    optim.SGD(layer.parameters(), lr=0.5).step()  # Linear saved weight.T, a view of the weight
    with pytest.raises(RuntimeError, match="MatMul: an input .* changed in place"):
        loss.backward()
    assert x.grad is None


def test_load_state_dict_between_forward_and_backward_raises():
    layer, x, loss = _linear_loss()
    other = nn.Linear(3, 2)
    layer.load_state_dict(other.state_dict())
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


def test_forward_backward_step_loop_still_trains():
    layer, x, _ = _linear_loss()
    opt = optim.SGD(layer.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = (layer(x) ** 2).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]


def _through_detach(x, h):
    d = x.detach()
    d += 5


def _through_reshape(x, h):
    with mg.no_grad():
        v = h.reshape(-1)
        v += 5


def _through_getitem(x, h):
    with mg.no_grad():
        v = h[0:2]
        v *= 10


def _through_transpose(x, h):
    with mg.no_grad():
        v = h.T
        v -= 1


def _through_view_of_detach(x, h):
    v = x.detach().reshape(3, 1)[1:]
    v += 1


@pytest.mark.parametrize("change", [_through_detach, _through_reshape, _through_getitem,
                                    _through_transpose, _through_view_of_detach])
def test_in_place_change_through_any_alias_raises(change):
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 2  # a non-leaf that Mul below saves
    loss = (h * h).sum() + (x * x).sum()
    change(x, h)
    with pytest.raises(RuntimeError, match="Mul: an input .* changed in place"):
        loss.backward()
    assert x.grad is None


def test_views_share_the_version_counter_both_ways():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    aliases = [x.detach(), x.reshape(4), x.T, x[0], x.transpose(1, 0)[1:], x.reshape(4).detach()]
    for alias in aliases:
        before = x._version
        alias += 1
        assert x._version == before + 1
        for other in aliases:
            assert other._version == x._version
    x += 1
    assert all(alias._version == x._version for alias in aliases)


def test_a_copy_does_not_share_the_version_counter():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 2
    loss = (h * h).sum()
    with mg.no_grad():
        picked = h[[0, 2]]  # integer-array indexing copies
        picked += 100
    loss.backward()
    assert x.grad.tolist() == [8.0, 16.0, 24.0]


def test_an_element_or_a_reshaped_copy_does_not_share_the_version_counter():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    for copy in [x[0, 1], x.T.reshape(4), x[:, [0, 1]]]:
        copy += 1
    assert x._version == 0 and x.tolist() == [[1.0, 2.0], [3.0, 4.0]]


# ---- one dtype rule, PyTorch's ----------------------------------------------------------

def _operands():
    return {
        "f32": mg.ones(3), "f64": mg.ones(3, dtype=np.float64), "f16": mg.ones(3, dtype=np.float16),
        "i64": mg.tensor([1, 2, 3]), "i32": mg.tensor(np.array([1, 2, 3], dtype=np.int32)),
        "b": mg.tensor([True, False, True]),
        "z_f64": mg.tensor(np.array(2.0)), "z_i64": mg.tensor(2), "z_f32": mg.tensor(2.0),
    }


# (expression, the dtype PyTorch 2.x gives)
PROMOTIONS = [
    ("i64 * f32", "float32"), ("f32 * i64", "float32"), ("f32 + i64", "float32"), ("i64 ** f32", "float32"),
    ("i64 * 1.5", "float32"), ("1.5 * i64", "float32"), ("i64 - 0.5", "float32"), ("i64 ** 0.5", "float32"),
    ("f32 * 2", "float32"), ("f32 * 2.5", "float32"), ("2.5 / f32", "float32"), ("f32 ** 2", "float32"),
    ("f32 * f64", "float64"), ("f32 * z_f64", "float32"), ("i64 * z_f64", "float64"),
    ("z_i64 * 1.5", "float32"), ("z_i64 * z_f64", "float64"), ("z_f32 * z_f64", "float64"),
    ("f16 * 2.5", "float16"), ("f16 * f32", "float32"), ("f16 * z_f64", "float16"),
    ("i32 + 1", "int32"), ("i32 * i64", "int64"), ("i32 * z_i64", "int32"),
    ("b + 1", "int64"), ("b + 1.5", "float32"), ("b * z_i64", "int64"),
    ("i64 / i64", "float32"), ("i32 / 2", "float32"), ("i64 ** 2", "int64"),
    ("f32 * np.float64(2.0)", "float32"), ("i64 * np.float64(2.0)", "float32"),
    ("i64.exp()", "float32"), ("i64.sqrt()", "float32"), ("i64.log()", "float32"),
    ("i64.tanh()", "float32"), ("i64.sigmoid()", "float32"),
    ("mg.maximum(i64, f32)", "float32"), ("mg.maximum(f32, f64)", "float64"),
    ("mg.where(b, i64, f32)", "float32"), ("mg.where(b, i64, 1.5)", "float32"),
    ("mg.where(b, f32, 1.5)", "float32"),
    ("i64.reshape(1, 3) @ f32.reshape(3, 1)", "float32"),
    ("mg.concatenate([i64, f32])", "float32"), ("mg.stack([f32, i64])", "float32"),
    ("mg.concatenate([f32, f64])", "float64"),
]


@pytest.mark.parametrize("expression, expected", PROMOTIONS, ids=[e for e, _ in PROMOTIONS])
def test_dtype_promotion_follows_pytorch(expression, expected):
    result = eval(expression, {"mg": mg, "np": np, **_operands()})
    assert result.dtype == np.dtype(expected)


def test_dtype_promotion_agrees_with_pytorch_itself():
    torch = pytest.importorskip("torch")
    ours = _operands()
    theirs = {name: torch.from_numpy(np.array(t.data)) for name, t in ours.items()}
    checked = 0
    for expression, _ in PROMOTIONS:
        torch_expression = (expression.replace("mg.maximum", "torch.maximum").replace("mg.where", "torch.where")
                            .replace("mg.concatenate", "torch.cat").replace("mg.stack", "torch.stack"))
        try:
            expected = eval(torch_expression, {"torch": torch, "np": np, **theirs}).dtype
        except RuntimeError:  # PyTorch's matmul refuses mixed dtypes; minigrad promotes
            continue
        assert str(expected) == f"torch.{eval(expression, {'mg': mg, 'np': np, **ours}).dtype}", expression
        checked += 1
    assert checked >= len(PROMOTIONS) - 1


def test_a_gradient_through_a_promotion_has_its_inputs_dtype():
    x = mg.ones(3, requires_grad=True)
    w = mg.ones(3, dtype=np.float64, requires_grad=True)
    (x * w).sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64
    y = mg.ones(3, requires_grad=True)
    (y * mg.tensor([1, 2, 3])).sum().backward()
    assert y.grad.dtype == np.float32 and y.grad.tolist() == [1.0, 2.0, 3.0]


def test_layers_and_losses_keep_float32_for_integer_input():
    layer = nn.Linear(3, 2)
    assert layer(mg.tensor([[1, 2, 3]])).dtype == np.float32
    assert F.cross_entropy(mg.tensor([[1, 2, 3]]), [1]).dtype == np.float32
    assert F.softmax(mg.tensor([[1, 2, 3]])).dtype == np.float32
    assert mg.tensor([1, 2, 3]).mean().dtype == np.float32


# ---- reductions: float32 accumulation, std of a constant, empty axes, AxisError ---------------

def test_var_of_a_large_float32_constant_is_zero():
    x = mg.tensor(np.full(1000, 3.3e7, dtype=np.float32))
    assert x.mean().item() == np.float32(3.3e7)
    assert x.var().item() == 0.0 and x.std().item() == 0.0
    assert x.var().dtype == np.float32
    y = mg.tensor(np.full((7, 300), 0.1, dtype=np.float32))
    assert np.all(y.var(axis=1).numpy() == 0) and np.all(y.mean(axis=0).numpy() == np.float32(0.1))


def test_mean_and_var_agree_with_float64_references():
    data = np.random.default_rng(0).standard_normal((50, 40)).astype(np.float32) * 100 + 1e4
    x = mg.tensor(data)
    reference = data.astype(np.float64)
    np.testing.assert_allclose(x.mean(axis=0).numpy(), reference.mean(axis=0), rtol=1e-7)
    np.testing.assert_allclose(x.var(axis=1, ddof=1).numpy(), reference.var(axis=1, ddof=1), rtol=1e-5)


@pytest.mark.parametrize("ddof", [0, 1])
def test_std_of_a_constant_has_zero_gradients(ddof):
    x = mg.tensor(np.full((4, 3), 2.5), requires_grad=True)
    x.std(axis=0, ddof=ddof).sum().backward()
    assert np.all(x.grad.numpy() == 0)
    x.grad = None
    x.std().backward()
    assert np.all(x.grad.numpy() == 0)


def test_std_of_a_constant_matches_pytorch():
    torch = pytest.importorskip("torch")
    data = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    x = mg.tensor(data, requires_grad=True)
    x.std(axis=1, ddof=1).sum().backward()
    t = torch.tensor(data, requires_grad=True)
    t.std(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_std_gradient_still_checks_away_from_zero():
    x = mg.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    assert mg.gradcheck(lambda t: t.std(axis=1, ddof=1), [x])
    assert mg.gradgradcheck(lambda t: t.std(axis=0), [x])
    assert mg.gradcheck(lambda t: t.mean(axis=(0, 1)), [x])


@pytest.mark.parametrize("op, args, numpy_op", [
    ("mean", {}, np.mean), ("var", {}, np.var), ("std", {}, np.std),
], ids=["mean", "var", "std"])
def test_reductions_over_an_empty_axis_give_nan_with_numpys_warning(op, args, numpy_op):
    data = np.zeros((0, 3), dtype=np.float32)
    with pytest.warns(RuntimeWarning):
        expected = numpy_op(data, axis=0)
    with pytest.warns(RuntimeWarning):
        result = getattr(mg.tensor(data), op)(axis=0)
    assert result.shape == expected.shape == (3,) and np.all(np.isnan(result.numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: every row has 3 values
        assert getattr(mg.tensor(data), op)(axis=1).shape == numpy_op(data, axis=1).shape == (0,)


def test_ddof_at_least_the_count_gives_inf_or_nan_with_numpys_warning():
    data = np.array([[1.0, 2.0], [3.0, 3.0]])
    for ddof in (2, 3):
        with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
            expected = np.var(data, axis=1, ddof=ddof)
        with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
            result = mg.tensor(data).var(axis=1, ddof=ddof)
        np.testing.assert_array_equal(result.numpy(), expected)
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        assert np.isnan(mg.tensor([4.0]).std(ddof=1).item())


@pytest.mark.parametrize("call", [
    lambda t: t.sum(axis=2), lambda t: t.mean(axis=-3), lambda t: t.max(axis=5),
    lambda t: t.var(axis=(0, 2)), lambda t: t.min(axis=2), lambda t: t.std(axis=2),
    lambda t: t.squeeze(axis=3), lambda t: t.unsqueeze(4), lambda t: t.flatten(2),
    lambda t: t.transpose(0, 2), lambda t: F.softmax(t, axis=2), lambda t: F.log_softmax(t, axis=-3),
    lambda t: mg.concatenate([t, t], axis=2), lambda t: mg.stack([t, t], axis=4),
    lambda t: mg.tensor(1.0).sum(axis=1),
], ids=["sum", "mean", "max", "var", "min", "std", "squeeze", "unsqueeze", "flatten", "transpose",
        "softmax", "log_softmax", "concatenate", "stack", "sum-0d"])
def test_an_axis_out_of_range_is_numpys_axis_error_naming_the_op(call):
    t = mg.ones(2, 3)
    with pytest.raises(np.exceptions.AxisError, match=r"^[a-z_]+: .*axis") as info:
        call(t)
    assert isinstance(info.value, IndexError) and isinstance(info.value, ValueError)


def test_max_over_a_non_empty_axis_of_an_empty_tensor_is_empty():
    x = mg.zeros(0, 3)
    assert x.max(axis=1).shape == (0,) and x.min(axis=1, keepdims=True).shape == (0, 1)
    with pytest.raises(ValueError, match="max: .*axis 0 .*size 0"):
        x.max(axis=0)
    with pytest.raises(ValueError, match="min: "):
        x.min()


def test_softmax_over_an_empty_axis_is_empty():
    for x in (mg.zeros(2, 0, requires_grad=True), mg.zeros(0, 3, requires_grad=True)):
        for fn in (F.softmax, F.log_softmax):
            y = fn(x, axis=-1)
            assert y.shape == x.shape and y.dtype == np.float32
            y.sum().backward()
            assert x.grad.shape == x.shape


# ---- degenerate layer sizes -----------------------------------------------------------------

def test_layers_with_zero_sizes_initialize_empty_with_pytorchs_warning():
    with pytest.warns(UserWarning, match="zero-element"):
        conv = nn.Conv2d(3, 4, 0)
    assert conv.weight.shape == (4, 3, 0, 0) and conv.bias.shape == (4,)
    with pytest.warns(UserWarning, match="zero-element"):
        linear = nn.Linear(0, 2)
    assert linear.weight.shape == (2, 0) and linear.bias.tolist() == [0.0, 0.0]
    assert linear(mg.zeros(5, 0)).tolist() == [[0.0, 0.0]] * 5


@pytest.mark.parametrize("make, words", [
    (lambda: nn.Conv2d(3, 4, -1), ["Conv2d", "kernel_size", "-1"]),
    (lambda: nn.Conv2d(-3, 4, 3), ["Conv2d", "in_channels", "-3"]),
    (lambda: nn.Conv2d(3, -4, 3), ["Conv2d", "out_channels", "-4"]),
    (lambda: nn.Linear(-1, 2), ["Linear", "in_features", "-1"]),
    (lambda: nn.Linear(2, -5), ["Linear", "out_features", "-5"]),
    (lambda: nn.BatchNorm1d(-2), ["BatchNorm1d", "num_features", "-2"]),
], ids=["conv-kernel", "conv-in", "conv-out", "linear-in", "linear-out", "batchnorm"])
def test_negative_layer_sizes_name_the_layer_and_the_argument(make, words):
    with pytest.raises(ValueError) as info:
        make()
    for word in words:
        assert word in str(info.value)


# ---- what a tensor may hold ---------------------------------------------------------------

@pytest.mark.parametrize("data, kind", [
    ([1, "a"], "<U"), (["x", "y"], "<U"), ([1, object()], "object"), (np.array([1 + 2j]), "complex"),
    (np.array([b"ab"]), "S"), (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64"),
], ids=["mixed-str", "str", "object", "complex", "bytes", "datetime"])
def test_non_numeric_data_is_a_type_error_at_construction_naming_the_dtype(data, kind):
    with pytest.raises(TypeError, match=f"tensor: .*{kind}.*bool, integers"):
        mg.tensor(data)


def test_bool_int_and_float_data_are_tensors():
    for dtype in (bool, np.int8, np.int32, np.int64, np.uint8, np.float16, np.float32, np.float64):
        assert mg.tensor(np.zeros(2, dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("call, name", [
    (lambda: mg.tensor([True, False]) - mg.tensor([True, True]), "Sub"),
    (lambda: -mg.tensor([True, False]), "Neg"),
    (lambda: mg.tensor([True]) ** mg.tensor([-1]), "Pow"),
], ids=["bool-sub", "bool-neg", "int-negative-power"])
def test_errors_from_numpy_in_an_op_name_the_op(call, name):
    with pytest.raises((TypeError, ValueError), match=f"^{name}: "):
        call()


def test_an_in_place_update_that_cannot_be_cast_names_the_operator_and_changes_nothing():
    x = mg.tensor([1, 2, 3])
    with pytest.raises(TypeError, match="__iadd__: .*int64.*float32"):
        x += 0.5
    assert x.tolist() == [1, 2, 3] and x._version == 0


# ---- mg.tensor copies, mg.from_numpy shares ---------------------------------------------------

def test_tensor_copies_an_array_and_from_numpy_shares_it():
    array = np.array([1.0, 2.0], dtype=np.float32)
    copied, shared = mg.tensor(array), mg.from_numpy(array)
    array[0] = 100.0
    assert copied.tolist() == [1.0, 2.0] and shared.tolist() == [100.0, 2.0]
    assert shared.dtype == np.float32 and mg.Tensor(array).data is not array
    source = mg.tensor([1.0, 2.0])
    again = mg.tensor(source)
    source += 1
    assert again.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="from_numpy"):
        mg.from_numpy([1.0, 2.0])


def test_parameters_and_optimizers_still_update_their_own_arrays():
    layer = nn.Linear(2, 1)
    weight = layer.weight
    (layer(mg.ones(1, 2)).sum()).backward()
    before = weight.data.copy()
    optim.SGD(layer.parameters(), lr=1.0).step()
    assert layer.weight is weight and not np.array_equal(weight.data, before)
    assert np.array_equal(layer.state_dict()["weight"], weight.data)


# ---- load_state_dict checks every value before changing anything -----------------------------

@pytest.mark.parametrize("state", [None, [1, 2], "weights", 3], ids=["None", "list", "str", "int"])
def test_load_state_dict_of_a_non_mapping_is_pytorchs_type_error(state):
    layer = nn.Linear(2, 1)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like, got"):
        layer.load_state_dict(state)


def _bn_state(**changes):
    bn = nn.BatchNorm1d(2)
    state = bn.state_dict()
    state.update(changes)
    return bn, state


@pytest.mark.parametrize("changes, words", [
    ({"num_batches_tracked": 2 ** 70}, ["num_batches_tracked", "int64"]),
    ({"running_mean": np.array([1e40, 0.0])}, ["running_mean", "float32", "overflow"]),
    ({"weight": np.array([1 + 1j, 2.0])}, ["weight", "complex"]),
    ({"running_var": np.array(["a", "b"])}, ["running_var"]),
    ({"num_batches_tracked": np.float64(2.5)}, ["num_batches_tracked", "int64"]),
], ids=["int-overflow", "float-overflow", "complex", "strings", "fraction-into-int"])
def test_load_state_dict_rejects_values_that_would_change_and_leaves_state_unchanged(changes, words):
    bn, state = _bn_state(**changes)
    before = {name: value.copy() for name, value in bn.state_dict().items()}
    with pytest.raises(ValueError) as info:
        bn.load_state_dict(state)
    for word in words:
        assert word in str(info.value)
    for name, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_load_state_dict_still_casts_values_that_fit():
    bn, state = _bn_state(running_mean=np.array([0.5, 1.5]), num_batches_tracked=np.float64(3.0))
    bn.load_state_dict(state)
    assert bn.running_mean.dtype == np.float32 and bn.running_mean.tolist() == [0.5, 1.5]
    assert int(bn.num_batches_tracked.item()) == 3


# ---- batch_norm's running statistics ------------------------------------------------------------

@pytest.mark.parametrize("impl", ["fused", "composed"])
def test_batch_norm_updates_numpy_running_statistics_in_place(impl):
    x = mg.tensor(np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32))
    mean, var = np.zeros(3, dtype=np.float32), np.ones(3, dtype=np.float32)
    expected_mean, expected_var = mg.zeros(3), mg.ones(3)
    F.batch_norm(x, expected_mean, expected_var, training=True, impl=impl)
    F.batch_norm(x, mean, var, training=True, impl=impl)
    np.testing.assert_allclose(mean, expected_mean.numpy())
    np.testing.assert_allclose(var, expected_var.numpy())
    out = F.batch_norm(x, mean, var, training=False, impl=impl)
    assert out.shape == (8, 3)


@pytest.mark.parametrize("impl", ["fused", "composed"])
def test_batch_norm_rejects_integer_running_statistics(impl):
    x = mg.randn(8, 3)
    mean, var = mg.tensor([0, 0, 0]), mg.tensor([1, 1, 1])
    with pytest.raises(TypeError, match="batch_norm: running_mean .*int64"):
        F.batch_norm(x, mean, var, training=True, impl=impl)
    assert mean.tolist() == [0, 0, 0] and var.tolist() == [1, 1, 1]
    bn = nn.BatchNorm1d(3, impl=impl)
    bn.running_var = mg.tensor([1, 1, 1])
    with pytest.raises(TypeError, match="running_var .*int64"):
        bn(x)
    assert int(bn.num_batches_tracked.item()) == 0


def test_conv2d_of_an_integer_image_takes_the_weight_dtype():
    x = mg.tensor(np.arange(2 * 1 * 5 * 5).reshape(2, 1, 5, 5))
    conv = nn.Conv2d(1, 3, 3)
    y = conv(x)
    assert x.dtype == np.int64 and y.dtype == np.float32
    expected = conv(mg.tensor(x.data.astype(np.float32)))
    np.testing.assert_allclose(y.data, expected.data, rtol=1e-6)
    y.sum().backward()
    assert conv.weight.grad.dtype == np.float32
