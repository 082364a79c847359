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
