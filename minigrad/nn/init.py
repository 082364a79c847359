"""PyTorch's default initializations, drawn from the generator ``mg.manual_seed`` seeds."""

import math

from .. import rng
from ..autograd import no_grad


def fan_in(weight):
    """Inputs feeding one output unit: in_features, or C_in/groups * kH * kW."""
    receptive_field = 1
    for size in weight.shape[2:]:
        receptive_field *= size
    return weight.shape[1] * receptive_field


@no_grad()
def uniform_(tensor, low, high):
    tensor.data[...] = rng.generator().uniform(low, high, size=tensor.shape)
    return tensor


def kaiming_uniform_(tensor, a=0.0):
    """He-uniform with leaky-ReLU slope ``a``: bound = sqrt(6 / ((1 + a**2) * fan_in))."""
    bound = math.sqrt(6.0 / ((1.0 + a * a) * fan_in(tensor)))
    return uniform_(tensor, -bound, bound)


def reset_linear_like(weight, bias):
    """Linear's and Conv2d's default: kaiming_uniform_(a=sqrt(5)) for the weight, so both
    the weight and the bias are U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1.0 / math.sqrt(fan_in(weight)) if fan_in(weight) > 0 else 0.0
        uniform_(bias, -bound, bound)
