"""API.md's Errors table, the rows about tensors and modules: the error type, a message that
names the op and the shapes, and nothing changed afterwards."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def f64(values, requires_grad=True):
    return mg.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


BAD_PAIRS = [
    ("add", lambda a, b: a + b, (2, 3), (4,)),
    ("sub", lambda a, b: a - b, (2, 3), (2,)),
    ("mul", lambda a, b: a * b, (3, 1, 2), (4, 3)),
    ("div", lambda a, b: a / b, (5,), (2, 5, 4)),
    ("pow", lambda a, b: a ** b, (2, 2), (3,)),
    ("maximum", lambda a, b: mg.maximum(a, b), (2,), (3,)),
    ("where", lambda a, b: mg.where(np.ones((2,), dtype=bool), a, b), (2, 3), (3, 2)),
    ("matmul", lambda a, b: a @ b, (2, 3), (4, 5)),
    ("matmul", lambda a, b: a @ b, (3,), (4,)),
    ("matmul", lambda a, b: a @ b, (2, 3, 4), (5, 4, 2)),
    ("matmul", lambda a, b: a @ b, (2, 3), (2,)),
    ("concatenate", lambda a, b: mg.concatenate([a, b], axis=1), (2, 3), (3, 3)),
    ("stack", lambda a, b: mg.stack([a, b]), (2, 3), (3, 2)),
    ("linear", lambda a, b: F.linear(a, b), (4, 3), (2, 5)),
    ("less", lambda a, b: a < b, (2,), (3,)),
]


@pytest.mark.parametrize("name, fn, shape_a, shape_b", BAD_PAIRS,
                         ids=[f"{n}-{a}-{b}" for n, _, a, b in BAD_PAIRS])
def test_shapes_that_do_not_broadcast_or_multiply(name, fn, shape_a, shape_b):
    a = f64(np.ones(shape_a))
    b = f64(np.ones(shape_b))
    before = (a.data.copy(), b.data.copy())
    with pytest.raises(ValueError) as info:
        fn(a, b)
    message = str(info.value)
    assert name in message.lower(), message
    assert str(shape_a) in message and str(shape_b) in message, message
    # nothing changed
    np.testing.assert_array_equal(a.data, before[0])
    np.testing.assert_array_equal(b.data, before[1])
    assert a.grad is None and b.grad is None and a.is_leaf and b.is_leaf


def test_bad_broadcast_to_and_reshape_name_the_shapes():
    x = mg.ones(2, 3)
    with pytest.raises(ValueError) as info:
        x.broadcast_to((4, 3, 3))
    assert "(2, 3)" in str(info.value) and "(4, 3, 3)" in str(info.value)
    with pytest.raises(ValueError) as info:
        x.reshape(4, 2)
    assert "(2, 3)" in str(info.value)


def test_in_place_with_a_shape_that_does_not_fit_changes_nothing():
    x = mg.ones(3)
    with pytest.raises(ValueError) as info:
        x += mg.ones(2, 3)
    assert "(2, 3)" in str(info.value) and "(3,)" in str(info.value)
    np.testing.assert_array_equal(x.data, np.ones(3))


def test_failed_op_leaves_an_existing_gradient_alone():
    x = f64([1.0, 2.0])
    (x * 2).sum().backward()
    with pytest.raises(ValueError):
        x + f64([1.0, 2.0, 3.0])
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


def test_backward_rows_of_the_errors_table():
    with pytest.raises(RuntimeError):
        (f64([1.0, 2.0]) ** 2).backward()
    with pytest.raises(RuntimeError):
        mg.tensor(3.0).backward()


def test_in_place_on_leaf_requiring_grad_row():
    w = mg.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        w += 1
    np.testing.assert_array_equal(w.data, [0.0, 0.0])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("steps", mg.zeros(1))


def assert_same_state(a, b):
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_load_state_dict_missing_key():
    model = Net()
    before = model.state_dict()
    state = model.state_dict()
    state["fc.weight"] += 1.0
    del state["fc.bias"]
    with pytest.raises(KeyError) as info:
        model.load_state_dict(state)
    assert "fc.bias" in str(info.value)
    assert_same_state(model.state_dict(), before)  # fc.weight was not copied either


def test_load_state_dict_unexpected_key():
    model = Net()
    before = model.state_dict()
    state = model.state_dict()
    state["fc.bias"] += 1.0
    state["fc.extra"] = np.zeros(2)
    with pytest.raises(KeyError) as info:
        model.load_state_dict(state)
    assert "fc.extra" in str(info.value)
    assert_same_state(model.state_dict(), before)


def test_load_state_dict_wrong_shape():
    model = Net()
    before = model.state_dict()
    state = model.state_dict()
    state["fc.bias"] = state["fc.bias"] + 1.0
    state["fc.weight"] = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    assert "fc.weight" in str(info.value)
    assert "(2, 3)" in str(info.value) and "(3, 2)" in str(info.value)
    assert_same_state(model.state_dict(), before)
    with pytest.raises(ValueError):  # wrong shapes are refused even when not strict
        model.load_state_dict(state, strict=False)
    assert_same_state(model.state_dict(), before)


@pytest.mark.parametrize("loss", [
    lambda r: F.cross_entropy(mg.zeros(2, 3), np.array([0, 1]), reduction=r),
    lambda r: F.mse_loss(mg.zeros(2), mg.ones(2), reduction=r),
], ids=["cross_entropy", "mse_loss"])
def test_wrong_reduction_string_lists_the_allowed_values(loss):
    with pytest.raises(ValueError) as info:
        loss("average")
    message = str(info.value)
    for allowed in ("mean", "sum", "none"):
        assert allowed in message
    assert "average" in message


def test_cross_entropy_bad_targets():
    with pytest.raises(ValueError):
        F.cross_entropy(mg.zeros(2, 3), np.array([0, 3]))
    with pytest.raises(ValueError):
        F.cross_entropy(mg.zeros(2, 3), np.array([0, 1, 2]))
    with pytest.raises(ValueError):
        F.cross_entropy(mg.zeros(2, 3), np.array([0.0, 1.0]))


def test_mean_and_var_over_nothing_warn_naming_the_op():
    # as NumPy: nan (or inf) and a RuntimeWarning, not an error
    with pytest.warns(RuntimeWarning, match="mean: Mean of empty slice"):
        assert np.all(np.isnan(mg.zeros(0, 3).mean(axis=0).numpy()))
    with pytest.warns(RuntimeWarning, match="var: Degrees of freedom <= 0"):
        assert np.all(np.isnan(mg.ones(1, 3).var(axis=0, ddof=1).numpy()))


def test_fused_batch_norm_names_the_dtypes_it_takes():
    x = mg.tensor(np.ones((4, 2), dtype=np.float16))
    with pytest.raises(ValueError, match="float32 or float64"):
        F.batch_norm(x, None, None, training=True, impl="fused")
    assert F.batch_norm(x, None, None, training=True, impl="composed").dtype == np.float16
