"""Elementwise ops. Gradients of broadcast operands are summed back by the engine."""

import numpy as np

from ..autograd import Function, constant
from ..backend import elementwise as backend
from ..dtypes import floating


class Add(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = grad * b if ctx.needs_input_grad[0] else None
        grad_b = grad * a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        if a.dtype.kind != "f":  # integers divide to float32, as PyTorch (NumPy: float64)
            return floating(a) / floating(b)
        out = a / b
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        b, out = ctx.saved_tensors
        grad_a = grad / b if ctx.needs_input_grad[0] else None
        # d(a/b)/db = -a/b**2 = -out/b
        grad_b = -grad * out / b if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Pow(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            if b.ndim == 0 and not b.requires_grad and b.data == 0:
                grad_a = grad * 0.0  # x**0 is constant, even at x = 0
            else:
                grad_a = grad * b * a ** (b - 1)
                zero_exponent = b.data == 0
                if zero_exponent.any():  # x**0 is constant: 0, not 0 * 0**-1 = nan (as PyTorch)
                    grad_a = filled(zero_exponent, 0.0, grad_a)
        if ctx.needs_input_grad[1]:
            # 0**b has a zero derivative in b where b >= 0 (as PyTorch), not 0 * log(0)
            undefined = (a.data == 0) & (b.data >= 0)
            safe_a = filled(undefined, 1.0, a)
            grad_b = grad * out * safe_a.log()
        return grad_a, grad_b


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(floating(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(floating(a))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(floating(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad / (out * 2.0)


# The masks of the piecewise ops below are made in backward from what forward saved:
# inference (no graph recorded) pays nothing for them.
class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * constant(np.sign(a.data).astype(grad.dtype))  # 0 at 0, as PyTorch


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.maximum(a, a.dtype.type(0))  # a typed zero keeps a 0-d float32 float32 on NumPy 1.x
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return ReluBackward.apply(grad, out)


class ReluBackward(Function):
    """grad where out > 0, else 0, as one node: two passes (compare, multiply by the bool
    mask), not three (a float mask first), and no separate op."""

    @staticmethod
    def forward(ctx, grad, out):
        ctx.save_for_backward(out)
        return backend.relu_grad(grad, out)  # grad * (out > 0), in one pass where it can

    @staticmethod
    def backward(ctx, grad_grad):
        (out,) = ctx.saved_tensors
        # linear in grad; the mask is piecewise constant in out, so out gets no gradient
        grad_of_grad = ReluBackward.apply(grad_grad, out) if ctx.needs_input_grad[0] else None
        return grad_of_grad, None


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tanh(floating(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return TanhBackward.apply(grad, out)


class TanhBackward(Function):
    """grad * (1 - out**2) as one node (three separate ops cost three times the overhead)."""

    @staticmethod
    def forward(ctx, grad, out):
        ctx.save_for_backward(grad, out)
        return grad * (1 - out * out)

    @staticmethod
    def backward(ctx, grad_grad):
        grad, out = ctx.saved_tensors
        grad_of_grad = TanhBackward.apply(grad_grad, out) if ctx.needs_input_grad[0] else None
        grad_of_out = grad_grad * grad * out * -2.0 if ctx.needs_input_grad[1] else None
        return grad_of_grad, grad_of_out


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        # exp(-softplus(-a)) never overflows, for large |a| of either sign
        a = floating(a)
        out = np.exp(-np.logaddexp(a.dtype.type(0), -a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return SigmoidBackward.apply(grad, out)


class SigmoidBackward(Function):
    """grad * out * (1 - out) as one node."""

    @staticmethod
    def forward(ctx, grad, out):
        ctx.save_for_backward(grad, out)
        return grad * out * (1 - out)

    @staticmethod
    def backward(ctx, grad_grad):
        grad, out = ctx.saved_tensors
        grad_of_grad = SigmoidBackward.apply(grad_grad, out) if ctx.needs_input_grad[0] else None
        grad_of_out = grad_grad * grad * (1.0 - out * 2.0) if ctx.needs_input_grad[1] else None
        return grad_of_grad, grad_of_out


class Clip(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        # bounds in the input's dtype: a NumPy float64 bound must not upcast float32
        lo = None if lo is None else np.asarray(lo).astype(a.dtype)
        hi = None if hi is None else np.asarray(hi).astype(a.dtype)
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(a)
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        # the gradient passes where lo <= a <= hi, bounds included, as PyTorch
        (a,) = ctx.saved_tensors
        inside = np.ones(a.shape, dtype=bool)
        if ctx.lo is not None:
            inside &= a.data >= ctx.lo
        if ctx.hi is not None:
            inside &= a.data <= ctx.hi
        return grad * constant(inside.astype(grad.dtype))


class Maximum(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        return extremum_grads(ctx, grad, np.greater)


def extremum_grads(ctx, grad, wins):
    """The gradients of maximum (``wins`` = np.greater) or minimum (np.less) of the two
    saved inputs: each input gets the gradient where it wins, ties split it equally, as
    PyTorch."""
    a, b = (t.data for t in ctx.saved_tensors)
    dtype = grad.dtype
    share_a = wins(a, b).astype(dtype) + (a == b).astype(dtype) * dtype.type(0.5)
    return split_grads(ctx, grad, share_a)


def split_grads(ctx, grad, share_a):
    """``grad * share_a`` to the first input and ``grad * (1 - share_a)`` to the second,
    each only if it needs one (``share_a`` an array of grad's dtype)."""
    grad_a = grad * constant(share_a) if ctx.needs_input_grad[0] else None
    grad_b = grad * constant(1 - share_a) if ctx.needs_input_grad[1] else None
    return grad_a, grad_b


class Where(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b, condition):
        ctx.condition = condition
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        return split_grads(ctx, grad, ctx.condition.astype(grad.dtype))


def filled(condition, value, tensor):
    """``tensor`` with the number ``value`` where the array ``condition`` holds (for a
    backward: the gradient flows to ``tensor`` elsewhere)."""
    return Where.apply(constant(np.array(value, dtype=tensor.data.dtype)), tensor, condition=condition)


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.input_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.input_dtype)
