"""nn.summary: each layer's output shape, trainable parameters and running state."""

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .layers import _naming_layer


def _counts(module):
    """(trainable parameters, non-trainable numbers) held by this module itself.

    Non-trainable numbers are frozen parameters and floating buffers (running mean and
    variance); the integer step counter num_batches_tracked is bookkeeping, not state
    the layer computes with, so it is not counted (Keras has no such counter either).
    """
    trainable = sum(p.numel() for p in module._parameters.values() if p is not None and p.requires_grad)
    frozen = sum(p.numel() for p in module._parameters.values() if p is not None and not p.requires_grad)
    buffers = sum(b.numel() for b in module._buffers.values() if b is not None and b.dtype.kind == "f")
    return trainable, frozen + buffers


class Summary(str):
    """The table as a ``str`` whose repr is the table itself: at a prompt
    ``nn.summary(...)`` shows it, and ``print(nn.summary(...))`` prints it, once each."""

    def __repr__(self):
        return str(self)


def _checked_shape(input_shape):
    try:
        shape = tuple(int(side) for side in input_shape)
    except (TypeError, ValueError):
        raise TypeError(f"nn.summary: input_shape must be a tuple of ints, got {input_shape!r}") from None
    if any(side <= 0 for side in shape):
        raise ValueError(f"nn.summary: input_shape {shape} must hold positive sizes")
    if len(shape) < 2:
        raise ValueError(
            f"nn.summary: input_shape {shape} has no batch axis; input_shape includes the batch "
            f"axis, e.g. {(1,) + shape} for one sample of shape {shape}"
        )
    return shape


def summary(model, input_shape):
    """A table of the model's layers for an input of ``input_shape``, returned (not printed).

    ``input_shape`` includes the batch axis: ``(1, 64)`` for one sample of 64 features.
    The model runs once on zeros, in eval mode and without a graph, so running statistics
    are left as they were. The result is a ``str`` whose repr is the table, so at a prompt
    the table shows once, and ``print(nn.summary(...))`` prints it once.

    >>> from minigrad import nn
    >>> table = nn.summary(nn.Sequential(nn.Linear(50, 50, bias=False), nn.BatchNorm1d(50)), (2, 50))
    >>> table  # doctest: +ELLIPSIS
    Layer (type)...
    >>> "trainable 2,600, non-trainable 100" in table
    True
    """
    shape = _checked_shape(input_shape)
    leaves = [(name, module) for name, module in model.named_modules() if not any(True for _ in module.children())]
    rows = []

    def recorder(name, module):
        forward = module.forward

        def recording_forward(*args, **kwargs):
            out = forward(*args, **kwargs)
            rows.append((name or type(module).__name__, type(module).__name__, tuple(out.shape), *_counts(module)))
            return out

        return recording_forward

    training = {id(module): module.training for module in model.modules()}
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else np.float32
    for name, module in leaves:
        object.__setattr__(module, "forward", recorder(name, module))
    try:
        model.eval()
        with no_grad():
            try:
                model(Tensor(np.zeros(shape, dtype=dtype)))
            except Exception as error:
                raise _naming_layer(
                    error, f"nn.summary: the model failed on zeros of input_shape {shape} (the batch axis included)"
                )
    finally:
        for _, module in leaves:
            module.__dict__.pop("forward", None)
        for module in model.modules():
            object.__setattr__(module, "training", training[id(module)])

    header = ("Layer (type)", "Output shape", "Trainable", "Non-trainable")
    lines = [(f"{name} ({kind})", str(shape), f"{trainable:,}", f"{state:,}")
             for name, kind, shape, trainable, state in rows]
    widths = [max(len(row[i]) for row in [header] + lines) for i in range(4)]

    def format_row(row):
        return "  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                          row[2].rjust(widths[2]), row[3].rjust(widths[3])])

    rule = "-" * len(format_row(header))
    trainable_total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    state_total = sum(_counts(module)[1] for module in model.modules())
    text = "\n".join(
        [format_row(header), rule] + [format_row(line) for line in lines] + [rule,
         f"Total: trainable {trainable_total:,}, non-trainable {state_total:,}, "
         f"all {trainable_total + state_total:,}"]
    )
    return Summary(text)
