"""gradcheck leaves a model as it found it, evaluates fn in one state (so dropout and
batch norm can be checked), and says why a float32 input fails; op errors name the
shapes once."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def test_gradcheck_through_training_batchnorm_leaves_its_state():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, impl="composed"), nn.Tanh()).double()
    model.train()
    x = mg.randn(5, 3, dtype=mg.float64, requires_grad=True)
    before = {name: value.copy() for name, value in model.state_dict().items()}
    assert mg.gradcheck(lambda t: model(t), [x])
    assert mg.gradgradcheck(lambda t: model(t), [x])
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    assert model[1].num_batches_tracked.item() == 0
    model(x)  # and the model still trains: one real step moves the statistics
    assert model[1].num_batches_tracked.item() == 1


def test_gradcheck_leaves_the_random_generator_and_checks_dropout():
    mg.manual_seed(3)
    expected = mg.rand(4).tolist()
    mg.manual_seed(3)
    layer = nn.Dropout(0.5)
    x = mg.randn(6, dtype=mg.float64, requires_grad=True)
    state = mg.rand(1)  # noqa: F841  (draws move the generator on)
    mg.manual_seed(3)
    assert mg.gradcheck(lambda t: layer(t) * t, [x])  # each evaluation draws the same mask
    assert mg.rand(4).tolist() == expected


def test_gradcheck_restores_state_when_it_fails():
    model = nn.BatchNorm1d(2).double()
    x = mg.randn(4, 2, dtype=mg.float64, requires_grad=True)

    class Wrong(mg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(lambda t: Wrong.apply(model(t)), [x])
    assert model.num_batches_tracked.item() == 0
    np.testing.assert_array_equal(model.running_mean.data, np.zeros(2))


def test_gradcheck_on_float32_says_to_use_float64():
    x = mg.randn(3, requires_grad=True)  # float32
    with pytest.raises(mg.GradcheckError) as caught:
        mg.gradcheck(lambda t: (t * t).sin().sum(), [x])
    message = str(caught.value)
    assert "gradcheck needs float64 inputs: input(s) [0] are float32" in message
    assert "x = x.detach().double().requires_grad_()" in message
    y = x.detach().double().requires_grad_()  # the cast the message shows works
    assert y.is_leaf and y.dtype == np.float64
    assert mg.gradcheck(lambda t: (t * t).sin().sum(), [y])


def test_float64_failures_carry_no_hint():
    class Wrong(mg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(mg.GradcheckError) as caught:
        mg.gradcheck(lambda t: Wrong.apply(t), [mg.randn(2, dtype=mg.float64, requires_grad=True)])
    assert "float64" not in str(caught.value)


# ---- error messages name the shapes once --------------------------------------------
def test_matmul_error_names_the_shapes_once():
    with pytest.raises(ValueError) as caught:
        mg.ones(1, 2) @ mg.ones(1, 2)
    assert str(caught.value) == "MatMul: shapes (1, 2) and (1, 2) cannot be multiplied (2 != 1)"


def test_broadcast_error_is_ours_without_double_spaces():
    with pytest.raises(ValueError) as caught:
        mg.ones(2, 3) + mg.ones(4)
    message = str(caught.value)
    assert message == "Add: shapes (2, 3) and (4,) do not broadcast"
    for fn in (lambda a, b: a * b, lambda a, b: a - b, lambda a, b: mg.maximum(a, b), lambda a, b: a % b):
        with pytest.raises(ValueError) as caught:
            fn(mg.ones(2, 3), mg.ones(4))
        assert "  " not in str(caught.value) and "(2, 3) and (4,)" in str(caught.value)


def test_an_op_message_without_shapes_gets_them_once():
    class Picky(mg.Function):
        @staticmethod
        def forward(ctx, a):
            raise ValueError("this op refuses  its input ")

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(ValueError) as caught:
        Picky.apply(mg.ones(2))
    assert str(caught.value) == "Picky: this op refuses its input (input shapes (2,))"
    with pytest.raises(ValueError) as caught:
        F.linear(mg.ones(2, 3), mg.ones(4, 5))
    assert str(caught.value).count("(2, 3)") == 1
