"""Batch norm against PyTorch (skipped when torch is not installed)."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

torch = pytest.importorskip("torch")

IMPLS = ("composed", "fused")


def draw(shape, seed):
    rng = np.random.default_rng(seed)
    channels = shape[1]
    return (rng.standard_normal(shape) * 2 + 0.5, rng.standard_normal(shape),
            rng.uniform(0.5, 2, channels), rng.standard_normal(channels))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 4, 5, 2)])
def test_functional_matches_torch(impl, training, shape):
    x, dy, weight, bias = draw(shape, seed=sum(shape))
    channels = shape[1]
    stats = (np.linspace(-1, 1, channels), np.linspace(0.5, 2, channels))

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(weight, requires_grad=True)
    tb = torch.tensor(bias, requires_grad=True)
    trm, trv = torch.tensor(stats[0]), torch.tensor(stats[1])
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=training, momentum=0.3, eps=1e-4)
    ty.backward(torch.tensor(dy))

    mx, mw, mb = (mg.Tensor(a.copy(), requires_grad=True) for a in (x, weight, bias))
    mrm, mrv = mg.Tensor(stats[0].copy()), mg.Tensor(stats[1].copy())
    my = F.batch_norm(mx, mrm, mrv, mw, mb, training=training, momentum=0.3, eps=1e-4, impl=impl)
    my.backward(mg.Tensor(dy))

    pairs = [(my, ty), (mx.grad, tx.grad), (mw.grad, tw.grad), (mb.grad, tb.grad), (mrm, trm), (mrv, trv)]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("track", [True, False])
def test_module_matches_torch_over_steps(impl, momentum, track):
    rng = np.random.default_rng(1)
    ours = nn.BatchNorm2d(3, momentum=momentum, track_running_stats=track, impl=impl)
    theirs = torch.nn.BatchNorm2d(3, momentum=momentum, track_running_stats=track)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for step in range(3):
        x = (rng.standard_normal((4, 3, 5, 5)) * (step + 1) + step).astype(np.float32)
        dy = rng.standard_normal(x.shape).astype(np.float32)
        mine = ours(mg.Tensor(x))
        mine.backward(mg.Tensor(dy))
        tx = torch.tensor(x)
        ref = theirs(tx)
        ref.backward(torch.tensor(dy))
        np.testing.assert_allclose(mine.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(mg.Tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_torch_state_dict_loads(impl):
    theirs = torch.nn.BatchNorm1d(4)
    theirs(torch.randn(8, 4) * 3 + 1)
    ours = nn.BatchNorm1d(4, impl=impl)
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(mg.Tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert int(ours.num_batches_tracked.item()) == 1


def test_one_value_per_channel_message_matches_torch():
    with pytest.raises(ValueError) as theirs:
        torch.nn.functional.batch_norm(torch.ones(1, 3), None, None, training=True)
    with pytest.raises(ValueError) as ours:
        F.batch_norm(mg.ones(1, 3), None, None, training=True)
    prefix = "Expected more than 1 value per channel when training, got input size"
    assert str(theirs.value).startswith(prefix) and str(ours.value).startswith(prefix)


@pytest.mark.parametrize("torch_first", [False, True])
def test_torch_loaded_first_changes_neither_the_layer_nor_the_numbers(torch_first):
    # PyTorch loads its own OpenMP runtime; the kernels keep the omp layer (safe under
    # threads and fork by minigrad's thread policy) and give the same bits.
    import os
    import subprocess
    import sys

    code = (
        ("import torch\n" if torch_first else "")
        + "import numpy as np, minigrad as mg, minigrad.nn.functional as F\n"
        "from minigrad.runtime import threads\n"
        "x = mg.tensor(np.random.default_rng(0).standard_normal((64, 8, 8, 8)).astype(np.float32))\n"
        "y = F.batch_norm(x, None, None, training=True)\n"
        "print(threads.layer(), float(np.abs(y.numpy()).astype(np.float64).sum()).hex())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY", "MINIGRAD_BACKEND")}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    layer, checksum = out.stdout.split()
    assert layer == "omp"
    x = np.random.default_rng(0).standard_normal((64, 8, 8, 8)).astype(np.float32)
    y = F.batch_norm(mg.tensor(x), None, None, training=True)
    assert float(np.abs(y.numpy()).astype(np.float64).sum()).hex() == checksum
