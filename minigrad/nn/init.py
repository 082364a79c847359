"""PyTorch's default initializations, drawn from the generator ``mg.manual_seed`` seeds."""

import math
import warnings

from .. import rng
from ..autograd import no_grad


def fan_in(weight):
    """Inputs feeding one output unit: in_features, or C_in/groups * kH * kW."""
    receptive_field = 1
    for size in weight.shape[2:]:
        receptive_field *= size
    return weight.shape[1] * receptive_field


def _check_sizes(layer, **sizes):
    """Raise a ValueError naming ``layer`` and the argument for a negative size."""
    for name, value in sizes.items():
        values = value if isinstance(value, tuple) else (value,)
        if any(v < 0 for v in values):
            raise ValueError(f"{layer}: {name} must be >= 0, got {value}")


@no_grad()
def uniform_(tensor, low, high):
    tensor.data[...] = rng.generator().uniform(low, high, size=tensor.shape)
    return tensor


def kaiming_uniform_(tensor, a=0.0):
    """He-uniform with leaky-ReLU slope ``a``: bound = sqrt(6 / ((1 + a**2) * fan_in)).

    A tensor with no elements is left as it is, with PyTorch's warning.
    """
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return tensor
    bound = math.sqrt(6.0 / ((1.0 + a * a) * fan_in(tensor)))
    return uniform_(tensor, -bound, bound)


def reset_linear_like(weight, bias):
    """Linear's and Conv2d's default: kaiming_uniform_(a=sqrt(5)) for the weight, so both
    the weight and the bias are U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1.0 / math.sqrt(fan_in(weight)) if fan_in(weight) > 0 else 0.0
        uniform_(bias, -bound, bound)
