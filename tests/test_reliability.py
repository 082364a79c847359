"""Reliability of the engine: no wrong gradient without an error, one dtype rule,
reductions that agree with PyTorch and NumPy at the edges, and clear errors for bad data."""

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
