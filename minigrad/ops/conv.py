"""conv2d as three Functions that differentiate into each other.

``Conv2d`` is the forward, ``Conv2dInputGrad`` (a transposed convolution) and
``Conv2dWeightGrad`` its two gradients. Each is linear in each of its inputs, and the
backward of each is written with the other two, so conv2d can be differentiated any
number of times. How each product runs (NumPy im2col, the Numba kernels, Winograd) is
minigrad/backend/conv.py's choice; the public function with its argument checks is
``minigrad.nn.functional.conv2d``.
"""

from ..autograd import Function
from ..backend import conv as backend
from ..backend.reference import Geometry  # noqa: F401  (what a convolution is, the arrays apart)


class Conv2d(Function):
    """conv2d(x, weight[, bias]); the columns (or tiles) are kept for the weight gradient."""

    promotes_dtypes = True  # an integer image with float32 weights stays float32

    @staticmethod
    def forward(ctx, x, weight, *bias, geometry):
        out, kept = backend.conv2d_forward(x, weight, geometry, bias[0] if bias else None)
        ctx.geometry = geometry
        ctx.kept = kept
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        # Both gradients start from the upstream gradient in the same layout: make it once.
        upstream = backend.upstream_layout(grad.data, x.shape, weight.data, ctx.geometry, x.data)
        grad_x = grad_weight = None
        if needs[0]:
            grad_x = Conv2dInputGrad.apply(
                grad, weight, input_shape=x.shape, geometry=ctx.geometry, upstream=upstream
            )
        if needs[1]:
            grad_weight = Conv2dWeightGrad.apply(
                x, grad, weight_shape=weight.shape, geometry=ctx.geometry,
                kept=ctx.kept, upstream=upstream,
            )
        if len(needs) == 2:
            return grad_x, grad_weight
        grad_bias = grad.sum(axis=(0, 2, 3)) if needs[2] else None
        return grad_x, grad_weight, grad_bias


class Conv2dInputGrad(Function):
    """The input gradient of conv2d: a transposed convolution of ``grad`` with ``weight``."""

    @staticmethod
    def forward(ctx, grad, weight, input_shape, geometry, upstream=None):
        ctx.geometry = geometry
        ctx.save_for_backward(grad, weight)
        return backend.conv2d_input_grad(grad, weight, input_shape, geometry, upstream)

    @staticmethod
    def backward(ctx, grad_grad):
        # The forward is <grad_grad, W^T g> = <conv(grad_grad, W), g>, linear in g and in W.
        grad, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_grad = d_weight = None
        if needs[0]:
            d_grad = Conv2d.apply(grad_grad, weight, geometry=ctx.geometry)
        if needs[1]:
            d_weight = Conv2dWeightGrad.apply(
                grad_grad, grad, weight_shape=weight.shape, geometry=ctx.geometry
            )
        return d_grad, d_weight


class Conv2dWeightGrad(Function):
    """The weight gradient of conv2d, from the input ``x`` and the upstream ``grad``."""

    @staticmethod
    def forward(ctx, x, grad, weight_shape, geometry, kept=None, upstream=None):
        ctx.geometry = geometry
        ctx.save_for_backward(x, grad)
        return backend.conv2d_weight_grad(x, grad, weight_shape, geometry, kept, upstream)

    @staticmethod
    def backward(ctx, grad_grad):
        # The forward is <grad_grad, dW(x, g)> = <conv(x, grad_grad), g>.
        x, grad = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_x = d_grad = None
        if needs[0]:
            d_x = Conv2dInputGrad.apply(grad, grad_grad, input_shape=x.shape, geometry=ctx.geometry)
        if needs[1]:
            d_grad = Conv2d.apply(x, grad_grad, geometry=ctx.geometry)
        return d_x, d_grad
