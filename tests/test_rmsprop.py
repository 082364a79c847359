"""RMSprop: the update written out by hand, its checks, and its state round trip."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim


def quadratic_steps(make, steps=4, dtype=np.float64):
    w = mg.tensor(np.array([1.0, -2.0, 0.5], dtype=dtype), requires_grad=True)
    optimizer = make([w])
    for _ in range(steps):
        w.grad = None
        (w * w * mg.tensor(np.array([1.0, 2.0, 3.0], dtype=dtype))).sum().backward()
        optimizer.step()
    return w, optimizer


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_rmsprop_by_hand(momentum, centered, decay):
    lr, alpha, eps = 0.01, 0.9, 1e-8
    w = np.array([1.0, -2.0, 0.5])
    scale = np.array([1.0, 2.0, 3.0])
    square_avg = np.zeros(3)
    grad_avg = np.zeros(3)
    buffer = np.zeros(3)
    for _ in range(4):
        g = 2 * scale * w + decay * w
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        if centered:
            grad_avg = alpha * grad_avg + (1 - alpha) * g
            avg = np.sqrt(square_avg - grad_avg ** 2) + eps
        else:
            avg = np.sqrt(square_avg) + eps
        if momentum:
            buffer = momentum * buffer + g / avg
            w = w - lr * buffer
        else:
            w = w - lr * g / avg
    got, optimizer = quadratic_steps(lambda p: optim.RMSprop(p, lr=lr, alpha=alpha, eps=eps, weight_decay=decay,
                                                                momentum=momentum, centered=centered))
    np.testing.assert_allclose(got.data, w, rtol=1e-12)
    state = optimizer.state_dict()["state"][0]
    assert state["step"] == 4 and ("momentum_buffer" in state) == bool(momentum)
    assert ("grad_avg" in state) == centered


def test_rmsprop_keeps_float32_and_round_trips_its_state():
    w, optimizer = quadratic_steps(lambda p: optim.RMSprop(p, momentum=0.5, centered=True), dtype=np.float32)
    assert w.dtype == np.float32
    assert all(a.dtype == np.float32 for k, a in optimizer.state[id(w)].items() if k != "step")
    saved = optimizer.state_dict()
    twin = mg.tensor(w.data.copy(), requires_grad=True)
    other = optim.RMSprop([twin], momentum=0.5, centered=True)
    other.load_state_dict(saved)
    for t, o in ((w, optimizer), (twin, other)):
        t.grad = mg.ones(3)
        o.step()
    np.testing.assert_array_equal(w.data, twin.data)


def test_rmsprop_checks_before_changing_anything():
    w = mg.ones(2, requires_grad=True)
    for kwargs in (dict(lr=-1), dict(alpha=-0.1), dict(eps=-1.0), dict(momentum=-0.5), dict(weight_decay=-1)):
        with pytest.raises(ValueError, match="RMSprop: lr, alpha, eps, weight_decay and momentum must be >= 0"):
            optim.RMSprop([w], **kwargs)
    with pytest.raises(TypeError, match="RMSprop: lr must be a number"):
        optim.RMSprop([w], lr="0.1")
    with pytest.raises(TypeError, match="RMSprop: centered must be True or False"):
        optim.RMSprop([w], centered="yes")
    optimizer = optim.RMSprop([w])
    w.grad = mg.ones(3)
    with pytest.raises(ValueError, match="nothing was updated"):
        optimizer.step()
    assert w.tolist() == [1.0, 1.0] and optimizer.state == {}
    with pytest.raises(ValueError, match="the state lacks"):
        optimizer.load_state_dict({"state": {0: {"step": 1}}, "param_groups": optimizer.state_dict()["param_groups"]})
