"""Every row of the op table: forward against NumPy, gradcheck and gradgradcheck in float64,
and the properties every gradient has (its input's shape and dtype, float32 kept float32)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from op_table import OPS, draw_case, make_arrays, make_tensors

SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


def fast(examples):
    return settings(max_examples=examples, deadline=None, derandomize=True,
                    suppress_health_check=SLOW_OK)


def as_array(result):
    assert isinstance(result, mg.Tensor), f"expected a Tensor, got {type(result).__name__}"
    assert isinstance(result.data, np.ndarray)
    return result.data


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@fast(20)
@given(data=st.data())
def test_forward_matches_numpy(op, data):
    case = draw_case(data, op)
    arrays = make_arrays(op, case.shapes, case.seed)
    tensors = [mg.tensor(a.copy()) for a in arrays]
    out = op.fn(*tensors, **case.params)
    expected = np.asarray(op.ref(*arrays, **case.params))
    got = as_array(out)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    for tensor, array in zip(tensors, arrays):  # inputs are not mutated
        np.testing.assert_array_equal(tensor.data, array)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@fast(10)
@given(data=st.data())
def test_gradcheck(op, data):
    case = draw_case(data, op)
    tensors = make_tensors(op, case.shapes, case.seed)
    assert mg.gradcheck(lambda *ts: op.fn(*ts, **case.params), tensors) is True


@pytest.mark.parametrize("op", [op for op in OPS if op.second_order], ids=lambda op: op.name)
@fast(5)
@given(data=st.data())
def test_gradgradcheck(op, data):
    case = draw_case(data, op)
    tensors = make_tensors(op, case.shapes, case.seed)
    assert mg.gradgradcheck(lambda *ts: op.fn(*ts, **case.params), tensors) is True


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@fast(10)
@given(data=st.data())
def test_gradient_has_input_shape_and_dtype(op, dtype, data):
    case = draw_case(data, op)
    tensors = make_tensors(op, case.shapes, case.seed, dtype=dtype)
    before = [t.data.copy() for t in tensors]
    out = op.fn(*tensors, **case.params)
    assert out.dtype == dtype, f"{op.name}: {np.dtype(dtype)} in, {out.dtype} out"
    assert out.requires_grad
    upstream = np.random.default_rng(case.seed).standard_normal(out.shape).astype(dtype)
    out.backward(mg.tensor(upstream))
    for tensor, original in zip(tensors, before):
        assert tensor.grad is not None
        assert isinstance(tensor.grad, mg.Tensor)
        assert tensor.grad.shape == tensor.shape
        assert tensor.grad.dtype == dtype
        assert np.all(np.isfinite(tensor.grad.data))
        assert not np.shares_memory(tensor.grad.data, tensor.data)
        np.testing.assert_array_equal(tensor.data, original)  # backward leaves inputs alone
    # the float32 gradient agrees with the float64 one
    if dtype == np.float32:
        wide = make_tensors(op, case.shapes, case.seed, dtype=np.float64)
        op.fn(*wide, **case.params).backward(mg.tensor(upstream.astype(np.float64)))
        for narrow, exact in zip(tensors, wide):
            np.testing.assert_allclose(narrow.grad.data, exact.grad.data, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@fast(3)
@given(data=st.data())
def test_no_grad_records_nothing(op, data):
    case = draw_case(data, op)
    tensors = make_tensors(op, case.shapes, case.seed)
    with mg.no_grad():
        out = op.fn(*tensors, **case.params)
    assert out.grad_fn is None
    # a shape op that has nothing to do may hand back its input itself; anything new is a constant
    if not any(out is t for t in tensors):
        assert not out.requires_grad
