"""Tensor rows of API.md that the op table does not pin down: dtype rules, reflected operands,
comparisons, constructors, attributes, ties, indexing and matmul shapes with known values."""

import numpy as np
import pytest

import minigrad as mg


def f64(values, requires_grad=True):
    return mg.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


# ---- dtype rules ------------------------------------------------------------------------
def test_python_data_becomes_float32_or_int64():
    assert mg.tensor(1.5).dtype == np.float32
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor([[1, 2.5]]).dtype == np.float32
    assert mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor(3).dtype == np.int64
    assert mg.Tensor([1.0]).dtype == np.float32


def test_numpy_array_keeps_its_dtype_and_is_copied():
    for dtype in (np.float64, np.float32, np.int32, np.int64):
        array = np.arange(3).astype(dtype)
        t = mg.tensor(array)
        assert t.dtype == dtype
    array = np.ones(3)
    assert not np.shares_memory(mg.Tensor(array).data, array)  # mg.from_numpy shares
    assert mg.from_numpy(array).data is array
    assert mg.tensor([1, 2], dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("scalar", [2, 2.5, np.float64(2.5), np.float32(2.5), np.int64(2)],
                         ids=["int", "float", "np.float64", "np.float32", "np.int64"])
def test_float32_stays_float32_with_scalars_on_either_side(scalar):
    x = mg.ones(3, requires_grad=True)
    results = [x + scalar, scalar + x, x - scalar, scalar - x, x * scalar, scalar * x,
               x / scalar, scalar / x, x ** scalar, abs(scalar) ** x, mg.maximum(x, scalar),
               mg.where(x > 0, x, scalar)]
    for r in results:
        assert isinstance(r, mg.Tensor)
        assert r.dtype == np.float32
    sum(results).sum().backward()
    assert x.grad.dtype == np.float32


def test_int_tensors_stay_int64():
    a = mg.tensor([1, 2, 3])
    assert (a + 1).dtype == np.int64
    assert (a * a).dtype == np.int64
    assert (2 * a).tolist() == [2, 4, 6]


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError):
        mg.tensor([1, 2], requires_grad=True)


# ---- reflected operands -----------------------------------------------------------------
def test_reflected_operands_give_tensors_with_gradients():
    x = f64([1.0, 2.0, 4.0])
    array = np.array([2.0, 3.0, 5.0])
    cases = {
        "array+": (array + x, array + x.data, np.ones(3)),
        "array-": (array - x, array - x.data, -np.ones(3)),
        "array*": (array * x, array * x.data, array),
        "array/": (array / x, array / x.data, -array / x.data ** 2),
        "array**": (array ** x, array ** x.data, array ** x.data * np.log(array)),
        "npscalar-": (np.float64(3.0) - x, 3.0 - x.data, -np.ones(3)),
        "npscalar/": (np.float64(3.0) / x, 3.0 / x.data, -3.0 / x.data ** 2),
        "int**": (2 ** x, 2.0 ** x.data, 2.0 ** x.data * np.log(2.0)),
    }
    for name, (result, expected, derivative) in cases.items():
        assert isinstance(result, mg.Tensor), name
        np.testing.assert_allclose(result.data, expected, err_msg=name)
        (g,) = mg.grad(result.sum(), x)
        np.testing.assert_allclose(g.data, derivative, err_msg=name)


def test_numpy_array_on_the_left_broadcasts():
    x = f64([[1.0], [2.0]])
    result = np.array([1.0, 2.0, 3.0]) * x
    assert isinstance(result, mg.Tensor)
    assert result.shape == (2, 3)
    result.sum().backward()
    np.testing.assert_allclose(x.grad.data, [[6.0], [6.0]])


def test_reflected_matmul_with_numpy_array():
    x = f64([[1.0, 2.0], [3.0, 4.0]])
    result = np.eye(2) * 2 @ x
    assert isinstance(result, mg.Tensor)
    np.testing.assert_allclose(result.data, 2 * x.data)


# ---- comparisons ----------------------------------------------------------------------------
def test_comparisons_are_boolean_constants():
    x = f64([1.0, 2.0, 3.0])
    y = f64([3.0, 2.0, 1.0])
    expectations = {
        "<": (x < y, [True, False, False]),
        "<=": (x <= y, [True, True, False]),
        ">": (x > y, [False, False, True]),
        ">=": (x >= 2, [False, True, True]),
        "==": (x == y, [False, True, False]),
        "scalar<": (x < 2.5, [True, True, False]),
        "array>": (x > np.array([0.0, 5.0, 2.0]), [True, False, True]),
    }
    for name, (result, expected) in expectations.items():
        assert isinstance(result, mg.Tensor), name
        assert result.dtype == np.bool_, name
        assert not result.requires_grad, name
        assert result.grad_fn is None, name
        assert result.tolist() == expected, name


def test_comparisons_broadcast():
    x = mg.tensor([[1.0], [3.0]])
    assert (x > mg.tensor([0.0, 2.0, 4.0])).tolist() == [[True, False, False], [True, True, False]]


# ---- constructors -------------------------------------------------------------------------
def test_zeros_ones_and_like():
    assert mg.zeros(2, 3).shape == (2, 3)
    assert mg.zeros((2, 3)).shape == (2, 3)
    assert mg.zeros(2).dtype == np.float32
    assert mg.ones(2, dtype=np.float64).dtype == np.float64
    assert mg.ones(2, 2).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    z = mg.zeros(3, requires_grad=True)
    assert z.requires_grad and z.is_leaf
    like = mg.ones_like(mg.zeros(2, 4, dtype=np.float64))
    assert like.shape == (2, 4) and like.dtype == np.float64 and like.data.sum() == 8
    assert mg.zeros_like(mg.ones(3)).tolist() == [0.0, 0.0, 0.0]
    assert mg.zeros_like(mg.ones(3), requires_grad=True).requires_grad


def test_randn_and_rand():
    r = mg.randn(200, 50)
    assert r.shape == (200, 50) and r.dtype == np.float32
    assert abs(r.data.mean()) < 0.05 and 0.95 < r.data.std() < 1.05
    u = mg.rand(1000, dtype=np.float64, requires_grad=True)
    assert u.dtype == np.float64 and u.requires_grad
    assert u.data.min() >= 0.0 and u.data.max() < 1.0
    assert mg.randn((2, 3)).shape == (2, 3)


def test_manual_seed_reproduces_every_draw():
    mg.manual_seed(123)
    first = (mg.randn(4).data, mg.rand(3).data, mg.nn.Linear(3, 2).weight.data.copy(),
             mg.nn.functional.dropout(mg.ones(20)).data)
    mg.manual_seed(123)
    second = (mg.randn(4).data, mg.rand(3).data, mg.nn.Linear(3, 2).weight.data.copy(),
              mg.nn.functional.dropout(mg.ones(20)).data)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    mg.manual_seed(124)
    assert not np.array_equal(mg.randn(4).data, first[0])


def test_arange_and_eye():
    a = mg.arange(5)
    assert a.dtype == np.int64 and a.tolist() == [0, 1, 2, 3, 4]
    assert mg.arange(2, 8, 3).tolist() == [2, 5]
    f = mg.arange(0.0, 1.0, 0.25)
    assert f.dtype == np.float32 and f.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert mg.arange(3, dtype=np.float64).dtype == np.float64
    e = mg.eye(3)
    assert e.dtype == np.float32
    np.testing.assert_array_equal(e.data, np.eye(3))
    assert mg.eye(2, dtype=np.float64).dtype == np.float64


# ---- attributes -----------------------------------------------------------------------------
def test_attributes():
    x = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert isinstance(x.data, np.ndarray)
    assert x.grad is None
    assert x.shape == (2, 3) and x.ndim == 2 and x.numel() == 6
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(x.numpy(), x.data)
    assert mg.tensor([[2.5]]).item() == 2.5
    assert isinstance(mg.tensor(2.5).item(), float)
    with pytest.raises(ValueError):
        x.item()
    assert mg.tensor(1.0).ndim == 0 and mg.tensor(1.0).numel() == 1


def test_detach_shares_data_and_cuts_the_graph():
    x = f64([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.data, y.data)
    (d * x).sum().backward()  # the detached factor is a constant
    np.testing.assert_allclose(x.grad.data, [3.0, 6.0])


# ---- reductions: ties and axes ------------------------------------------------------------
def test_max_and_min_split_ties_equally():
    x = f64([1.0, 3.0, 3.0, 2.0])
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.5, 0.5, 0.0])
    y = f64([[1.0, 1.0, 1.0], [0.0, 5.0, 0.0]])
    y.min(axis=1).sum().backward()
    np.testing.assert_allclose(y.grad.data, [[1 / 3, 1 / 3, 1 / 3], [0.5, 0.0, 0.5]])
    z = f64([[2.0, 2.0], [2.0, 1.0]])
    z.max(axis=(0, 1), keepdims=True).backward(mg.tensor(np.array([[6.0]])))
    np.testing.assert_allclose(z.grad.data, [[2.0, 2.0], [2.0, 0.0]])


def test_maximum_splits_ties_equally():
    a = f64([1.0, 2.0, 3.0])
    b = f64([1.0, 5.0, 0.0])
    mg.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(b.grad.data, [0.5, 1.0, 0.0])
    x = f64([2.0, -1.0])
    mg.maximum(x, x).sum().backward()  # both halves land on x
    np.testing.assert_allclose(x.grad.data, [1.0, 1.0])


def test_reduction_axes_and_keepdims_shapes():
    x = mg.ones(2, 3, 4)
    assert x.sum().shape == ()
    assert x.sum(axis=1).shape == (2, 4)
    assert x.sum(axis=-1, keepdims=True).shape == (2, 3, 1)
    assert x.mean(axis=(0, -1)).shape == (3,)
    assert x.max(axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert x.min(axis=None, keepdims=True).shape == (1, 1, 1)
    assert x.var(axis=(1, 2)).shape == (2,)
    assert x.std(axis=0, keepdims=True).shape == (1, 3, 4)
    np.testing.assert_allclose(mg.tensor(np.arange(6.0).reshape(2, 3)).mean(axis=-2).data, [1.5, 2.5, 3.5])


def test_var_and_std_with_ddof():
    values = np.array([[1.0, 2.0, 4.0], [3.0, -1.0, 0.5]])
    x = mg.tensor(values)
    for ddof in (0, 1):
        np.testing.assert_allclose(x.var(ddof=ddof).data, np.var(values, ddof=ddof))
        np.testing.assert_allclose(x.std(axis=1, ddof=ddof).data, np.std(values, axis=1, ddof=ddof))
        np.testing.assert_allclose(x.var(axis=0, ddof=ddof, keepdims=True).data,
                                   np.var(values, axis=0, ddof=ddof, keepdims=True))


def test_reduction_rejects_bad_axes():
    x = mg.ones(2, 3)
    for axis in (2, -3, (0, 0), (1, -1)):
        with pytest.raises(ValueError):
            x.sum(axis=axis)


# ---- shape ops -----------------------------------------------------------------------------
def test_shape_ops_known_results():
    x = mg.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(4, -1).shape == (4, 6)
    assert x.reshape((-1, 2)).shape == (12, 2)
    with pytest.raises(ValueError):
        x.reshape(-1, -1)
    assert x.transpose().shape == (4, 3, 2)
    np.testing.assert_array_equal(x.transpose().data, x.data.transpose())
    assert x.transpose(1, 0, 2).shape == (3, 2, 4)
    assert x.transpose((0, -1, 1)).shape == (2, 4, 3)
    with pytest.raises(ValueError):
        x.transpose(0, 1)
    m = mg.tensor([[1.0, 2.0, 3.0]])
    assert m.T.shape == (3, 1) and m.T.tolist() == [[1.0], [2.0], [3.0]]
    assert x.flatten().shape == (24,)
    assert x.flatten(1).shape == (2, 12)
    assert x.flatten(-1).shape == (2, 3, 4)
    assert mg.ones(3, 1).broadcast_to((2, 3, 4)).shape == (2, 3, 4)
    s = mg.ones(1, 3, 1)
    assert s.squeeze().shape == (3,)
    assert s.squeeze(0).shape == (3, 1)
    assert s.squeeze(-1).shape == (1, 3)
    with pytest.raises(ValueError):
        s.squeeze(1)
    assert mg.ones(3).unsqueeze(0).shape == (1, 3)
    assert mg.ones(3).unsqueeze(-1).shape == (3, 1)


def test_broadcast_to_gradient_sums_back():
    x = f64([[1.0], [2.0]])
    x.broadcast_to((3, 2, 4)).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[12.0], [12.0]])


# ---- indexing -------------------------------------------------------------------------------
def test_repeated_indices_accumulate():
    x = f64([10.0, 20.0, 30.0])
    y = x[[0, 0, 2, 0]]
    assert y.tolist() == [10.0, 10.0, 30.0, 10.0]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 0.0, 1.0])


def test_integer_array_indexing_variants():
    values = np.arange(12.0).reshape(3, 4)
    x = f64(values)
    rows = np.array([2, 0, 2])
    cols = np.array([1, 1, 1])
    y = x[rows, cols]
    np.testing.assert_array_equal(y.data, values[rows, cols])
    (y * mg.tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    expected = np.zeros((3, 4))
    expected[0, 1] = 2.0
    expected[2, 1] = 4.0
    np.testing.assert_allclose(x.grad.data, expected)
    z = f64(values)
    z[:, mg.tensor([3, 3])].sum().backward()  # a Tensor of ints works as an index
    np.testing.assert_allclose(z.grad.data[:, 3], [2.0, 2.0, 2.0])
    assert z.grad.data[:, :3].sum() == 0


def test_basic_slicing_gradients():
    x = f64(np.arange(10.0))
    x[1:8:3].sum().backward()
    expected = np.zeros(10)
    expected[[1, 4, 7]] = 1
    np.testing.assert_allclose(x.grad.data, expected)
    y = f64(np.ones((2, 3)))
    y[-1].sum().backward()
    np.testing.assert_allclose(y.grad.data, [[0, 0, 0], [1, 1, 1]])
    w = f64(np.ones((2, 3)))
    assert w[0, 1].shape == () and w[..., None].shape == (2, 3, 1) and w[::-1].shape == (2, 3)


# ---- combinators ----------------------------------------------------------------------------
def test_concatenate_and_stack_route_gradients():
    a = f64([[1.0, 2.0]])
    b = f64([[3.0, 4.0], [5.0, 6.0]])
    c = mg.concatenate([a, b], axis=0)
    assert c.shape == (3, 2)
    (c * mg.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_allclose(a.grad.data, [[0.0, 1.0]])
    np.testing.assert_allclose(b.grad.data, [[2.0, 3.0], [4.0, 5.0]])
    p, q = f64([1.0, 2.0]), f64([3.0, 4.0])
    s = mg.stack([p, q], axis=-1)
    assert s.shape == (2, 2) and s.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    (s * mg.tensor(np.array([[1.0, 10.0], [2.0, 20.0]]))).sum().backward()
    np.testing.assert_allclose(p.grad.data, [1.0, 2.0])
    np.testing.assert_allclose(q.grad.data, [10.0, 20.0])
    assert mg.stack([p, q]).shape == (2, 2)


def test_where_broadcasts_and_routes_gradients():
    a = f64([[1.0, 2.0, 3.0]])
    b = f64([[10.0], [20.0]])
    condition = mg.tensor(np.array([[True, False, True], [False, False, True]]))
    out = mg.where(condition, a, b)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.data, [[1.0, 10.0, 3.0], [20.0, 20.0, 3.0]])
    out.sum().backward()
    np.testing.assert_allclose(a.grad.data, [[1.0, 0.0, 2.0]])
    np.testing.assert_allclose(b.grad.data, [[1.0], [2.0]])


def test_clip_passes_gradient_inside_the_interval_only():
    x = f64([-2.0, -0.5, 0.0, 0.7, 3.0])
    y = x.clip(-1.0, 1.0)
    np.testing.assert_allclose(y.data, [-1.0, -0.5, 0.0, 0.7, 1.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 1.0, 1.0, 1.0, 0.0])
    with pytest.raises(ValueError):
        x.clip()


def test_relu_and_abs_known_gradients():
    x = f64([-1.0, 2.0, -3.0])
    (x.relu() + x.abs()).sum().backward()
    np.testing.assert_allclose(x.grad.data, [-1.0, 2.0, -1.0])


# ---- matmul -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape_a, shape_b, shape_out", [
    ((3,), (3,), ()),
    ((3,), (3, 4), (4,)),
    ((2, 3), (3,), (2,)),
    ((2, 3), (3, 4), (2, 4)),
    ((5, 2, 3), (3, 4), (5, 2, 4)),
    ((2, 1, 3, 4), (5, 4, 2), (2, 5, 3, 2)),
    ((3,), (2, 3, 4), (2, 4)),
    ((2, 4, 3), (3,), (2, 4)),
])
def test_matmul_shapes_values_and_gradient_shapes(shape_a, shape_b, shape_out):
    rng = np.random.default_rng(0)
    a_values, b_values = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a, b = f64(a_values), f64(b_values)
    out = a @ b
    assert out.shape == shape_out
    np.testing.assert_allclose(out.data, a_values @ b_values)
    out.backward(mg.tensor(np.ones(shape_out)))
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    if shape_a == (2, 3) and shape_b == (3, 4):
        np.testing.assert_allclose(a.grad.data, np.ones((2, 4)) @ b_values.T)
        np.testing.assert_allclose(b.grad.data, a_values.T @ np.ones((2, 4)))
    assert mg.gradcheck(lambda p, q: p @ q, [f64(a_values), f64(b_values)])


def test_pow_gradient_where_the_exponent_is_zero_and_the_base_zero():
    x = f64([0.0, 2.0, 0.0])
    exponent = mg.tensor(np.array([0.0, 2.0, 3.0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        (x ** exponent).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 4.0, 0.0])  # as PyTorch
    y = f64([0.0, 0.0])
    (y ** 0).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [0.0, 0.0])
    b = f64([0.0, 1.5])
    (mg.tensor(np.array([0.0, 0.0])) ** b).sum().backward()  # d(0**b)/db is 0 where b >= 0
    np.testing.assert_array_equal(b.grad.data, [0.0, 0.0])


def test_relu_and_abs_have_zero_gradient_at_zero():
    x = f64([0.0, 0.0])
    (x.relu() + x.abs()).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


def test_reductions_accept_axis_0_and_minus_1_on_a_0d_tensor():
    x = mg.tensor(3.0, requires_grad=True)
    for reduce in (x.sum, x.mean, x.max, x.min):
        assert reduce(axis=0).item() == 3.0
        assert reduce(axis=-1, keepdims=True).shape == ()
    x.sum(axis=0).backward()
    assert x.grad.item() == 1.0
    with pytest.raises(ValueError, match="0-d"):
        x.sum(axis=1)


def test_no_op_shape_changes_under_no_grad_do_not_require_grad():
    x = mg.ones(2, 3, requires_grad=True)
    assert x.reshape(2, 3) is x  # in grad mode the tensor itself: no node needed
    with mg.no_grad():
        for same in (x.reshape(2, 3), x.broadcast_to((2, 3)), x.astype(np.float32), x.squeeze()):
            assert not same.requires_grad
            assert np.shares_memory(same.data, x.data)


def test_max_of_a_tensor_with_nan_sends_the_gradient_to_the_nan():
    x = mg.tensor([1.0, float("nan"), 3.0], requires_grad=True)
    assert np.isnan(x.max().item())
    x.max().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_clip_with_numpy_float64_bounds_keeps_float32():
    x = mg.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    y = x.clip(np.float64(-1.0), np.float64(1.0))
    assert y.dtype == np.float32 and y.tolist() == [-1.0, 0.5, 1.0]
