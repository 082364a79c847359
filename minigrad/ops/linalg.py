"""Matrix product with NumPy's rules for 1-D and batched N-D operands."""

import numpy as np

from ..autograd import Function


def _swap_last(t):
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return t.transpose(*axes)


class MatMul(Function):
    promotes_dtypes = True

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs operands with at least one dimension")
        inner_a = a.shape[-1]
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if inner_a != inner_b:
            raise ValueError(
                f"shapes {a.shape} and {b.shape} cannot be multiplied ({inner_a} != {inner_b})"
            )
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        if a.ndim == 1 and b.ndim == 1:
            return grad * b, grad * a
        # Promote 1-D operands to matrices as NumPy does, then undo it on the gradients.
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        g2 = grad
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        grad_a = grad_b = None
        # A gradient takes its operand's memory layout: for Linear's ``weight.T`` (a
        # transposed view) the product is computed transposed, so that weight.grad comes
        # out contiguous; the optimizer reads it several times, and a transposed read of
        # a large matrix is several times slower.
        if ctx.needs_input_grad[0]:
            if _transposed(a.data) and g2.ndim == 2:
                grad_a = _swap_last(b2 @ _swap_last(g2))
            else:
                grad_a = g2 @ _swap_last(b2)  # batch axes are summed away by the engine
            if a.ndim == 1:
                grad_a = grad_a.squeeze(-2)
        if ctx.needs_input_grad[1]:
            if _transposed(b.data) and a2.ndim == 2:
                grad_b = _swap_last(_swap_last(g2) @ a2)
            else:
                grad_b = _swap_last(a2) @ g2
            if b.ndim == 1:
                grad_b = grad_b.squeeze(-1)
        return grad_a, grad_b


def _transposed(array):
    """A 2-D array laid out column by column (the transpose of a contiguous one)."""
    return array.ndim == 2 and array.flags.f_contiguous and not array.flags.c_contiguous
