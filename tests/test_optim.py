"""Optimizers: updates written out by hand, state round trips, and PyTorch parity."""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-6)])
def test_matches_pytorch(name, kwargs, dtype, rtol):
    torch = pytest.importorskip("torch")
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).to(dtype)
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).to(
        getattr(torch, dtype))
    reference.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    ours = getattr(optim, name)(model.parameters(), **kwargs)
    theirs = getattr(torch.optim, name)(reference.parameters(), **kwargs)
    x = np.random.default_rng(1).standard_normal((8, 3)).astype(dtype)
    for _ in range(5):
        ours.zero_grad()
        (model(mg.tensor(x)) ** 2).mean().backward()
        ours.step()
        theirs.zero_grad()
        (reference(torch.from_numpy(x)) ** 2).mean().backward()
        theirs.step()
    for key, value in reference.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key], value.numpy(), rtol=rtol, atol=rtol * 1e-2)


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


# ---- check everything before changing anything ----------------------------------------
def _three_parameters():
    a = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = mg.tensor(np.array([-1.0, 0.5]), requires_grad=True)
    c = mg.tensor(np.array([4.0, 5.0, 6.0]), requires_grad=True)
    for p in (a, b, c):
        p.grad = mg.tensor(np.ones_like(p.data))
    return a, b, c


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda p: optim.Adam(p, lr=0.1),
    lambda p: optim.AdamW(p, lr=0.1),
])
@pytest.mark.parametrize("bad_grad", [
    np.ones(1),                              # would broadcast onto (3,)
    np.ones((3, 1)),                         # would broadcast to (3, 3) and fail midway
    np.ones(3, dtype=np.float32),            # another dtype
])
def test_step_with_one_bad_gradient_changes_nothing(make, bad_grad):
    a, b, c = _three_parameters()
    opt = make([a, b, c])
    opt.step()  # a good step first, so there is state to keep
    values = [p.data.copy() for p in (a, b, c)]
    state = copy_state(opt)
    versions = [p._version for p in (a, b, c)]
    c.grad = mg.tensor(bad_grad)
    with pytest.raises(ValueError, match=r"step: parameter 2 of group 0 has shape \(3,\) .* grad has shape"):
        opt.step()
    for p, before in zip((a, b, c), values):
        np.testing.assert_array_equal(p.data, before)
    assert [p._version for p in (a, b, c)] == versions
    assert_same_state(opt, state)  # Adam's step count included


def copy_state(opt):
    return {k: {n: np.copy(v) for n, v in s.items()} for k, s in opt.state.items()}


def assert_same_state(opt, state):
    assert opt.state.keys() == state.keys()
    for key, entries in state.items():
        assert opt.state[key].keys() == entries.keys()
        for name, value in entries.items():
            np.testing.assert_array_equal(opt.state[key][name], value)


def test_adam_does_not_count_a_failed_step():
    a, b, c = _three_parameters()
    opt = optim.Adam([a, b, c], lr=0.1)
    c.grad = mg.tensor(np.ones(1))
    with pytest.raises(ValueError, match="shape"):
        opt.step()
    assert opt.state == {}
    c.grad = mg.tensor(np.ones(3))
    opt.step()
    assert {s["step"] for s in opt.state.values()} == {1}
    # the first step of Adam moves every value by lr (less eps's share)
    np.testing.assert_allclose(a.data, [0.9, 1.9, 2.9], rtol=1e-8)


def test_step_on_a_read_only_parameter_raises_before_any_update():
    a, b, c = _three_parameters()
    c.data.flags.writeable = False
    opt = optim.SGD([a, b, c], lr=0.1)
    with pytest.raises(ValueError, match="read-only"):
        opt.step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0, 3.0])


def test_non_leaf_parameter_is_refused():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf Tensor .*Mul"):
        optim.SGD([p * 2], lr=0.1)


def test_duplicate_parameters_are_refused():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    q = mg.tensor([3.0], requires_grad=True)
    with pytest.raises(ValueError, match="duplicate parameters .*parameter 2.* same tensor as parameter 0"):
        optim.SGD([p, q, p], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optim.Adam([{"params": [p]}, {"params": [q, p]}])


@pytest.mark.parametrize("params, message", [
    (nn.Parameter(np.ones((2, 3))), "iterable of Tensors or dicts, but got Parameter"),
    (mg.tensor([1.0, 2.0], requires_grad=True), "iterable of Tensors or dicts, but got Tensor"),
    ({"weight": nn.Parameter(np.ones(2))}, "but got dict"),
    ("weights", "but got str"),
    ({nn.Parameter(np.ones(2))}, "ordered collections"),
    ([1.0, 2.0], "can only optimize Tensors, but parameter 0 of group 0 is float"),
    ([{"params": [nn.Parameter(np.ones(2))]}, [nn.Parameter(np.ones(2))]], "param_group must be a dict"),
])
def test_params_that_are_not_an_iterable_of_tensors_raise_type_error(params, message):
    with pytest.raises(TypeError, match=message):
        optim.SGD(params, lr=0.1)


def test_group_hyperparameters_are_checked_too():
    p = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="lr, momentum and weight_decay must be >= 0"):
        optim.SGD([{"params": [p], "lr": -1.0}], lr=0.1)
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.Adam([p], lr="fast")
    with pytest.raises(ValueError, match="betas must be a pair"):
        optim.Adam([p], betas=0.9)


def _trained_adam():
    w = mg.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    opt = optim.Adam([w], lr=0.05)
    quadratic_grad(w)
    opt.step()
    return w, opt


@pytest.mark.parametrize("bad, error, message", [
    ([1, 2], TypeError, "expected a dict .* got list"),
    ("state", TypeError, "got str"),
    (None, TypeError, "got NoneType"),
    ({"state": {}}, KeyError, "no 'param_groups'"),
    ({"state": [], "param_groups": [{"params": [0]}]}, TypeError, "'state' must be a dict"),
    ({"state": {}, "param_groups": "abc"}, TypeError, "'param_groups' must be a list of dicts"),
    ({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]}, ValueError, "2 parameter groups"),
    ({"state": {}, "param_groups": [{"params": [0], "lr": -1.0}]}, ValueError, "invalid lr=-1.0"),
    ({"state": {5: {}}, "param_groups": [{"params": [0]}]}, ValueError, "state for parameter 5"),
    ({"state": {0: {"step": 1}}, "param_groups": [{"params": [0]}]}, ValueError, "lacks"),
    ({"state": {0: {"step": -1, "exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3)}},
      "param_groups": [{"params": [0]}]}, ValueError, "'step' must be a count"),
    ({"state": {0: {"step": 1, "exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3), "momentum": 1}},
      "param_groups": [{"params": [0]}]}, ValueError, "unknown state entries"),
    ({"state": {0: {"step": 1, "exp_avg": np.array(["a", "b", "c"]), "exp_avg_sq": np.zeros(3)}},
      "param_groups": [{"params": [0]}]}, TypeError, "must hold numbers"),
])
def test_bad_state_dict_raises_and_changes_nothing(bad, error, message):
    w, opt = _trained_adam()
    before = copy_state(opt)
    groups = copy.deepcopy(opt.param_groups)
    with pytest.raises(error, match=message):
        opt.load_state_dict(bad)
    assert_same_state(opt, before)
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in groups]
    quadratic_grad(w)
    opt.step()  # and the optimizer still works
    assert next(iter(opt.state.values()))["step"] == 2


def test_state_dict_with_numpy_scalars_loads_as_python_values():
    # a file format may give the counts and hyperparameters back as NumPy scalars or 0-d arrays
    w, opt = _trained_adam()
    saved = opt.state_dict()
    saved["state"][0]["step"] = np.array(saved["state"][0]["step"])
    saved["param_groups"][0]["lr"] = np.float64(0.05)
    saved["param_groups"][0]["betas"] = np.array([0.9, 0.999])
    resumed = optim.Adam([w], lr=0.05)
    resumed.load_state_dict(saved)
    assert resumed.state[id(w)]["step"] == 1 and type(resumed.state[id(w)]["step"]) is int
    assert resumed.param_groups[0]["betas"] == (0.9, 0.999) and type(resumed.param_groups[0]["lr"]) is float


def test_loaded_state_is_a_copy_in_the_parameters_dtype():
    w = mg.tensor([1.0, 2.0], requires_grad=True)  # float32
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    buffer = np.array([0.5, 0.25])  # float64
    opt.load_state_dict({"state": {0: {"momentum_buffer": buffer}}, "param_groups": [{"params": [0]}]})
    loaded = opt.state[id(w)]["momentum_buffer"]
    assert loaded.dtype == np.float32 and loaded is not buffer


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1),
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01),
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
    lambda p: optim.AdamW(p, lr=0.01),
])
def test_parameters_of_several_sizes_and_dtypes_update_as_if_alone(make):
    # the scratch arrays are shared between parameters: no update may see another's
    rng = np.random.default_rng(3)
    shapes_dtypes = [((4, 3), np.float32), ((7,), np.float64), ((2, 2), np.float32), ((5, 6), np.float64)]
    together = [mg.tensor(rng.standard_normal(s).astype(d), requires_grad=True) for s, d in shapes_dtypes]
    alone = [mg.tensor(p.data.copy(), requires_grad=True) for p in together]
    opt = make(together)
    singles = [make([p]) for p in alone]
    for _ in range(3):
        for p, q in zip(together, alone):
            g = rng.standard_normal(p.shape).astype(p.dtype)
            p.grad, q.grad = mg.tensor(g), mg.tensor(g.copy())
        opt.step()
        for single in singles:
            single.step()
    for p, q in zip(together, alone):
        assert p.dtype == q.dtype
        np.testing.assert_array_equal(p.data, q.data)


# ---- the one-pass kernels (minigrad/backend/optim.py) against the NumPy updates ----------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01),
    lambda ps: optim.Adam(ps, lr=1e-2),
    lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=0.1),
    lambda ps: optim.AdamW(ps, lr=1e-2, betas=(0.8, 0.99)),
    # NumPy float64 hyperparameters (from np.logspace, say) make NumPy compute a float32
    # update in float64: the kernels must give those numbers too, or leave it to NumPy
    lambda ps: optim.SGD(ps, lr=np.float64(0.05), momentum=np.float64(0.9)),
    lambda ps: optim.Adam(ps, lr=np.float64(1e-2), betas=(np.float64(0.9), 0.999)),
], ids=["sgd-momentum", "sgd-decay", "adam", "adam-decay", "adamw", "sgd-numpy-floats", "adam-numpy-floats"])
def test_the_update_kernels_equal_the_numpy_updates_bit_for_bit(make, dtype):
    from minigrad import backend

    rng = np.random.default_rng(3)
    shapes = [(300, 70), (70,), (3, 1, 5, 5)]  # a size above the kernels' parallel threshold too
    shapes.append((1200, 1000))
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(4)]
    finals = []
    for name in ("fast", "reference"):
        with backend.use(name):
            params = [mg.tensor(a.copy(), requires_grad=True) for a in start]
            opt = make(params)
            for step_grads in grads:
                for p, g in zip(params, step_grads):
                    p.grad = mg.tensor(g)
                opt.step()
            finals.append([p.data for p in params] + [a for s in opt.state.values() for a in s.values()
                                                       if isinstance(a, np.ndarray)])
    for fast, reference in zip(*finals):
        assert fast.dtype == reference.dtype
        np.testing.assert_array_equal(fast, reference)
    assert not np.array_equal(finals[0][0], start[0])  # the parameters did move


@pytest.mark.parametrize("kind", ["sgd", "adam", "adamw"])
@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 30), min_size=1, max_size=3).map(tuple),
       dtype=st.sampled_from([np.float32, np.float64]),
       lr=st.floats(1e-4, 1.0), beta=st.floats(0.0, 0.999), seed=st.integers(0, 2**16))
def test_the_update_kernels_equal_the_numpy_updates_over_drawn_shapes_and_hyperparameters(
        kind, shape, dtype, lr, beta, seed):
    from minigrad import backend

    rng = np.random.default_rng(seed)
    start = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(3)]
    finals = []
    for name in ("fast", "reference"):
        with backend.use(name):
            p = mg.tensor(start.copy(), requires_grad=True)
            if kind == "sgd":
                opt = optim.SGD([p], lr=lr, momentum=beta)
            elif kind == "adam":
                opt = optim.Adam([p], lr=lr, betas=(beta, 0.999))
            else:
                opt = optim.AdamW([p], lr=lr, betas=(0.9, beta), weight_decay=0.05)
            for g in grads:
                p.grad = mg.tensor(g)
                opt.step()
            finals.append([p.data] + [a for s in opt.state.values() for a in s.values() if isinstance(a, np.ndarray)])
    for fast, reference in zip(*finals):
        np.testing.assert_array_equal(fast, reference)
