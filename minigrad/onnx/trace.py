"""Tracing: run a model once on an example input and read back the graph autograd recorded.

The example input is made to require grad, so every op that depends on it records its
node (Function class, input Tensors, output Tensor). While the trace runs, a small hook
in ``Function.apply`` attaches to each new node the op's keyword parameters (conv
geometry, reshape target, reduction axes...) and the name of the innermost module whose
forward was running, which the error for an op without an ONNX mapping names.
Walking back from the output then gives the nodes in an order where each comes after
the nodes it reads; anything else reached (parameters, buffers, constants) is a leaf.
"""

import threading
from contextlib import contextmanager

from .. import autograd
from ..tensor import Tensor


class Node:
    """One recorded op: its Function's name, input and output Tensors, parameters, layer."""

    __slots__ = ("op", "inputs", "output", "params", "layer")

    def __init__(self, op, inputs, output, params, layer):
        self.op = op
        self.inputs = inputs
        self.output = output
        self.params = params
        self.layer = layer


class Layer:
    """A module as an error message names it: its dotted name and its class."""

    __slots__ = ("name", "kind")

    def __init__(self, name, kind):
        self.name = name
        self.kind = kind

    def __str__(self):
        if not self.name:
            return f"the model itself ({self.kind})"
        return f"layer '{self.name}' ({self.kind})"


@contextmanager
def _recording(model):
    """Within the block, each node recorded on this thread learns its params and layer."""
    top = Layer("", type(model).__name__)
    stack = [top]
    owner = threading.get_ident()
    wrapped = []

    def hook(ctx, params):
        if threading.get_ident() == owner:
            ctx.export_params = params
            ctx.export_layer = stack[-1]

    def wrap(module, layer):
        forward = module.forward  # the bound method (or an instance attribute)

        def traced_forward(*args, **kwargs):
            stack.append(layer)
            try:
                return forward(*args, **kwargs)
            finally:
                stack.pop()

        had_own = "forward" in module.__dict__
        wrapped.append((module, had_own, module.__dict__.get("forward")))
        object.__setattr__(module, "forward", traced_forward)

    if autograd.node_hook is not None:
        raise RuntimeError("mg.onnx.export: another export is tracing a model at the same time")
    try:
        for name, module in model.named_modules():
            wrap(module, Layer(name, type(module).__name__) if name else top)
        autograd.node_hook = hook
        yield
    finally:
        autograd.node_hook = None
        for module, had_own, previous in reversed(wrapped):
            if had_own:
                object.__setattr__(module, "forward", previous)
            else:
                del module.__dict__["forward"]


def trace(model, examples):
    """Run ``model(*examples)`` in grad mode and return (inputs, output, nodes).

    ``examples`` are NumPy arrays; ``inputs`` the Tensors the model was called on, and
    ``nodes`` the recorded ops that the output depends on, each after its inputs' ops.
    A node recorded before the trace (a tensor the model computed earlier and kept)
    counts as a constant: it does not depend on the input.
    """
    inputs = [Tensor(array, requires_grad=True) for array in examples]
    with autograd.enable_grad(), _recording(model):
        output = model(*inputs)
    if not isinstance(output, Tensor):
        raise TypeError(
            f"mg.onnx.export: the model returned a {type(output).__name__}, not a Tensor"
        )
    return inputs, output, _nodes_before(output)


def traced(tensor):
    """Whether ``tensor`` was made by an op recorded during the trace."""
    ctx = tensor._ctx
    return ctx is not None and hasattr(ctx, "export_params")


def _nodes_before(output):
    """The traced nodes ``output`` depends on, each after the nodes it reads (iterative)."""
    order = []
    done = set()
    stack = [(output, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            ctx = tensor._ctx
            order.append(Node(ctx.function.__name__, list(ctx.inputs), tensor,
                              ctx.export_params, ctx.export_layer))
            continue
        if id(tensor) in done or not traced(tensor):
            continue
        done.add(id(tensor))
        stack.append((tensor, True))
        for parent in reversed(tensor._ctx.inputs):
            if id(parent) not in done:
                stack.append((parent, False))
    return order
