"""nn.to_torch and nn.from_torch: the same model, the same numbers, in either framework.

Skipped where PyTorch is not installed.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from models import LAYERS, with_statistics

torch = pytest.importorskip("torch")
tnn = torch.nn


def _inputs(shape, dtype=np.float32, batch_sizes=(1, 7)):
    rng = np.random.default_rng(1)
    return [rng.normal(size=(n,) + shape).astype(dtype) for n in batch_sizes]


def _same_state(minigrad_model, torch_model):
    ours = minigrad_model.state_dict()
    theirs = torch_model.state_dict()
    assert list(ours) == list(theirs)
    for name, value in ours.items():
        other = theirs[name].numpy()
        assert other.dtype == value.dtype, name
        np.testing.assert_array_equal(other, value, err_msg=name)


@pytest.mark.parametrize("name", LAYERS)
def test_to_torch_gives_minigrads_outputs(name):
    mg.manual_seed(0)
    build, shape = LAYERS[name]
    model = with_statistics(build(), shape)
    twin = nn.to_torch(model)
    assert not twin.training
    _same_state(model, twin)
    for x in _inputs(shape):
        with torch.no_grad():
            got = twin(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, model(mg.tensor(x)).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["digits CNN", "MLP with BatchNorm1d"])
def test_to_torch_keeps_float64_and_training_mode(name):
    mg.manual_seed(0)
    build, shape = LAYERS[name]
    model = with_statistics(build().double(), shape).train()
    twin = nn.to_torch(model)
    assert twin.training and all(m.training for m in twin.modules())
    _same_state(model, twin)
    # one training step's forward on both: batch statistics, and the same running statistics after
    for module in list(model.modules()) + list(twin.modules()):
        if type(module).__name__ == "Dropout":
            module.p = 0.0
    x = _inputs(shape, np.float64, batch_sizes=(6,))[0]
    got = twin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, model(mg.tensor(x)).numpy(), rtol=1e-10, atol=1e-10)
    theirs = twin.state_dict()
    for name_, value in model.state_dict().items():
        np.testing.assert_allclose(theirs[name_].numpy(), value, rtol=1e-10, atol=1e-12, err_msg=name_)


def torch_cnn():
    return tnn.Sequential(
        tnn.Conv2d(1, 16, 3, padding=1), tnn.BatchNorm2d(16), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, 3, padding="same"), tnn.BatchNorm2d(32), tnn.ReLU(), tnn.AvgPool2d(2),
        tnn.Flatten(), tnn.Dropout(0.3), tnn.Linear(32 * 2 * 2, 10),
    )


def torch_mlp():
    return tnn.Sequential(
        tnn.Flatten(), tnn.Linear(64, 32), tnn.BatchNorm1d(32, momentum=None), tnn.ReLU(),
        tnn.Sequential(tnn.Linear(32, 16, bias=False), tnn.BatchNorm1d(16, affine=False), tnn.Sigmoid()),
        tnn.Linear(16, 10), tnn.Tanh(),
    )


def torch_newer_layers():
    return tnn.Sequential(
        tnn.Flatten(), tnn.Linear(64, 12), tnn.LayerNorm(12), tnn.GELU(), tnn.Identity(),
        tnn.Linear(12, 12), tnn.LeakyReLU(0.2), tnn.LayerNorm(12, elementwise_affine=False),
        tnn.GELU(approximate="tanh"), tnn.Linear(12, 5), tnn.LogSoftmax(dim=1),
    )


def _randomized(torch_model, shape):
    """Random weights (PyTorch's init), random BatchNorm affine and running statistics."""
    torch.manual_seed(0)
    for module in torch_model.modules():
        if isinstance(module, (tnn.BatchNorm1d, tnn.BatchNorm2d)) and module.affine:
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.5)
    torch_model.train()
    with torch.no_grad():
        for _ in range(3):
            torch_model(torch.randn((8,) + shape) * 2 + 1)
    return torch_model.eval()


@pytest.mark.parametrize("build", [torch_cnn, torch_mlp, torch_newer_layers], ids=["CNN", "MLP", "newer layers"])
def test_from_torch_gives_pytorchs_outputs(build):
    twin = _randomized(build(), (1, 8, 8))
    model = nn.from_torch(twin)
    assert not model.training
    _same_state(model, twin)
    for x in _inputs((1, 8, 8)):
        with torch.no_grad():
            want = twin(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(model(mg.tensor(x)).numpy(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own speed
def test_padding_same_with_an_even_kernel_both_ways():
    torch.manual_seed(0)
    twin = tnn.Sequential(tnn.Conv2d(2, 3, (2, 4), padding="same", dilation=(1, 2)), tnn.ReLU())
    model = nn.from_torch(twin)
    x = _inputs((2, 6, 9))[1]
    with torch.no_grad():
        want = twin(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(model(mg.tensor(x)).numpy(), want, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(nn.to_torch(model)(torch.from_numpy(x)).numpy(), want, rtol=1e-6, atol=1e-6)


def test_to_torch_refuses_uneven_explicit_padding():
    with pytest.raises(NotImplementedError, match=r"layer '0' \(Conv2d\) pads \(0, 1, 1, 1\)"):
        nn.to_torch(nn.Sequential(nn.Conv2d(1, 1, 3, padding=(0, 1, 1, 1))))


def test_from_torch_then_to_torch_is_the_same_model():
    twin = _randomized(torch_cnn(), (1, 8, 8))
    back = nn.to_torch(nn.from_torch(twin))
    assert repr(back) == repr(twin)
    _same_state(nn.from_torch(twin), back)


class OwnForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 2)

    def forward(self, x):
        return self.layer(x) * 2


class PlainStack(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(3, 2), nn.ReLU())


def test_a_sequential_subclass_converts_as_a_sequential():
    model = PlainStack().eval()
    twin = nn.to_torch(model)
    x = _inputs((3,))[1]
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), model(mg.tensor(x)).numpy(), atol=1e-6)


def test_to_torch_refuses_a_module_with_its_own_forward_naming_it():
    with pytest.raises(NotImplementedError, match=r"the model is a OwnForward.*own forward"):
        nn.to_torch(OwnForward())
    with pytest.raises(NotImplementedError, match=r"layer '1.0' is a OwnForward"):
        nn.to_torch(nn.Sequential(nn.ReLU(), nn.Sequential(OwnForward())))


def test_from_torch_refuses_unknown_layers_and_settings_naming_them():
    with pytest.raises(NotImplementedError, match=r"layer '1' is a torch SiLU"):
        nn.from_torch(tnn.Sequential(tnn.Linear(2, 2), tnn.SiLU()))
    with pytest.raises(NotImplementedError, match=r"layer '0' \(Conv2d\) pads with 'reflect'"):
        nn.from_torch(tnn.Sequential(tnn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")))
    with pytest.raises(NotImplementedError, match=r"layer '0' \(MaxPool2d\).*ceil_mode"):
        nn.from_torch(tnn.Sequential(tnn.MaxPool2d(2, ceil_mode=True)))
    with pytest.raises(NotImplementedError, match=r"Softmax\) has dim=None"):
        nn.from_torch(tnn.Softmax())
    with pytest.raises(NotImplementedError, match=r"AvgPool2d.*count_include_pad=False"):
        nn.from_torch(tnn.AvgPool2d(2, count_include_pad=False))
