"""Elementwise ops of a floating tensor and a real number (``y * 1.5``, ``2 - y``).

The number is a parameter of the node, not an input Tensor: the node has one input,
saves no array, and its gradient never needs summing back to a broadcast shape. The
ops compute what ops/elementwise.py computes with the number as a 0-d array of the
tensor's dtype (Tensor's dunders convert it to that dtype first), bit for bit, at
about half the cost per op in a long chain of small ops. They carry the same names
(``grad_fn`` is ``"Mul"`` either way, as PyTorch's ``MulBackward0``), and each
backward is made of Tensor ops, so they are twice differentiable.
"""

from ..autograd import Function


class Add(Function):
    """a + scalar (and scalar + a)."""

    @staticmethod
    def forward(ctx, a, scalar):
        return a + scalar

    @staticmethod
    def backward(ctx, grad):
        return grad


class Sub(Function):
    """a - scalar, or scalar - a with ``reverse=True``."""

    @staticmethod
    def forward(ctx, a, scalar, reverse):
        ctx.reverse = reverse
        return scalar - a if reverse else a - scalar

    @staticmethod
    def backward(ctx, grad):
        return -grad if ctx.reverse else grad


class Mul(Function):
    """a * scalar (and scalar * a)."""

    @staticmethod
    def forward(ctx, a, scalar):
        ctx.scalar = scalar
        return a * scalar

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scalar


class Div(Function):
    """a / scalar (scalar / a takes ops/elementwise.py's Div: its gradient needs a)."""

    @staticmethod
    def forward(ctx, a, scalar):
        ctx.scalar = scalar
        return a / scalar

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.scalar
