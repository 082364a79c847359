"""The PyTorch-style API against PyTorch itself (skips when torch is not installed)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad import nn  # noqa: E402


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def close(ours, theirs, **kwargs):
    ours = ours.data if isinstance(ours, mg.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, **{"rtol": 1e-10, "atol": 1e-12, **kwargs})


# ---- Tensor methods ------------------------------------------------------------------
@pytest.mark.parametrize("method", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin(method, dim, keepdim):
    a = draw((3, 4, 5))
    a[0, 0, :2] = a.max() + 1  # a tie: both take the first
    ours = getattr(mg.tensor(a), method)(dim=dim, keepdim=keepdim)
    theirs = getattr(torch.tensor(a), method)(dim=dim, keepdim=keepdim)
    assert ours.tolist() == theirs.tolist()


def test_size_view_tolist_float_double():
    a = draw((2, 3, 4))
    ours, theirs = mg.tensor(a), torch.tensor(a)
    assert ours.size() == tuple(theirs.size())
    assert [ours.size(d) for d in (0, 1, -1)] == [theirs.size(d) for d in (0, 1, -1)]
    assert ours.view(4, -1).tolist() == theirs.view(4, -1).tolist()
    assert ours.float().tolist() == theirs.float().tolist()
    assert ours.float().double().tolist() == theirs.float().double().tolist()


def test_retain_grad():
    a = draw((3, 4))
    x = mg.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    hs = []
    for v, lib in ((x, mg), (t, torch)):
        h = (v * v).tanh()
        h.retain_grad()
        g = h.exp()
        g.retain_grad()
        (g * h).sum().backward()
        hs.append((h, g))
    close(hs[0][0].grad, hs[1][0].grad)
    close(hs[0][1].grad, hs[1][1].grad)
    close(x.grad, t.grad)


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin"])
def test_reductions_with_dim_keepdim(name):
    a = draw((2, 3, 4))
    ours = getattr(mg.tensor(a), {"amax": "max", "amin": "min"}.get(name, name))(dim=1, keepdim=True)
    theirs = getattr(torch.tensor(a), name)(dim=1, keepdim=True)
    close(ours, theirs)


def test_softmax_cat_stack_with_dim():
    a = draw((2, 3))
    x, t = mg.tensor(a), torch.tensor(a)
    close(F.softmax(x, dim=0), torch.softmax(t, dim=0))
    close(F.log_softmax(x, dim=0), torch.log_softmax(t, dim=0))
    close(mg.cat([x, x], dim=1), torch.cat([t, t], dim=1))
    close(mg.stack([x, x], dim=1), torch.stack([t, t], dim=1))
