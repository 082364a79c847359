"""The PyTorch-style layers and functions: losses, activations, Identity, ModuleList,
LayerNorm, one_hot, clip_grad_norm_, the learning-rate schedules, and a Sequential's
errors naming the layer. Numbers written out by hand here; tests/test_api_torch.py
compares them with PyTorch."""

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim


def f64(values, requires_grad=True):
    return mg.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- losses ----------------------------------------------------------------------------
def test_loss_modules_are_their_functions():
    logits = f64(draw((4, 3)))
    target = np.array([0, 2, 1, 2])
    assert nn.CrossEntropyLoss()(logits, target).item() == F.cross_entropy(logits, target).item()
    assert nn.CrossEntropyLoss(reduction="sum")(logits, target).item() == pytest.approx(
        F.cross_entropy(logits, target, reduction="sum").item())
    log_probs = F.log_softmax(logits, axis=1)
    assert nn.NLLLoss()(log_probs, target).item() == pytest.approx(F.cross_entropy(logits, target).item())
    y = f64(draw((4, 3), seed=1))
    assert nn.MSELoss()(logits, y).item() == F.mse_loss(logits, y).item()
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of"):
        nn.MSELoss(reduction="avg")


def test_nll_loss_by_hand_with_weight_and_ignore_index():
    log_probs = f64([[-1.0, -2.0, -3.0], [-0.5, -1.5, -2.5], [-0.1, -0.2, -0.3]])
    weight = f64([1.0, 2.0, 4.0], requires_grad=False)
    target = [2, 1, -100]
    loss = F.nll_loss(log_probs, target, weight=weight)
    assert loss.item() == pytest.approx((3.0 * 4 + 1.5 * 2) / (4 + 2))
    assert F.nll_loss(log_probs, target, reduction="none").tolist() == [3.0, 1.5, 0.0]
    assert F.nll_loss(log_probs, [0, 0, 0], ignore_index=0, reduction="sum").item() == 0.0


def test_cross_entropy_label_smoothing_by_hand():
    logits = f64([[2.0, 0.0, -1.0]])
    logp = logits.data - np.log(np.exp(logits.data).sum())
    smoothing = 0.3
    expected = -(1 - smoothing) * logp[0, 1] - smoothing * logp.mean()
    assert F.cross_entropy(logits, [1], label_smoothing=smoothing).item() == pytest.approx(expected)
    assert mg.gradcheck(lambda t: F.cross_entropy(t, [1], label_smoothing=smoothing), [logits])


def test_cross_entropy_ignore_index():
    logits = f64(draw((3, 4)))
    full = F.cross_entropy(logits, [1, 2, 3], reduction="none")
    ignored = F.cross_entropy(logits, [1, -100, 3])
    assert ignored.item() == pytest.approx((full.data[0] + full.data[2]) / 2)
    assert F.cross_entropy(logits, [1, 7, 3], ignore_index=7, reduction="none").tolist()[1] == 0.0
    ignored.backward()
    np.testing.assert_array_equal(logits.grad.data[1], np.zeros(4))  # an ignored row gets no gradient
    with pytest.warns(RuntimeWarning):  # every row ignored: 0/0, nan as PyTorch
        assert math.isnan(F.cross_entropy(logits, [-100, -100, -100]).item())


def test_cross_entropy_checks():
    logits = f64(draw((2, 3)))
    with pytest.raises(ValueError, match=r"cross_entropy: target values must lie in \[0, 3\)"):
        F.cross_entropy(logits, [0, 3])
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must lie in"):
        F.cross_entropy(logits, [0, 1], label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have one value per class, shape \(3,\)"):
        F.cross_entropy(logits, [0, 1], weight=mg.ones(2))
    with pytest.raises(ValueError, match="nll_loss: expected input"):
        F.nll_loss(logits, [0])


# ---- activations, Identity, one_hot ------------------------------------------------------
def test_activation_modules():
    x = f64([-2.0, -0.5, 0.0, 1.5])
    assert nn.LeakyReLU(0.2)(x).tolist() == pytest.approx([-0.4, -0.1, 0.0, 1.5])
    assert nn.LeakyReLU()(x).tolist() == pytest.approx([-0.02, -0.005, 0.0, 1.5])
    exact = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()]
    assert nn.GELU()(x).tolist() == pytest.approx(exact, rel=1e-12)
    assert nn.GELU(approximate="tanh")(x).tolist() == pytest.approx(exact, abs=1e-3)
    with pytest.raises(ValueError, match="GELU: approximate must be one of"):
        nn.GELU(approximate="fast")
    m = f64(draw((2, 3)))
    np.testing.assert_array_equal(nn.Softmax(axis=0)(m).data, F.softmax(m, axis=0).data)
    np.testing.assert_array_equal(nn.Softmax(dim=0)(m).data, F.softmax(m, axis=0).data)
    np.testing.assert_array_equal(nn.LogSoftmax(dim=1)(m).data, F.log_softmax(m, axis=1).data)
    assert nn.Identity(3, anything="ignored")(m) is m


def test_leaky_relu_gradient_at_zero_is_the_slope():
    x = f64([0.0])
    F.leaky_relu(x, 0.25).sum().backward()
    assert x.grad.tolist() == [0.25]


def test_erf_matches_the_standard_library_with_and_without_scipy():
    from minigrad.ops import special

    values = np.linspace(-4, 4, 33)
    expected = [math.erf(v) for v in values]
    np.testing.assert_allclose(special.erf_array(values), expected, rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(np.asarray(special._math_erf(values), dtype=float), expected, rtol=0)
    assert special.erf_array(np.float32(1.0) * np.ones(2, np.float32)).dtype == np.float32
    assert mg.tensor(0.5).erf().dtype == np.float32


def test_one_hot():
    assert F.one_hot(mg.tensor([2, 0]), num_classes=4).tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    out = F.one_hot(np.array([[1], [3]]))
    assert out.shape == (2, 1, 4) and out.dtype == np.int64
    with pytest.raises(ValueError, match="one_hot: class index 3 does not fit num_classes=3"):
        F.one_hot(mg.tensor([3]), 3)
    with pytest.raises(ValueError, match="one_hot: expects integer"):
        F.one_hot(mg.tensor([1.0]))
    with pytest.raises(ValueError, match="one_hot: class indices must be >= 0"):
        F.one_hot(mg.tensor([-1]), 3)


# ---- ModuleList, LayerNorm ---------------------------------------------------------------
def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 1)])
    layers.append(nn.Tanh())
    assert [name for name, _ in layers.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert len(layers) == 3 and isinstance(layers[-1], nn.Tanh)
    assert isinstance(layers[:2], nn.ModuleList) and len(layers[:2]) == 2
    layers.insert(0, nn.ReLU())
    assert [type(m).__name__ for m in layers] == ["ReLU", "Linear", "Linear", "Tanh"]
    assert list(layers.state_dict()) == ["1.weight", "1.bias", "2.weight", "2.bias"]
    layers[0] = nn.Identity()
    del layers[3]
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "Linear"]
    with pytest.raises(TypeError, match="ModuleList: int is not a Module"):
        layers.append(3)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(2))

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    net = Net()
    assert len(list(net.parameters())) == 4
    assert net(mg.ones(1, 2)).shape == (1, 2)


def test_layer_norm_module():
    layer = nn.LayerNorm((3, 4))
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3, 4)
    x = mg.tensor(draw((2, 3, 4)).astype(np.float32))
    out = layer(x)
    assert out.dtype == np.float32
    flat = out.data.reshape(2, -1)
    np.testing.assert_allclose(flat.mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(flat.var(axis=1), 1, atol=1e-3)
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    assert nn.LayerNorm(4, bias=False).bias is None
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(2, 3, 4\) does not end in normalized_shape \(3,\)"):
        nn.LayerNorm(3)(x)


def test_layer_norm_gradcheck_with_weight_and_bias():
    x, w, b = f64(draw((2, 3))), f64(draw(3, seed=1)), f64(draw(3, seed=2))
    assert mg.gradcheck(lambda *ts: F.layer_norm(ts[0], (3,), ts[1], ts[2]), [x, w, b])
    assert mg.gradgradcheck(lambda *ts: F.layer_norm(ts[0], (3,), ts[1], ts[2]), [x, w, b])


# ---- clip_grad_norm_ ---------------------------------------------------------------------
def test_clip_grad_norm_scales_every_gradient():
    a, b = f64([3.0]), f64([0.0, 4.0])
    a.grad, b.grad = f64([3.0], False), f64([0.0, 4.0], False)
    unused = f64([1.0])
    total = nn.utils.clip_grad_norm_([a, b, unused], max_norm=2.5)
    assert total.item() == pytest.approx(5.0)
    coefficient = 2.5 / (5.0 + 1e-6)
    assert a.grad.tolist() == pytest.approx([3.0 * coefficient])
    assert b.grad.tolist() == pytest.approx([0.0, 4.0 * coefficient])
    assert unused.grad is None
    # under the limit nothing changes
    assert nn.utils.clip_grad_norm_([a, b], max_norm=10.0).item() == pytest.approx(2.5, rel=1e-6)
    assert a.grad.tolist() == pytest.approx([3.0 * coefficient])


def test_clip_grad_norm_inf_and_nonfinite():
    a = f64([1.0, -3.0])
    a.grad = f64([1.0, -3.0], False)
    assert nn.utils.clip_grad_norm_(a, 1.0, norm_type="inf").item() == 3.0
    assert a.grad.tolist() == pytest.approx([1 / 3, -1.0], rel=1e-5)
    a.grad = f64([np.inf, 1.0], False)
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm"):
        nn.utils.clip_grad_norm_(a, 1.0, error_if_nonfinite=True)
    assert a.grad.tolist()[1] == 1.0  # left as it was
    w = mg.ones(2, requires_grad=True)
    w.grad = mg.ones(2)
    assert nn.utils.clip_grad_norm_(w, 1.0).dtype == np.float32 and w.grad.dtype == np.float32


# ---- learning-rate schedules -------------------------------------------------------------
def lrs_of(make, epochs, lr=0.5):
    optimizer = optim.SGD([mg.zeros(1, requires_grad=True)], lr=lr)
    schedule = make(optimizer)
    seen = []
    for _ in range(epochs):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return seen


def test_step_lr():
    seen = lrs_of(lambda o: optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 8)
    assert seen == pytest.approx([0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125])
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive int"):
        optim.lr_scheduler.StepLR(optim.SGD([mg.zeros(1, requires_grad=True)], lr=1.0), step_size=0)


def test_cosine_annealing_lr_closed_form():
    period, low = 5, 0.01
    seen = lrs_of(lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=period, eta_min=low), 16)
    expected = [low + (0.5 - low) * (1 + math.cos(math.pi * t / period)) / 2 for t in range(16)]
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_scheduler_import_paths_and_state():
    from minigrad.optim import lr_scheduler
    from minigrad.optim.lr_scheduler import CosineAnnealingLR

    assert lr_scheduler.StepLR is optim.lr_scheduler.StepLR
    optimizer = optim.SGD([mg.zeros(1, requires_grad=True)], lr=1.0)
    schedule = CosineAnnealingLR(optimizer, T_max=4)
    schedule.step()
    saved = schedule.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 1
    schedule.step()
    schedule.load_state_dict(saved)
    assert schedule.last_epoch == 1
    assert schedule.get_last_lr() == [pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))]
    schedule.step()  # resumes from the saved epoch
    assert schedule.last_epoch == 2
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD([mg.zeros(1, requires_grad=True)], lr=1.0), 2, last_epoch=3)


# ---- a Sequential's errors name the layer ------------------------------------------------
def test_sequential_error_names_the_layer():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(6, 2))
    with pytest.raises(ValueError) as caught:
        model(mg.zeros(3, 4))
    message = str(caught.value)
    assert message.startswith("Sequential[2] (Linear(in_features=6, out_features=2, bias=True)): linear: ")
    assert "(3, 8)" in message


def test_nested_sequential_errors_give_the_path():
    model = nn.Sequential(nn.Sequential(nn.Flatten(), nn.Linear(5, 2)))
    with pytest.raises(ValueError, match=r"^Sequential\[0\] \(Sequential\): Sequential\[1\] \(Linear"):
        model(mg.zeros(2, 4))


def test_sequential_keeps_errors_it_cannot_rename():
    class Odd(nn.Module):
        def forward(self, x):
            raise KeyError("missing", 2)

    with pytest.raises(KeyError) as caught:
        nn.Sequential(Odd())(mg.zeros(1))
    assert caught.value.args == ("missing", 2)


def test_module_to_accepts_cpu_and_dtypes():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    assert model.to("cpu") is model and model[0].weight.dtype == np.float32
    assert model.to("cpu", mg.float64) is model and model[0].weight.dtype == np.float64
    assert model.to(dtype=mg.float32)[1].running_mean.dtype == np.float32
    assert model.to(device="cpu:0") is model
    with pytest.raises(ValueError, match="Sequential.to: minigrad runs on the CPU only; device 'cuda'"):
        model.to("cuda")
    with pytest.raises(TypeError, match="two dtypes"):
        model.to(mg.float32, mg.float64)
    assert model[0].weight.dtype == np.float32  # a refused call changed nothing
