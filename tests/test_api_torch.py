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


# ---- nn and F ----------------------------------------------------------------------
def grads_agree(ours_inputs, theirs_inputs, ours_out, theirs_out, **kwargs):
    close(ours_out, theirs_out, **kwargs)
    upstream = draw(tuple(theirs_out.shape), seed=9)
    ours_out.backward(mg.tensor(upstream))
    theirs_out.backward(torch.tensor(upstream))
    for o, t in zip(ours_inputs, theirs_inputs):
        close(o.grad, t.grad, **kwargs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 2])
def test_cross_entropy_options(reduction, smoothing, weighted, ignore):
    a = draw((6, 4))
    target = np.array([0, 2, 1, 3, 2, 0])
    weight = np.array([0.5, 1.0, 2.0, 1.5]) if weighted else None
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    ours_kwargs, theirs_kwargs = dict(kwargs), dict(kwargs)
    if weighted:
        ours_kwargs["weight"], theirs_kwargs["weight"] = mg.tensor(weight), torch.tensor(weight)
    if ignore is not None:
        ours_kwargs["ignore_index"] = theirs_kwargs["ignore_index"] = ignore
    ours = F.cross_entropy(x, target, **ours_kwargs)
    theirs = torch.nn.functional.cross_entropy(t, torch.tensor(target), **theirs_kwargs)
    grads_agree([x], [t], ours, theirs)
    module = nn.CrossEntropyLoss(**ours_kwargs)(mg.tensor(a), mg.tensor(target))
    close(module, theirs)


@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(weighted):
    a = np.log(np.random.default_rng(1).dirichlet(np.ones(3), size=5))
    target = np.array([0, 1, 2, -100, 1])
    weight = np.array([1.0, 3.0, 0.5]) if weighted else None
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours = F.nll_loss(x, target, weight=None if weight is None else mg.tensor(weight))
    theirs = torch.nn.functional.nll_loss(t, torch.tensor(target),
                                          weight=None if weight is None else torch.tensor(weight))
    grads_agree([x], [t], ours, theirs)
    close(nn.NLLLoss(reduction="sum")(mg.tensor(a), target),
          torch.nn.NLLLoss(reduction="sum")(torch.tensor(a), torch.tensor(target)))


def test_mse_loss_module():
    a, b = draw((3, 2)), draw((3, 2), seed=1)
    close(nn.MSELoss(reduction="sum")(mg.tensor(a), mg.tensor(b)),
          torch.nn.MSELoss(reduction="sum")(torch.tensor(a), torch.tensor(b)))


@pytest.mark.parametrize("name", ["leaky_relu", "gelu", "gelu_tanh", "softmax", "log_softmax", "erf"])
def test_activations(name):
    a = draw((3, 5)) * 2
    a[0, 0] = 0.0
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    TF = torch.nn.functional
    ours, theirs = {
        "leaky_relu": lambda: (nn.LeakyReLU(0.2)(x), torch.nn.LeakyReLU(0.2)(t)),
        "gelu": lambda: (nn.GELU()(x), torch.nn.GELU()(t)),
        "gelu_tanh": lambda: (F.gelu(x, approximate="tanh"), TF.gelu(t, approximate="tanh")),
        "softmax": lambda: (nn.Softmax(dim=0)(x), torch.nn.Softmax(dim=0)(t)),
        "log_softmax": lambda: (nn.LogSoftmax(dim=1)(x), torch.nn.LogSoftmax(dim=1)(t)),
        "erf": lambda: (x.erf(), t.erf()),
    }[name]()
    grads_agree([x], [t], ours, theirs)


def test_one_hot():
    idx = np.array([[0, 3], [2, 1]])
    assert F.one_hot(mg.tensor(idx)).tolist() == torch.nn.functional.one_hot(torch.tensor(idx)).tolist()
    assert F.one_hot(mg.tensor(idx), 6).tolist() == torch.nn.functional.one_hot(torch.tensor(idx), 6).tolist()


@pytest.mark.parametrize("shape", [(4,), (3, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape, affine):
    a = draw((2,) + shape) * 3 + 1
    ours_layer, theirs_layer = nn.LayerNorm(shape, elementwise_affine=affine).double(), \
        torch.nn.LayerNorm(shape, elementwise_affine=affine).double()
    if affine:
        w, b = draw(shape, seed=3), draw(shape, seed=4)
        ours_layer.weight.data[...] = w
        ours_layer.bias.data[...] = b
        with torch.no_grad():
            theirs_layer.weight.copy_(torch.tensor(w))
            theirs_layer.bias.copy_(torch.tensor(b))
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = ours_layer(x), theirs_layer(t)
    grads_agree([x], [t], ours, theirs, rtol=1e-9, atol=1e-10)
    if affine:
        close(ours_layer.weight.grad, theirs_layer.weight.grad, rtol=1e-9, atol=1e-10)
        close(ours_layer.bias.grad, theirs_layer.bias.grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm(norm_type, max_norm):
    grads = [draw((3, 2)), draw(4, seed=1)]
    ours = [mg.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for o, t, g in zip(ours, theirs, grads):
        o.grad = mg.tensor(g.copy())
        t.grad = torch.tensor(g.copy())
    total_ours = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    close(total_ours, total_theirs)
    for o, t in zip(ours, theirs):
        close(o.grad, t.grad)


def torch_lrs(make, epochs):
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.3)
    schedule = make(torch.optim.lr_scheduler, optimizer)
    seen = []
    for _ in range(epochs):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return seen, schedule.get_last_lr()


def our_lrs(make, epochs):
    w = mg.zeros(1, requires_grad=True)
    optimizer = optim.SGD([w], lr=0.3)
    schedule = make(optim.lr_scheduler, optimizer)
    seen = []
    for _ in range(epochs):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return seen, schedule.get_last_lr()


from minigrad import optim  # noqa: E402

SCHEDULES = {
    "step": lambda lib, o: lib.StepLR(o, step_size=3, gamma=0.3),
    "step_default_gamma": lambda lib, o: lib.StepLR(o, 2),
    "cosine": lambda lib, o: lib.CosineAnnealingLR(o, T_max=7),
    "cosine_eta_min": lambda lib, o: lib.CosineAnnealingLR(o, T_max=4, eta_min=0.05),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_lr_schedules(name):
    ours, ours_last = our_lrs(SCHEDULES[name], 25)
    theirs, theirs_last = torch_lrs(SCHEDULES[name], 25)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ours_last, theirs_last, rtol=1e-13, atol=1e-15)


def test_sequential_of_new_layers_trains_like_torch():
    a = draw((8, 5))
    target = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    ours = nn.Sequential(nn.Linear(5, 6), nn.LayerNorm(6), nn.GELU(), nn.Linear(6, 6), nn.LeakyReLU(0.1),
                         nn.Identity(), nn.Linear(6, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.LayerNorm(6), torch.nn.GELU(),
                                 torch.nn.Linear(6, 6), torch.nn.LeakyReLU(0.1), torch.nn.Identity(),
                                 torch.nn.Linear(6, 3)).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    loss_ours = nn.CrossEntropyLoss(label_smoothing=0.1)(ours(mg.tensor(a)), target)
    loss_theirs = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(theirs(torch.tensor(a)), torch.tensor(target))
    close(loss_ours, loss_theirs)
    loss_ours.backward()
    loss_theirs.backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, q.grad, rtol=1e-9, atol=1e-12)


# ---- new ops -----------------------------------------------------------------------
UNIT = lambda shape: np.random.default_rng(5).uniform(-0.9, 0.9, shape)  # noqa: E731
POSITIVE = lambda shape: np.random.default_rng(5).uniform(0.5, 2.0, shape)  # noqa: E731
ABOVE_ONE = lambda shape: np.random.default_rng(5).uniform(1.1, 3.0, shape)  # noqa: E731
REAL = lambda shape: draw(shape, seed=5)  # noqa: E731

UNARY_OPS = [
    ("sin", REAL), ("cos", REAL), ("tan", UNIT), ("asin", UNIT), ("acos", UNIT), ("atan", REAL),
    ("sinh", REAL), ("cosh", REAL), ("asinh", REAL), ("acosh", ABOVE_ONE), ("atanh", UNIT),
    ("log2", POSITIVE), ("log10", POSITIVE), ("exp2", REAL), ("rsqrt", POSITIVE), ("sign", REAL),
    ("floor", REAL), ("ceil", REAL), ("round", REAL), ("trunc", REAL),
]


@pytest.mark.parametrize("name,domain", UNARY_OPS, ids=[n for n, _ in UNARY_OPS])
def test_unary_ops(name, domain):
    a = domain((3, 4))
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    grads_agree([x], [t], getattr(x, name)(), getattr(t, name)())


TENSOR_OPS = {
    "mod": (lambda x, y: x % y, [REAL, POSITIVE]),
    "mod_negative_divisor": (lambda x, y: x % (-y), [REAL, POSITIVE]),
    "minimum": (lambda x, y: (mg if isinstance(x, mg.Tensor) else torch).minimum(x, y), [REAL, POSITIVE]),
    "prod": (lambda x: x.prod(), [REAL]),
    "prod_dim": (lambda x: x.prod(dim=1, keepdim=True), [REAL]),
    "cumsum": (lambda x: x.cumsum(dim=1), [REAL]),
    "cumprod": (lambda x: x.cumprod(dim=0), [REAL]),
    "logsumexp": (lambda x: x.logsumexp(dim=1), [REAL]),
    "logsumexp_keepdim": (lambda x: x.logsumexp(dim=0, keepdim=True), [REAL]),
    "sort": (lambda x: x.sort(dim=1)[0], [REAL]),
    "sort_descending": (lambda x: x.sort(dim=0, descending=True)[0], [REAL]),
    "topk": (lambda x: x.topk(2, dim=1)[0], [REAL]),
    "topk_smallest": (lambda x: x.topk(2, dim=0, largest=False)[0], [REAL]),
    "flip": (lambda x: x.flip(dims=(0,)) if isinstance(x, mg.Tensor) else x.flip(dims=(0,)), [REAL]),
    "roll": (lambda x: x.roll(shifts=2, dims=1), [REAL]),
    "roll_flat": (lambda x: x.roll(3), [REAL]),
    "repeat": (lambda x: x.repeat(2, 1, 3), [REAL]),
    "tril": (lambda x: x.tril(diagonal=1), [REAL]),
    "triu": (lambda x: x.triu(diagonal=-1), [REAL]),
    "split": (lambda x: x.split(3, dim=1)[1], [REAL]),
    "split_sizes": (lambda x: x.split([1, 2], dim=0)[1], [REAL]),
    "chunk": (lambda x: x.chunk(3, dim=1)[1], [REAL]),
    "chunk_rows": (lambda x: x.chunk(2, dim=0)[1], [REAL]),
}


@pytest.mark.parametrize("name", TENSOR_OPS)
def test_tensor_ops(name):
    fn, domains = TENSOR_OPS[name]
    arrays = [d((3, 4)) for d in domains]
    ours = [mg.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    grads_agree(ours, theirs, fn(*ours), fn(*theirs))


def test_floordiv_and_chunk_counts():
    a, b = REAL((3, 4)), POSITIVE((3, 4))
    close(mg.tensor(a) // mg.tensor(b), torch.tensor(a) // torch.tensor(b))
    close(mg.tensor(a) // -1.5, torch.tensor(a) // -1.5)
    for length in range(1, 8):
        for chunks in range(1, 9):
            ours = [p.shape[0] for p in mg.zeros(length).chunk(chunks)]
            assert ours == [p.shape[0] for p in torch.zeros(length).chunk(chunks)], (length, chunks)


def test_sort_argsort_topk_indices():
    a = draw((3, 5))
    x, t = mg.tensor(a), torch.tensor(a)
    assert x.sort(dim=1).indices.tolist() == t.sort(dim=1).indices.tolist()
    assert x.argsort(dim=0, descending=True).tolist() == t.argsort(dim=0, descending=True).tolist()
    assert x.topk(3).indices.tolist() == t.topk(3).indices.tolist()


def test_any_all_isnan_isinf_isfinite():
    a = np.array([[0.0, np.nan, 1.0], [np.inf, -np.inf, 0.0]])
    x, t = mg.tensor(a), torch.tensor(a)
    for name in ("isnan", "isinf", "isfinite"):
        assert getattr(x, name)().tolist() == getattr(t, name)().tolist()
    b = np.array([[0.0, 2.0], [0.0, 0.0]])
    x, t = mg.tensor(b), torch.tensor(b)
    assert x.any().item() == t.any().item() and x.all(dim=1).tolist() == t.all(dim=1).tolist()


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, -1.0], [0.0, 0.0, 2.0, 1.0]])
def test_products_through_zeros(values):
    a = np.array(values)
    for name in ("prod", "cumprod"):
        x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        ours = x.prod() if name == "prod" else x.cumprod(0)
        theirs = t.prod() if name == "prod" else t.cumprod(0)
        grads_agree([x], [t], ours, theirs)


def test_constructors():
    assert mg.full((2, 3), 1.5).tolist() == torch.full((2, 3), 1.5).tolist()
    assert str(mg.full((2,), 3).dtype) == str(torch.full((2,), 3).dtype).replace("torch.", "")
    close(mg.linspace(-2, 3, steps=7).double(), torch.linspace(-2, 3, steps=7).double(), rtol=1e-6)
    assert mg.eye(3, 4).tolist() == torch.eye(3, 4).tolist()
    z = torch.zeros(2, 2, dtype=torch.float64)
    assert mg.full_like(mg.zeros(2, 2, dtype=mg.float64), 4.0).tolist() == torch.full_like(z, 4.0).tolist()


# ---- padding -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("amounts", [(1, 2), (2, 0, 1, 3), (0, 1, 2, 1)])
def test_pad(mode, amounts):
    a = draw((3, 4, 5) if len(amounts) == 2 else (2, 3, 4, 5))  # PyTorch's non-constant modes want these
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    grads_agree([x], [t], F.pad(x, amounts, mode=mode), torch.nn.functional.pad(t, amounts, mode=mode))


def test_pad_constant_value_and_cropping():
    a = draw((2, 3, 4))
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    grads_agree([x], [t], F.pad(x, (-1, 2, 1, -2), value=3.5),
                torch.nn.functional.pad(t, (-1, 2, 1, -2), value=3.5))


@pytest.mark.parametrize("kernel,dilation", [(3, 1), ((2, 4), 1), ((4, 3), (2, 1))])
def test_conv2d_same(kernel, dilation):
    a, k = draw((2, 3, 6, 7)), draw((4, 3) + ((kernel,) * 2 if isinstance(kernel, int) else kernel), seed=1)
    x, w = mg.tensor(a, requires_grad=True), mg.tensor(k, requires_grad=True)
    t, v = torch.tensor(a, requires_grad=True), torch.tensor(k, requires_grad=True)
    grads_agree([x, w], [t, v], F.conv2d(x, w, padding="same", dilation=dilation),
                torch.nn.functional.conv2d(t, v, padding="same", dilation=dilation))
    layer = nn.Conv2d(3, 4, kernel, padding="same", dilation=dilation).double()
    twin = torch.nn.Conv2d(3, 4, kernel, padding="same", dilation=dilation).double()
    twin.load_state_dict({key: torch.tensor(value) for key, value in layer.state_dict().items()})
    close(layer(mg.tensor(a)), twin(torch.tensor(a)), rtol=1e-9, atol=1e-12)


def test_conv2d_four_tuple_is_pad_then_conv():
    a, k = draw((1, 2, 5, 5)), draw((3, 2, 3, 3), seed=1)
    x, w = mg.tensor(a, requires_grad=True), mg.tensor(k, requires_grad=True)
    t, v = torch.tensor(a, requires_grad=True), torch.tensor(k, requires_grad=True)
    grads_agree([x, w], [t, v], F.conv2d(x, w, padding=(2, 0, 1, 3), stride=2),
                torch.nn.functional.conv2d(torch.nn.functional.pad(t, (2, 0, 1, 3)), v, stride=2))


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 2), (3, 1)])
def test_max_pool2d_same_is_tensorflows(kernel, stride):
    a = draw((1, 2, 7, 6))
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    step = kernel if stride is None else stride
    pads = []
    for size in (6, 7):  # width first, as F.pad counts
        total = max((-(-size // step) - 1) * step + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    theirs = torch.nn.functional.max_pool2d(torch.nn.functional.pad(t, pads, value=-float("inf")), kernel, stride)
    grads_agree([x], [t], F.max_pool2d(x, kernel, stride, padding="same"), theirs)


@pytest.mark.parametrize("kwargs", [{}, dict(momentum=0.9), dict(centered=True), dict(alpha=0.9, eps=1e-6),
                                    dict(centered=True, momentum=0.5, weight_decay=0.1)],
                         ids=["plain", "momentum", "centered", "alpha_eps", "all"])
def test_rmsprop(kwargs):
    a = draw((3, 4))
    w, t = mg.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)
    ours, theirs = optim.RMSprop([w], lr=0.02, **kwargs), torch.optim.RMSprop([t], lr=0.02, **kwargs)
    for _ in range(6):
        w.grad = None
        (w * w * w).tanh().sum().backward()
        ours.step()
        theirs.zero_grad()
        (t * t * t).tanh().sum().backward()
        theirs.step()
    close(w, t, rtol=1e-12, atol=1e-14)
    for key, value in theirs.state[t].items():
        if key == "step":
            assert ours.state[id(w)]["step"] == int(value)
        else:
            close(ours.state[id(w)][key], value, rtol=1e-12, atol=1e-14)


def test_var_std_with_correction():
    a = draw((3, 4))
    x, t = mg.tensor(a), torch.tensor(a)
    close(x.var(dim=1, correction=1), t.var(dim=1, correction=1))
    close(x.std(dim=0, correction=0, keepdim=True), t.std(dim=0, correction=0, keepdim=True))
    close(x.var(ddof=1), t.var())  # PyTorch's default is unbiased; minigrad's, as NumPy's, is not
