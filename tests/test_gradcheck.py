"""mg.gradcheck and mg.gradgradcheck as tools: they pass correct functions and catch wrong ones,
naming the input, the element and both values."""

import re

import numpy as np
import pytest

import minigrad as mg


def f64(values, requires_grad=True):
    return mg.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


class WrongSquare(mg.Function):
    """x**2 whose backward forgets the factor 2."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a


class WrongSecondFactor(mg.Function):
    """a * b whose gradient for b is off by one only at b's element 2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        bump = np.zeros(b.shape)
        bump[2] = 1.0
        return grad * b, grad * a + mg.tensor(bump) * grad


class CubeWithConstantSlope(mg.Function):
    """x**3 with a right first derivative made from a saved constant: wrong second derivative."""

    @staticmethod
    def forward(ctx, a):
        ctx.slope = 3 * a * a
        return a ** 3

    @staticmethod
    def backward(ctx, grad):
        return grad * mg.tensor(ctx.slope)


def parse_values(message):
    match = re.search(r"analytic (.+?) vs numeric (.+)$", message)
    assert match, message
    number = re.compile(r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?")  # the last number: 1.5 in np.float64(1.5)
    return tuple(float(number.findall(part)[-1]) for part in match.groups())


def test_gradcheck_returns_true_on_correct_functions():
    assert mg.gradcheck(lambda x: (x * x).sum(), [f64([1.0, -2.0])]) is True
    assert mg.gradcheck(lambda x, y: x / y + x.exp(), [f64([[0.5], [1.0]]), f64([2.0, -3.0])]) is True
    assert mg.gradcheck(lambda x: x.tanh(), f64([0.1, 0.2])) is True  # a lone tensor works too
    assert mg.gradgradcheck(lambda x, y: (x * y).tanh(), [f64([0.3, -0.2]), f64([1.5, 0.5])]) is True


def test_gradcheck_catches_a_wrong_backward_and_names_everything():
    x = f64([1.0, 3.0])
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(lambda t: WrongSquare.apply(t), [x])
    message = str(info.value)
    assert "input 0" in message and "(0,)" in message
    analytic, numeric = parse_values(message)
    assert analytic == pytest.approx(1.0) and numeric == pytest.approx(2.0, rel=1e-6)
    assert isinstance(info.value, RuntimeError)  # GradcheckError is a RuntimeError
    np.testing.assert_array_equal(x.data, [1.0, 3.0])  # the input is restored


def test_gradcheck_names_the_input_and_element_that_are_wrong():
    a = f64([1.0, 2.0, 3.0])
    b = f64([[4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])[0]  # a non-leaf slice is not an input here
    b = f64(b.data.copy())
    constant = mg.tensor(np.ones(3))
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(lambda c, p, q: WrongSecondFactor.apply(p, q) * c, [constant, a, b])
    message = str(info.value)
    assert "input 2" in message and "(2,)" in message, message
    analytic, numeric = parse_values(message)
    assert analytic == pytest.approx(a.data[2] + 1.0) and numeric == pytest.approx(a.data[2], rel=1e-6)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = f64([0.5, -1.5])
    assert mg.gradcheck(lambda t: CubeWithConstantSlope.apply(t), [x]) is True
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradgradcheck(lambda t: CubeWithConstantSlope.apply(t), [x])
    assert "input 0" in str(info.value)
    analytic, numeric = parse_values(str(info.value))
    assert analytic == 0.0 and numeric != pytest.approx(0.0)


def test_gradgradcheck_with_given_grad_outputs():
    x = f64([0.2, 0.4])
    v = f64([1.0, -2.0])
    assert mg.gradgradcheck(lambda t: t.sigmoid() * t, [x], grad_outputs=[v]) is True


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError):
        mg.gradcheck(lambda t: t * 2, [mg.tensor(np.ones(2))])


def test_gradcheck_tolerances_are_used():
    x = f64([1.0])
    # the wrong backward is off by 1.0 (50%): a tolerance that generous lets it pass
    assert mg.gradcheck(lambda t: WrongSquare.apply(t), [x], atol=1.5) is True
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(lambda t: WrongSquare.apply(t), [x], rtol=0.4)
