"""Every fast path against the NumPy reference backend, over drawn shapes.

Bounds: float64 agrees to 1e-10 (relative to the largest value compared); float32 to
2e-5 for the columns and batch-norm paths (float64 sums on both sides, float32 products)
and 1e-4 for Winograd (its transforms scale values by up to about 100 before rounding
to float32; documented in minigrad/kernels/winograd.py).
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import backend
from minigrad.backend import conv as conv_backend
from minigrad.backend import reference
from minigrad.ops import conv as conv_ops

BOUNDS = {np.float64: {"columns": 1e-10, "numpy": 1e-10, "winograd": 1e-10},
          np.float32: {"columns": 2e-5, "numpy": 2e-5, "winograd": 1e-4}}


def close(got, expected, bound, scale=1.0):
    """``got`` within ``bound`` of ``expected``, relative to the larger of ``scale`` and
    the largest value expected."""
    scale = max(scale, float(np.abs(expected).max(initial=0.0)))
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert float(np.abs(got.astype(np.float64) - expected).max(initial=0.0)) <= bound * scale


def conv_step(x, w, b, stride, padding, dilation, groups, upstream):
    xt, wt, bt = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride, padding, dilation, groups)
    out.backward(mg.tensor(upstream.astype(out.dtype)))
    return [out.data, xt.grad.data, wt.grad.data, bt.grad.data]


@st.composite
def convolutions(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), 9))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), 9))
    n = draw(st.integers(1, 3))
    return (n, c_in, h, w), (c_out, c_in // groups, kh, kw), stride, padding, dilation, groups


@pytest.mark.parametrize("path", ["numpy", "columns", "winograd"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=12, deadline=None)
@given(case=convolutions(), seed=st.integers(0, 2**16))
def test_conv2d_fast_paths_equal_the_reference(path, dtype, case, seed):
    x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, (w_shape[0],)))
    geometry = conv_ops.Geometry(stride, padding, dilation, groups)
    out_size = reference.conv_output_size(x_shape, w_shape[2:], geometry)
    upstream = rng.standard_normal((x_shape[0], w_shape[0]) + out_size)
    with backend.use("reference"):
        expected = conv_step(x, w, b, stride, padding, dilation, groups, upstream)

    def choose(input_shape, c_out, kernel, geometry, dtypes):
        if path == "winograd" and not conv_backend.winograd_possible(kernel, geometry, dtypes):
            return "columns"
        return path

    with pytest.MonkeyPatch.context() as patch:  # undone after each drawn example
        patch.setattr(conv_backend, "choose", choose)
        got = conv_step(x, w, b, stride, padding, dilation, groups, upstream)
    for a, e in zip(got, expected):
        close(a, e, BOUNDS[dtype][path])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=20, deadline=None)
@given(shape=st.sampled_from([(2, 3), (7, 5), (40, 6), (3, 4, 1), (5, 3, 7), (4, 2, 17), (3, 4, 5, 6)]),
       training=st.booleans(), seed=st.integers(0, 2**16))
def test_fused_batch_norm_equals_the_reference(dtype, shape, training, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    upstream = rng.standard_normal(shape).astype(dtype)
    weight, bias = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)

    def step():
        xt, wt, bt = (mg.tensor(a, requires_grad=True) for a in (x, weight, bias))
        rm, rv = mg.tensor(np.zeros(c, dtype)), mg.tensor(np.ones(c, dtype))
        y = F.batch_norm(xt, rm, rv, wt, bt, training=training, impl="fused")
        y.backward(mg.tensor(upstream))
        return [y.data, xt.grad.data, wt.grad.data, bt.grad.data, rm.data, rv.data]

    got = step()
    with backend.use("reference"):
        expected = step()
    # dx is a difference of terms as large as weight * dy / std (they cancel for a small
    # batch), and float32 rounds each of them: the bound is relative to their size.
    axes = (0,) + tuple(range(2, x.ndim))
    std = np.sqrt(x.astype(np.float64).var(axis=axes) + 1e-5) if training else 1.0
    terms = float(np.abs(weight / std).max() * np.abs(upstream).max())
    for index, (a, e) in enumerate(zip(got, expected)):
        close(a, e, 1e-10 if dtype == np.float64 else 2e-5, terms if index == 1 else 1.0)


def test_the_switch():
    assert backend.current() == backend.DEFAULT
    with backend.use("reference"):
        assert reference.active()
        with backend.use("fast"):
            assert backend.current() == "fast" and not reference.active()
        assert reference.active()
    with pytest.raises(ValueError, match="backend.use"):
        with backend.use("numba"):
            pass
    code = "from minigrad import backend; print(backend.current())"
    for value, printed in (("reference", "reference"), ("", "fast")):
        env = dict(os.environ, MINIGRAD_BACKEND=value)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == printed
    bad = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, MINIGRAD_BACKEND="gpu"),
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "MINIGRAD_BACKEND must be one of" in bad.stderr


def test_the_reference_backend_imports_no_numba():
    code = (
        "import sys, numpy as np, minigrad as mg, minigrad.nn.functional as F\n"
        "x = mg.tensor(np.ones((8, 16, 16, 16), np.float32), requires_grad=True)\n"
        "w = mg.tensor(np.ones((16, 16, 3, 3), np.float32), requires_grad=True)\n"
        "F.batch_norm(F.conv2d(x, w, padding=1), None, None, training=True).sum().backward()\n"
        "print('numba' in sys.modules)\n"
    )
    env = dict(os.environ, MINIGRAD_BACKEND="reference")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- degenerate convolutions, as PyTorch -----------------------------------------------------
@pytest.mark.parametrize("name", ["fast", "reference"])
def test_conv2d_on_an_empty_batch(name):
    with backend.use(name):
        x = mg.tensor(np.ones((0, 3, 5, 5)), requires_grad=True)
        w = mg.tensor(np.ones((4, 3, 3, 3)), requires_grad=True)
        out = F.conv2d(x, w, mg.tensor(np.ones(4)), padding=0)
        assert out.shape == (0, 4, 3, 3)
        out.sum().backward()
        assert x.grad.shape == (0, 3, 5, 5) and np.array_equal(w.grad.data, np.zeros((4, 3, 3, 3)))


def test_conv2d_zero_kernel_or_filters_are_clear_errors():
    x = mg.ones(1, 3, 5, 5)
    with pytest.raises(ValueError, match=r"conv2d: kernel size should be greater than zero.*\(1, 3, 0, 3\)"):
        F.conv2d(x, mg.ones(1, 3, 0, 3))
    with pytest.raises(ValueError, match=r"conv2d: weight of shape \(0, 3, 3, 3\) has no filters"):
        F.conv2d(x, mg.ones(0, 3, 3, 3))


def test_a_conv_path_is_timed_once_per_problem_then_looked_up():
    from minigrad.backend import cost

    made, ran = [], []

    def make_step():
        made.append(1)
        return lambda: ran.append(cost.trial_path())

    problem = ("test problem", object())
    first = cost.fastest(problem, ["numpy", "columns"], make_step)
    assert made == [1] and set(ran) == {"numpy", "columns"}
    assert len(ran) == 2 * (1 + cost.TRIALS)  # one untimed run and TRIALS rounds each
    assert cost.trial_path() is None
    for _ in range(3):
        assert cost.fastest(problem, ["numpy", "columns"], make_step) == first
    assert made == [1] and len(ran) == 2 * (1 + cost.TRIALS)  # nothing made or run again
    assert cost.choices()[problem][0] == first


def test_conv2d_makes_no_timing_data_once_its_path_is_chosen(monkeypatch):
    x = mg.tensor(np.random.default_rng(0).standard_normal((4, 8, 12, 12)).astype(np.float32))
    w = mg.tensor(np.random.default_rng(1).standard_normal((8, 8, 3, 3)).astype(np.float32))
    F.conv2d(x, w, padding=1)  # chooses (and times, if the problem is large enough)
    monkeypatch.setattr(conv_backend, "_step", lambda *args: pytest.fail("timing data made again"))
    F.conv2d(x, w, padding=1)


def test_timing_a_new_problem_leaves_the_callers_scratch_arrays_alone(monkeypatch):
    # The gradients plan with other operands than the forward (grad and weight; x and
    # grad): with mixed dtypes that can be a problem not timed yet, timed while the
    # caller holds the upstream gradient's layout, a scratch array.
    from minigrad.backend import cost

    monkeypatch.setattr(cost, "_choices", {})
    geometry = reference.Geometry((1, 1), (1, 1), (1, 1), 1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 8, 16, 16)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3))  # float64
    out, kept = conv_backend.conv2d_forward(x, w, geometry)
    grad = rng.standard_normal(out.shape)
    upstream = conv_backend.upstream_layout(grad, x.shape, w, geometry, x)
    before = upstream[1].copy()
    dx = conv_backend.conv2d_input_grad(grad, w, x.shape, geometry, upstream)
    dw = conv_backend.conv2d_weight_grad(x, grad, w.shape, geometry, kept, upstream)
    assert np.array_equal(upstream[1], before)
    np.testing.assert_allclose(dx, reference.conv2d_input_grad(grad, w, x.shape, geometry), atol=1e-9)
    np.testing.assert_allclose(dw, reference.conv2d_weight_grad(x, grad, w.shape, geometry), atol=1e-8)


FORK_WHILE_TIMING = """
import os, signal, threading, time
import numpy as np
from minigrad.backend import conv, cost
from minigrad.backend.reference import Geometry
geometry = Geometry((1, 1), (1, 1), (1, 1), 1)
def run(channels):
    conv.conv2d_forward(np.ones((4, channels, 16, 16), np.float32), np.ones((8, channels, 3, 3), np.float32), geometry)
run(8)
thread = threading.Thread(target=run, args=(40,))
thread.start()
while not cost._lock.locked():
    time.sleep(0.0005)
pid = os.fork()
if pid == 0:
    signal.alarm(300)  # generous: on a cold Numba cache the child compiles what it times
    run(24)  # a new problem: the child times it, with a lock of its own
    os._exit(0)
_, status = os.waitpid(pid, 0)
thread.join()
print("child", os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_times_a_conv_problem_times_its_own():
    result = subprocess.run([sys.executable, "-c", FORK_WHILE_TIMING], capture_output=True, text=True,
                            timeout=600, env=dict(os.environ, MINIGRAD_BACKEND="fast"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["child", "True"], result.stdout + result.stderr
