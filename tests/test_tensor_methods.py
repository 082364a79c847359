"""The PyTorch-style Tensor methods and argument names: argmax/argmin, float/double/astype/to,
size, view, tolist, retain_grad, mg.cat, the dtype names, and dim=/keepdim= everywhere."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F


def values(shape=(2, 3, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- argmax / argmin -------------------------------------------------------------------
@pytest.mark.parametrize("method", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_match_numpy(method, axis, keepdims):
    a = values()
    got = getattr(mg.tensor(a), method)(axis=axis, keepdims=keepdims)
    expected = getattr(np, method)(a, axis=axis, keepdims=keepdims)
    assert got.dtype == np.int64
    assert got.shape == np.shape(expected)
    np.testing.assert_array_equal(got.data, expected)
    assert got.requires_grad is False


def test_argmax_takes_the_first_of_ties_and_rejects_bad_input():
    assert mg.tensor([1.0, 3.0, 3.0]).argmax().item() == 1
    assert mg.tensor([[2.0, 1.0, 1.0]]).argmin(axis=1).tolist() == [1]
    with pytest.raises(ValueError, match="argmax.*empty"):
        mg.zeros(0).argmax()
    with pytest.raises(TypeError, match="argmin: axis must be an int"):
        mg.zeros(2, 2).argmin(axis=(0, 1))
    with pytest.raises((ValueError, IndexError), match="argmax"):
        mg.zeros(2, 2).argmax(axis=2)


# ---- dtype conversions -----------------------------------------------------------------
def test_float_double_astype_keep_the_graph():
    x = mg.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    d = x.double()
    assert d.dtype == np.float64 and d.grad_fn is not None
    assert d.float().dtype == np.float32
    assert x.astype(mg.float64).dtype == np.float64
    (d * d).sum().backward()
    assert x.grad.dtype == np.float32
    assert x.grad.tolist() == [2.0, 4.0]
    assert mg.tensor([1, 2]).float().dtype == np.float32
    assert mg.tensor([1.5, 2.5]).astype(mg.int64).tolist() == [1, 2]


def test_dtype_names_are_numpy_dtypes():
    assert mg.zeros(2, dtype=mg.float64).dtype == np.float64
    assert mg.tensor([1, 2], dtype=mg.float32).dtype == np.float32
    assert np.dtype(mg.int64) == np.int64


def test_to_accepts_cpu_and_dtypes():
    x = mg.ones(2, requires_grad=True)
    assert x.to("cpu") is x
    assert x.to(device="cpu") is x
    assert x.to("cpu", mg.float64).dtype == np.float64
    assert x.to(mg.float64, "cpu").dtype == np.float64
    assert x.to(dtype=np.float64).dtype == np.float64
    assert x.to("cpu:0") is x
    with pytest.raises(ValueError, match="CPU only.*cuda"):
        x.to("cuda")
    with pytest.raises(TypeError, match="two dtypes"):
        x.to(mg.float32, mg.float64)
    with mg.no_grad():
        assert x.to("cpu").requires_grad is False  # as every op under no_grad


# ---- size, view, tolist ----------------------------------------------------------------
def test_size_and_view():
    x = mg.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4)
    assert x.size(1) == 3 and x.size(-1) == 4 and x.size(dim=0) == 2
    with pytest.raises((ValueError, IndexError), match="size"):
        x.size(3)
    with pytest.raises(IndexError, match="size"):
        mg.tensor(1.0).size(0)
    with pytest.raises(TypeError, match="size"):
        x.size((0, 1))
    assert x.view(6, 4).shape == (6, 4)
    assert x.view(-1).shape == (24,)
    assert x.view((4, -1)).shape == (4, 6)


def test_view_is_differentiable():
    x = mg.tensor(values((2, 3)), requires_grad=True)
    assert mg.gradcheck(lambda t: t.view(3, 2) * mg.tensor(np.arange(6.0).reshape(3, 2)), [x])


def test_tolist():
    assert mg.tensor([[1.0, 2.0]]).tolist() == [[1.0, 2.0]]
    assert mg.tensor(3).tolist() == 3


# ---- retain_grad -----------------------------------------------------------------------
def test_retain_grad_keeps_an_intermediate_gradient():
    x = mg.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    h = x * x
    h.retain_grad()
    y = h.tanh()
    y.retain_grad()
    y.sum().backward()
    np.testing.assert_allclose(y.grad.data, np.ones(3))
    np.testing.assert_allclose(h.grad.data, 1 - np.tanh(h.data) ** 2)
    np.testing.assert_allclose(x.grad.data, h.grad.data * 2 * x.data)
    # a second backward accumulates, as for leaves
    z = h.sum()
    z.backward()
    np.testing.assert_allclose(h.grad.data, 1 - np.tanh(h.data) ** 2 + 1)


def test_retain_grad_gives_memory_of_its_own_and_leaves_others_alone():
    x = mg.tensor(np.ones(3), requires_grad=True)
    h = x + 0.0  # Add hands one gradient array to both operands
    h.retain_grad()
    other = x * 2.0  # not retained
    (h + other).sum().backward()
    assert other.grad is None
    assert not np.shares_memory(h.grad.data, x.grad.data)
    h.grad.data[...] = 7.0
    np.testing.assert_allclose(x.grad.data, np.full(3, 3.0))


def test_retain_grad_on_a_leaf_and_on_a_constant():
    x = mg.tensor([1.0], requires_grad=True)
    x.retain_grad()  # a leaf keeps its gradient anyway
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0]
    with pytest.raises(RuntimeError, match="retain_grad: .*does not require grad"):
        mg.tensor([1.0]).retain_grad()


def test_retain_grad_does_not_touch_mg_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (g,) = mg.grad((h * h).sum(), x)
    assert h.grad is None and x.grad is None
    assert g.tolist() == [18.0, 36.0]


# ---- dim= / keepdim= -------------------------------------------------------------------
AXIS_CALLS = [
    ("sum", lambda t, **k: t.sum(**k)), ("mean", lambda t, **k: t.mean(**k)),
    ("max", lambda t, **k: t.max(**k)), ("min", lambda t, **k: t.min(**k)),
    ("var", lambda t, **k: t.var(**k)), ("std", lambda t, **k: t.std(**k)),
    ("argmax", lambda t, **k: t.argmax(**k)), ("argmin", lambda t, **k: t.argmin(**k)),
]


@pytest.mark.parametrize("name,call", AXIS_CALLS, ids=[n for n, _ in AXIS_CALLS])
def test_dim_and_keepdim_are_aliases(name, call):
    t = mg.tensor(values())
    np.testing.assert_array_equal(call(t, dim=1, keepdim=True).data, call(t, axis=1, keepdims=True).data)
    np.testing.assert_array_equal(call(t, dim=-1).data, call(t, axis=-1).data)
    with pytest.raises(TypeError, match=f"{name}: got both axis= and its PyTorch spelling dim="):
        call(t, axis=1, dim=1)
    with pytest.raises(TypeError, match=f"{name}: got both keepdims= and its PyTorch spelling keepdim="):
        call(t, axis=1, keepdims=True, keepdim=True)


def test_dim_in_softmax_concatenate_stack_squeeze_flatten():
    a = mg.tensor(values((2, 3)))
    np.testing.assert_array_equal(F.softmax(a, dim=0).data, F.softmax(a, axis=0).data)
    np.testing.assert_array_equal(F.log_softmax(a, dim=0).data, F.log_softmax(a, axis=0).data)
    assert mg.concatenate([a, a], dim=1).shape == (2, 6)
    assert mg.cat([a, a], dim=1).shape == (2, 6)
    assert mg.cat([a, a]).shape == (4, 3)
    assert mg.stack([a, a], dim=2).shape == (2, 3, 2)
    assert a.unsqueeze(dim=1).squeeze(dim=1).shape == (2, 3)
    assert mg.zeros(2, 3, 4).flatten(start_dim=1).shape == (2, 12)
    for call in (lambda: F.softmax(a, axis=0, dim=0), lambda: mg.cat([a], axis=0, dim=0),
                 lambda: mg.stack([a], axis=0, dim=0), lambda: F.log_softmax(a, axis=0, dim=0)):
        with pytest.raises(TypeError, match="got both axis= and its PyTorch spelling dim="):
            call()


def test_cat_is_concatenate():
    assert mg.cat is mg.concatenate


def test_dtype_names_compare_with_tensor_dtypes():
    assert mg.tensor([1.0]).dtype == mg.float32
    assert mg.tensor([1]).dtype == mg.int64
    assert mg.ones(1).double().dtype == mg.float64


def test_correction_is_ddof_and_flatten_takes_torch_names():
    x = mg.tensor(values((3, 4)))
    np.testing.assert_array_equal(x.var(dim=1, correction=1).data, x.var(axis=1, ddof=1).data)
    np.testing.assert_array_equal(x.std(correction=1).data, x.std(ddof=1).data)
    with pytest.raises(TypeError, match="var: got both ddof= and its PyTorch spelling correction="):
        x.var(ddof=1, correction=1)
    from minigrad import nn

    layer = nn.Flatten(start_dim=0, end_dim=1)
    assert layer(mg.zeros(2, 3, 4)).shape == (6, 4)
