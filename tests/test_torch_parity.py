"""Numbers against PyTorch (an extra check; the suite does not depend on torch otherwise)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad import nn  # noqa: E402


def both(*arrays):
    """The same float64 values as minigrad and torch leaves."""
    ours = [mg.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    return ours, theirs


CASES = [
    ("broadcast_mul_div_pow", [(2, 1, 3), (4, 1)],
     lambda a, b: (a * b / (b * b + 1.0) + (a * a + 1.0) ** b).sum()),
    ("batched_matmul", [(2, 1, 3, 4), (5, 4, 2)], lambda a, b: (a @ b).tanh().sum()),
    ("vector_matmul", [(3,), (2, 3, 4)], lambda a, b: (a @ b).sigmoid().sum()),
    ("relu_abs_clip", [(2, 3)],
     lambda a: (a - 0.9).relu().sum() + (a - 1.0).abs().sum() + a.clip(0.7, 1.2).exp().sum()),
    ("softmax", [(3, 4)], None),
    ("var_ddof", [(3, 4)], None),
    ("indexing_repeated", [(4, 3)], None),
]


def run(name, fn, ours, theirs):
    if fn is not None:
        return fn(*ours), fn(*theirs)
    (a,), (t,) = ours, theirs
    if name == "softmax":
        w = np.arange(12.0).reshape(3, 4)
        return ((F.softmax(a, axis=1) * mg.tensor(w)).sum() + F.log_softmax(a, axis=0).sum(),
                (torch.softmax(t, dim=1) * torch.tensor(w)).sum() + torch.log_softmax(t, dim=0).sum())
    if name == "var_ddof":
        return (a.var(axis=1, ddof=1).sum() + a.std(axis=0).sum(),
                t.var(dim=1, correction=1).sum() + t.std(dim=0, correction=0).sum())
    if name == "indexing_repeated":
        idx = [0, 2, 2, 3]
        return (a[idx][:, 1:].exp().sum(), t[idx][:, 1:].exp().sum())
    raise AssertionError(name)


@pytest.mark.parametrize("name, shapes, fn", CASES, ids=[c[0] for c in CASES])
def test_ops_match_torch(name, shapes, fn):
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0.5, 1.5, size=s) for s in shapes]
    ours, theirs = both(*arrays)
    out, ref = run(name, fn, ours, theirs)
    ref.backward()
    out.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-10)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_max_and_maximum_tie_splitting_matches_torch():
    values = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    (a,), (t,) = both(values)
    (a.max(axis=1).sum() + mg.maximum(a, 2.0).sum()).backward()
    (t.amax(dim=1).sum() + torch.maximum(t, torch.tensor(2.0, dtype=torch.float64)).sum()).backward()
    np.testing.assert_allclose(a.grad.data, t.grad.numpy())


def test_mlp_gradients_match_torch():
    mg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    target = np.array([0, 2, 1, 1, 0])
    loss = F.cross_entropy(ours(mg.tensor(x)), target)
    loss.backward()
    ref = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(target))
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    torch_grads = {name: p.grad.numpy() for name, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.data, torch_grads[name], rtol=1e-4, atol=1e-6)


def test_mse_loss_matches_torch():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for reduction in ("mean", "sum", "none"):
        ours = F.mse_loss(mg.tensor(a), mg.tensor(b), reduction=reduction)
        ref = torch.nn.functional.mse_loss(torch.tensor(a), torch.tensor(b), reduction=reduction)
        np.testing.assert_allclose(ours.data, ref.numpy())


def test_linear_state_dict_names_and_shapes_match_torch():
    ours = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2, bias=False))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2, bias=False))
    ours_state = ours.state_dict()
    theirs_state = theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for name in ours_state:
        assert ours_state[name].shape == tuple(theirs_state[name].shape)
        assert ours_state[name].dtype == np.float32
    # a torch state_dict converted with .numpy() loads as is and gives torch's outputs
    ours.load_state_dict({k: v.numpy() for k, v in theirs_state.items()})
    x = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(mg.tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
