"""Optimizers: updates written out by hand, state round trips, and PyTorch parity."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim


def quadratic_grad(w):
    """Set w.grad to the gradient of sum(w**2 * [1, 2, 3]) at the current w."""
    loss = (w * w * mg.tensor(np.array([1.0, 2.0, 3.0]))).sum()
    w.grad = None
    loss.backward()


def run(make_optimizer, steps=3):
    w = mg.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    optimizer = make_optimizer([w])
    history = []
    for _ in range(steps):
        quadratic_grad(w)
        optimizer.step()
        history.append(w.data.copy())
    return history


def test_sgd_momentum_by_hand():
    lr, mu, decay = 0.1, 0.9, 0.01
    w = np.array([1.0, -2.0, 0.5])
    scale = np.array([1.0, 2.0, 3.0])
    buffer = None
    expected = []
    for _ in range(3):
        g = 2 * scale * w + decay * w
        buffer = g.copy() if buffer is None else mu * buffer + g
        w = w - lr * buffer
        expected.append(w)
    got = run(lambda p: optim.SGD(p, lr=lr, momentum=mu, weight_decay=decay))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_adam_by_hand():
    lr, (b1, b2), eps = 0.01, (0.9, 0.999), 1e-8
    w = np.array([1.0, -2.0, 0.5])
    scale = np.array([1.0, 2.0, 3.0])
    m = v = np.zeros(3)
    expected = []
    for t in range(1, 4):
        g = 2 * scale * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        expected.append(w)
    np.testing.assert_allclose(run(lambda p: optim.Adam(p, lr=lr)), expected, rtol=1e-10)


def test_adamw_decays_the_weight_not_the_gradient():
    # With a zero gradient, Adam's moments stay zero and only the decoupled decay acts.
    w = mg.tensor(np.array([2.0]), requires_grad=True)
    w.grad = mg.tensor(np.array([0.0]))
    optim.AdamW([w], lr=0.1, weight_decay=0.5).step()
    assert w.item() == pytest.approx(2.0 * (1 - 0.1 * 0.5))


def test_zero_grad_sets_none_and_step_skips_params_without_grad():
    a = mg.tensor([1.0], requires_grad=True)
    b = mg.tensor([1.0], requires_grad=True)
    (a * 2).sum().backward()
    opt = optim.SGD([a, b], lr=1.0)
    opt.step()
    assert a.item() == pytest.approx(-1.0) and b.item() == 1.0
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_float32_parameters_stay_float32():
    for make in (lambda p: optim.SGD(p, lr=0.1, momentum=0.9), optim.Adam, optim.AdamW):
        w = mg.tensor([1.0, 2.0], requires_grad=True)
        (w * w).sum().backward()
        make([w]).step()
        assert w.dtype == np.float32


def test_state_dict_round_trip_continues_identically():
    first = run(lambda p: optim.Adam(p, lr=0.05), steps=4)
    w = mg.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    opt = optim.Adam([w], lr=0.05)
    for _ in range(2):
        quadratic_grad(w)
        opt.step()
    saved = opt.state_dict()
    resumed = optim.Adam([w], lr=0.05)
    resumed.load_state_dict(saved)
    for _ in range(2):
        quadratic_grad(w)
        resumed.step()
    np.testing.assert_allclose(w.data, first[-1], rtol=1e-12)


def test_bad_hyperparameters_raise():
    w = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError):
        optim.Adam([w], betas=(1.0, 0.999))
    with pytest.raises(ValueError):
        optim.SGD([], lr=0.1)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3)),
])
def test_matches_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    reference.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    ours = getattr(optim, name)(model.parameters(), **kwargs)
    theirs = getattr(torch.optim, name)(reference.parameters(), **kwargs)
    x = np.random.default_rng(1).standard_normal((8, 3))
    for _ in range(5):
        ours.zero_grad()
        (model(mg.tensor(x)) ** 2).mean().backward()
        ours.step()
        theirs.zero_grad()
        (reference(torch.from_numpy(x)) ** 2).mean().backward()
        theirs.step()
    for key, value in reference.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key], value.numpy(), rtol=1e-10, atol=1e-12)


def test_load_state_dict_checks_everything_before_changing_anything():
    w = mg.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    opt = optim.Adam([w], lr=0.05)
    quadratic_grad(w)
    opt.step()
    saved = opt.state_dict()
    bad = {"param_groups": [dict(saved["param_groups"][0], lr=123.0)],
           "state": {0: dict(saved["state"][0], exp_avg=np.zeros(5))}}
    fresh = optim.Adam([w], lr=0.05)
    with pytest.raises(ValueError, match="exp_avg .* shape"):
        fresh.load_state_dict(bad)
    assert fresh.param_groups[0]["lr"] == 0.05 and fresh.state == {}
