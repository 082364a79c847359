"""mg.trace records the backward sweep; mg.detect_anomaly stops at the first NaN/Inf."""

import threading
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import autograd, nn


def small_graph():
    x = mg.tensor(np.arange(6.0).reshape(2, 3) / 10, requires_grad=True)
    w = mg.tensor(np.ones(3), requires_grad=True)
    return x, w, ((x * w).tanh().sum())


def test_trace_lists_the_sweep_in_order_with_shapes():
    x, w, loss = small_graph()
    with mg.trace() as t:
        loss.backward()
    assert [row["op"] for row in t.rows] == ["Sum", "Tanh", "Mul", "AccumulateGrad", "AccumulateGrad"]
    assert [row["step"] for row in t.rows] == [1, 2, 3, 4, 5]
    assert t.rows[0]["received"] == {"shape": (), "dtype": "float64"}
    mul = t.rows[2]
    assert mul["received"]["shape"] == (2, 3)
    assert [g["shape"] for g in mul["sent"]] == [(2, 3), (3,)]  # summed back to w's shape
    np.testing.assert_allclose(mul["sent"][1]["norm"], np.linalg.norm(w.grad.data))
    np.testing.assert_allclose(mul["sent"][0]["norm"], np.linalg.norm(x.grad.data))
    assert {row["received"]["shape"] for row in t.rows[3:]} == {(2, 3), (3,)}
    table = t.table().splitlines()
    assert len(table) == 6 and table[0].split()[:3] == ["step", "op", "received"]
    assert table[3].split()[:2] == ["3", "Mul"] and "(3,) float64" in table[3]


def test_trace_marks_inputs_that_need_no_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor([3.0, 4.0])
    with mg.trace() as t:
        (x * c).sum().backward()
    assert t.rows[1]["op"] == "Mul" and t.rows[1]["sent"][1] is None
    assert "-" in t.table().splitlines()[2].split()


def test_gradients_are_bitwise_identical_with_and_without_tracing():
    def gradients(watch):
        mg.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8, impl="composed"), nn.Tanh(),
                              nn.Linear(8, 3), nn.BatchNorm1d(8 // 8 * 3), nn.Sigmoid())
        x = mg.tensor(np.random.default_rng(1).standard_normal((7, 5)))
        with watch():
            (model(x) ** 2).mean().backward()
        return [p.grad.data for p in model.parameters()]

    class Nothing:
        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            pass

    plain = gradients(Nothing)
    for watch in (mg.trace, mg.detect_anomaly):
        watched = gradients(watch)
        assert all(a.tobytes() == b.tobytes() and a.dtype == b.dtype for a, b in zip(plain, watched))


def test_trace_sees_second_order_sweeps():
    x = mg.tensor(2.0, requires_grad=True)
    with mg.trace() as t:
        (dx,) = mg.grad(x ** 3, x, create_graph=True)
        (d2x,) = mg.grad(dx, x)
    assert d2x.item() == 12.0
    assert t.rows[0]["op"] == "Pow" and len(t.rows) > 2


def test_hooks_are_removed_when_blocks_close():
    assert autograd._observer is None
    with mg.trace():
        with mg.detect_anomaly():
            assert autograd._observer is not None
        assert autograd._observer is not None
    assert autograd._observer is None
    with pytest.raises(RuntimeError):
        with mg.detect_anomaly():
            mg.tensor([-1.0]).log()
    assert autograd._observer is None


def test_a_trace_records_only_its_own_thread():
    x = mg.tensor([1.0], requires_grad=True)
    started, done = threading.Event(), threading.Event()

    def other():
        started.wait()
        (mg.tensor([2.0], requires_grad=True) * 2).sum().backward()
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with mg.trace() as t:
        started.set()
        done.wait()
        (x * 3).sum().backward()
    thread.join()
    assert [row["op"] for row in t.rows] == ["Sum", "Mul", "AccumulateGrad"]


def line_of(marker):
    with open(__file__) as source:
        for number, line in enumerate(source, start=1):
            if marker in line and "line_of" not in line:
                return number
    raise AssertionError(marker)


def test_anomaly_names_the_op_forward_and_this_line():
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(RuntimeError) as caught:
            with mg.detect_anomaly():
                y = x.log()  # marker: forward anomaly
    message = str(caught.value)
    assert "Log" in message and "forward" in message and "nan" in message
    assert f"{__file__}:{line_of('marker: forward anomaly')}" in message


def test_anomaly_names_the_op_backward_and_the_line_that_made_the_node():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with mg.detect_anomaly():
            root = x.sqrt()  # marker: backward anomaly
            loss = (root * mg.tensor([0.0, 1.0])).sum()
            with pytest.raises(RuntimeError) as caught:
                loss.backward()  # Sqrt's backward: 0 / (2 * sqrt(0)) = 0/0
    message = str(caught.value)
    assert "Sqrt" in message and "backward" in message and "nan" in message
    assert f"{__file__}:{line_of('marker: backward anomaly')}" in message
    assert x.grad is None  # nothing half-accumulated


def test_no_anomaly_without_the_block_and_none_for_finite_values():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (x.sqrt() * mg.tensor([0.0, 1.0])).sum().backward()
    assert np.isnan(x.grad.data[0])
    with mg.detect_anomaly():
        (x * 2).sum().backward()
