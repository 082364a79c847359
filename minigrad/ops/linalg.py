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
        if ctx.needs_input_grad[0]:
            grad_a = g2 @ _swap_last(b2)  # batch axes are summed away by the engine
            if a.ndim == 1:
                grad_a = grad_a.squeeze(-2)
        if ctx.needs_input_grad[1]:
            grad_b = _swap_last(a2) @ g2
            if b.ndim == 1:
                grad_b = grad_b.squeeze(-1)
        return grad_a, grad_b
