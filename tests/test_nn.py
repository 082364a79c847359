"""The nn foundation: Module registration and traversal, modes, state_dict, dtype casts,
Linear and Sequential, save/load, and the functional softmax, losses and dropout."""

import math
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def f64(values, requires_grad=True):
    return mg.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.register_buffer("count", mg.zeros(1))
        self.register_buffer("scratch", mg.zeros(2), persistent=False)
        self.plain = 5  # not registered

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(2, 3)
        self.block = Block()
        self.head = nn.Sequential(nn.Tanh(), nn.Linear(3, 1))

    def forward(self, x):
        return self.head(self.block(self.first(x)))


# ---- registration and traversal -------------------------------------------------------
def test_named_parameters_and_buffers_use_dotted_names():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "first.weight", "first.bias", "block.scale", "block.fc.weight", "block.fc.bias",
        "head.1.weight", "head.1.bias"]  # a module's own parameters before its children's
    assert [name for name, _ in net.named_buffers()] == ["block.count", "block.scratch"]
    assert len(list(net.parameters())) == 7
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [b.shape for b in net.buffers()] == [(1,), (2,)]
    assert net.block.fc.weight is dict(net.named_parameters())["block.fc.weight"]


def test_registration_order_follows_assignment_as_pytorch():
    block = Block()
    assert [name for name, _ in block.named_parameters()] == ["scale", "fc.weight", "fc.bias"]


def test_children_and_modules():
    net = Net()
    assert list(net.children()) == [net.first, net.block, net.head]
    modules = list(net.modules())
    assert modules[0] is net
    assert len(modules) == 7  # net, first, block, block.fc, head, head.0, head.1
    assert [name for name, _ in net.named_modules()] == [
        "", "first", "block", "block.fc", "head", "head.0", "head.1"]


def test_shared_parameter_is_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2


def test_reassigning_and_removing_registered_attributes():
    block = Block()
    block.scale = nn.Parameter(np.zeros(3, dtype=np.float32))
    assert dict(block.named_parameters())["scale"].data.sum() == 0
    block.count = mg.ones(1)  # a buffer takes a Tensor
    assert dict(block.named_buffers())["count"].item() == 1.0
    with pytest.raises(TypeError):
        block.scale = mg.ones(3)  # a plain Tensor cannot replace a Parameter
    del block.fc
    assert "fc.weight" not in dict(block.named_parameters())
    assert block.plain == 5 and "plain" not in dict(block.named_parameters())


def test_train_and_eval_reach_every_sub_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.head[0].training


def test_zero_grad_sets_grads_to_none():
    net = Net()
    net(mg.ones(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ---- state_dict -------------------------------------------------------------------------
def test_state_dict_is_an_ordered_copy():
    net = Net()
    state = net.state_dict()
    assert isinstance(state, OrderedDict)
    assert "block.count" in state and "block.scratch" not in state  # non-persistent left out
    assert list(state)[:2] == ["first.weight", "first.bias"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    original = net.first.weight.data.copy()
    state["first.weight"][...] = 42.0
    np.testing.assert_array_equal(net.first.weight.data, original)
    # each module's parameters, then its buffers
    names = list(state)
    assert names.index("block.count") < names.index("block.fc.weight")


def test_load_state_dict_copies_in_place_and_casts():
    source, target = Net(), Net()
    identities = {name: (p, p.data) for name, p in target.named_parameters()}
    state = OrderedDict((k, v.astype(np.float64) + 1.0) for k, v in source.state_dict().items())
    result = target.load_state_dict(state)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    for name, p in target.named_parameters():
        assert p is identities[name][0] and p.data is identities[name][1]
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.data, state[name].astype(np.float32))
    # Tensors work as values too
    target.load_state_dict({k: mg.tensor(v) for k, v in source.state_dict().items()})
    np.testing.assert_array_equal(target.first.weight.data, source.first.weight.data)


def test_load_state_dict_not_strict_reports_keys():
    net = Net()
    state = net.state_dict()
    del state["first.bias"]
    state["bogus"] = np.zeros(1)
    result = net.load_state_dict(state, strict=False)
    assert list(result.missing_keys) == ["first.bias"]
    assert list(result.unexpected_keys) == ["bogus"]


def test_to_float_double_cast_in_place():
    net = Net()
    weight = net.first.weight
    net(mg.ones(1, 2)).sum().backward()
    assert net.double() is net
    assert net.first.weight is weight
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert all(p.grad.dtype == np.float64 for p in net.parameters())
    assert all(b.dtype == np.float64 for b in net.buffers())
    assert net(mg.ones(1, 2, dtype=np.float64)).dtype == np.float64
    assert net.float() is net
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.to(np.float64).first.bias.dtype == np.float64


def test_save_and_load_round_trip(tmp_path):
    net = Net()
    path = tmp_path / "net.npz"
    mg.save(net.state_dict(), path)
    loaded = mg.load(path)
    assert list(loaded) == list(net.state_dict())
    for name, value in net.state_dict().items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value)
    other = Net()
    other.load_state_dict(loaded)
    x = mg.randn(3, 2)
    np.testing.assert_array_equal(other(x).data, net(x).data)


# ---- Linear, F.linear, Sequential ----------------------------------------------------------
def test_linear_default_init_bounds():
    mg.manual_seed(0)
    layer = nn.Linear(100, 300)
    bound = 1 / math.sqrt(100)
    assert layer.weight.shape == (300, 100) and layer.bias.shape == (300,)
    assert layer.weight.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound  # uniform over the whole interval
    assert abs(layer.weight.data.mean()) < 0.1 * bound
    assert np.abs(layer.weight.data).mean() == pytest.approx(bound / 2, rel=0.05)


def test_linear_forward_and_no_bias():
    layer = nn.Linear(3, 2)
    x = mg.randn(4, 3)
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data.T + layer.bias.data, rtol=1e-6)
    assert layer(mg.randn(5, 4, 3)).shape == (5, 4, 2)
    assert layer(mg.randn(3)).shape == (2,)
    plain = nn.Linear(3, 2, bias=False)
    assert plain.bias is None
    assert [n for n, _ in plain.named_parameters()] == ["weight"]
    assert list(plain.state_dict()) == ["weight"]
    np.testing.assert_allclose(plain(x).data, x.data @ plain.weight.data.T, rtol=1e-6)


def test_functional_linear_values_and_gradcheck():
    rng = np.random.default_rng(0)
    x, w, b = (f64(rng.standard_normal(s)) for s in [(2, 3), (4, 3), (4,)])
    np.testing.assert_allclose(F.linear(x, w, b).data, x.data @ w.data.T + b.data)
    np.testing.assert_allclose(F.linear(x, w).data, x.data @ w.data.T)
    assert mg.gradcheck(F.linear, [x, w, b])
    assert mg.gradgradcheck(lambda x, w, b: F.linear(x, w, b).tanh(), [x, w, b])


def test_sequential():
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1), nn.Sigmoid())
    assert len(model) == 4
    assert isinstance(model[1], nn.ReLU) and isinstance(model[-1], nn.Sigmoid)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Sigmoid"]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = mg.randn(3, 2)
    expected = (model[2](model[0](x).relu())).sigmoid()
    np.testing.assert_allclose(model(x).data, expected.data)
    nested = nn.Sequential(nn.Sequential(nn.Linear(1, 1)), nn.Tanh())
    assert list(nested.state_dict()) == ["0.0.weight", "0.0.bias"]


def test_parameter():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, mg.Tensor) and p.requires_grad and p.dtype == np.float32 and p.is_leaf


# ---- softmax and friends --------------------------------------------------------------------
def test_softmax_and_log_softmax_are_stable_for_large_logits():
    logits = mg.tensor(np.array([[1000.0, 0.0, -1000.0], [1e4, 1e4, 1e4]]))
    p = F.softmax(logits)
    assert np.all(np.isfinite(p.data))
    np.testing.assert_allclose(p.data.sum(axis=-1), [1.0, 1.0])
    np.testing.assert_allclose(p.data[1], [1 / 3] * 3)
    lp = F.log_softmax(logits)
    assert np.all(np.isfinite(lp.data))
    np.testing.assert_allclose(lp.data[0], [0.0, -1000.0, -2000.0])
    x = f64([[800.0, 799.0, -5.0]])
    assert mg.gradcheck(lambda t: F.log_softmax(t), [x])
    assert mg.gradcheck(lambda t: F.softmax(t, axis=1), [x])
    x32 = mg.tensor(np.array([[500.0, 1.0]], dtype=np.float32), requires_grad=True)
    out = F.log_softmax(x32)
    assert out.dtype == np.float32
    out.sum().backward()
    assert np.all(np.isfinite(x32.grad.data)) and x32.grad.dtype == np.float32


def np_cross_entropy(logits, target):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(target)), target]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_forward_and_gradient(reduction):
    rng = np.random.default_rng(3)
    logits_v = rng.standard_normal((4, 5))
    target = np.array([0, 4, 2, 2])
    per_example = np_cross_entropy(logits_v, target)
    expected = {"mean": per_example.mean(), "sum": per_example.sum(), "none": per_example}[reduction]
    for target_form in (target, mg.tensor(target), target.tolist()):
        loss = F.cross_entropy(mg.tensor(logits_v), target_form, reduction=reduction)
        np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    assert mg.gradcheck(lambda t: F.cross_entropy(t, target, reduction=reduction), [f64(logits_v)])
    logits = f64(logits_v)
    F.cross_entropy(logits, target, reduction="mean").backward()
    probs = np.exp(logits_v) / np.exp(logits_v).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(logits.grad.data, (probs - np.eye(5)[target]) / 4, rtol=1e-10)


def test_cross_entropy_stable_for_large_logits():
    logits = f64([[1e4, 0.0, -1e4], [0.0, 3e3, 0.0]])
    loss = F.cross_entropy(logits, np.array([1, 1]), reduction="none")
    np.testing.assert_allclose(loss.data, [1e4, 0.0], atol=1e-9)
    loss.sum().backward()
    assert np.all(np.isfinite(logits.grad.data))
    np.testing.assert_allclose(logits.grad.data, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    expected = {"mean": np.mean((a - b) ** 2), "sum": np.sum((a - b) ** 2), "none": (a - b) ** 2}[reduction]
    np.testing.assert_allclose(F.mse_loss(mg.tensor(a), mg.tensor(b), reduction=reduction).data, expected)
    assert mg.gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), [f64(a), f64(b)])
    with pytest.raises(ValueError):
        F.mse_loss(mg.tensor(a), mg.tensor(b[:2]))


# ---- dropout ------------------------------------------------------------------------------
def test_dropout_scales_kept_values_and_is_seeded():
    x = mg.ones(100, 100, requires_grad=True)
    mg.manual_seed(7)
    y = F.dropout(x, p=0.25)
    kept = y.data != 0
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)
    assert 0.72 < kept.mean() < 0.78
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.where(kept, 1 / 0.75, 0.0), rtol=1e-6)
    mg.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, p=0.25).data, y.data)
    assert not np.array_equal(F.dropout(x, p=0.25).data, y.data)  # the next draw differs


def test_dropout_eval_and_edge_probabilities():
    x = mg.randn(10, 10)
    np.testing.assert_array_equal(F.dropout(x, p=0.5, training=False).data, x.data)
    np.testing.assert_array_equal(F.dropout(x, p=0.0).data, x.data)
    assert np.all(F.dropout(x, p=1.0).data == 0)
    layer = nn.Dropout(0.5)
    assert np.any(layer(x).data != x.data)
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, x.data)
    model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.9))
    model.eval()
    np.testing.assert_array_equal(model(x).data, model[0](x).data)
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError):
            F.dropout(x, p=p)


def test_load_state_dict_with_an_unreadable_value_changes_nothing():
    model = nn.Linear(2, 2)
    before = {name: value.copy() for name, value in model.state_dict().items()}
    with pytest.raises(ValueError, match="bias"):
        model.load_state_dict({"weight": np.zeros((2, 2)), "bias": "not a number"})
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_save_and_load_use_exactly_the_path_given(tmp_path):
    model = nn.Linear(3, 2)
    path = tmp_path / "checkpoint"  # no .npz suffix
    mg.save(model.state_dict(), path)
    assert path.exists()
    loaded = mg.load(path)
    assert list(loaded) == ["weight", "bias"]
    np.testing.assert_array_equal(loaded["weight"], model.weight.data)
