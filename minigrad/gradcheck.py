"""gradcheck and gradgradcheck: analytic derivatives against central differences."""

import numpy as np

from . import autograd, rng
from .tensor import Tensor


class _SideEffects:
    """What ``fn`` may change besides its outputs: the buffers of every live Module (a
    training-mode BatchNorm's running statistics and step count) and minigrad's random
    generator (dropout). ``restore`` puts them back, before each evaluation of ``fn`` (so
    every evaluation sees the same state and the same random draws) and at the end."""

    def __init__(self):
        from .nn.module import live_modules

        self.buffers = [
            (module, name, tensor, tensor.data.copy())
            for module in live_modules()
            for name, tensor in module._buffers.items()
            if tensor is not None
        ]
        self.generator = rng.generator()
        self.generator_state = self.generator.bit_generator.state

    def restore(self):
        for module, name, tensor, values in self.buffers:
            if module._buffers.get(name) is not tensor:
                module._buffers[name] = tensor
            if tensor.data.shape != values.shape or tensor.data.dtype != values.dtype:
                tensor.data = values.copy()
                tensor._version += 1
            elif not np.array_equal(tensor.data, values, equal_nan=values.dtype.kind == "f"):
                tensor.data[...] = values
                tensor._version += 1
        rng._generator = self.generator
        self.generator.bit_generator.state = self.generator_state


class GradcheckError(RuntimeError):
    """An analytic derivative disagrees with its numeric estimate."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    outputs = (out,) if isinstance(out, Tensor) else tuple(out)
    return [o for o in outputs if o.dtype.kind == "f"]


def _flat_values(fn, inputs, state):
    # Not under no_grad: fn may itself differentiate (gradgradcheck's first derivative).
    state.restore()
    return np.concatenate([o.data.astype(np.float64).ravel() for o in _outputs(fn, inputs)])


def _numeric_column(fn, inputs, tensor, index, eps, state):
    """d(all outputs)/d(tensor[index]) by central differences."""
    original = tensor.data[index].copy()
    tensor.data[index] = original + eps
    plus = _flat_values(fn, inputs, state)
    tensor.data[index] = original - eps
    minus = _flat_values(fn, inputs, state)
    tensor.data[index] = original
    return (plus - minus) / (2 * eps)


def _analytic_rows(fn, inputs, wrt, state):
    """The Jacobian of the flattened outputs w.r.t. each tensor in ``wrt``, row by row."""
    state.restore()
    outputs = _outputs(fn, inputs)
    sizes = [o.data.size for o in outputs]
    total = sum(sizes)
    jacobians = [np.zeros((total, t.data.size)) for t in wrt]
    row = 0
    for k, output in enumerate(outputs):
        for j in range(sizes[k]):
            grad_outputs = [Tensor(np.zeros(o.shape, dtype=o.dtype)) for o in outputs]  # C order: reshape(-1) is a view
            grad_outputs[k].data.reshape(-1)[j] = 1
            grads = autograd.grad(outputs, wrt, grad_outputs=grad_outputs)
            for jacobian, g in zip(jacobians, grads):
                jacobian[row] = g.data.astype(np.float64).ravel()
            row += 1
    return jacobians


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Check the first derivatives of ``fn(*inputs)`` against central differences.

    Every input that requires grad is checked, element by element, against every
    output element. Use float64 inputs: the default ``eps`` is made for them.

    ``fn`` is evaluated many times; before each evaluation, and at the end, the buffers
    of every Module (a training-mode BatchNorm's running statistics and
    ``num_batches_tracked``) and minigrad's random generator are put back as they were,
    so a model is left as gradcheck found it and dropout draws the same mask each time.

    Returns True, or raises ``GradcheckError`` naming the input, the element and both values.

    >>> import minigrad as mg
    >>> x = mg.randn(3, dtype="float64", requires_grad=True)
    >>> mg.gradcheck(lambda t: (t * t).sum(), [x])
    True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    for t in wrt:
        if not t.data.flags.writeable:
            t.data = t.data.copy()
    state = _SideEffects()
    try:
        analytic = _analytic_rows(fn, inputs, wrt, state)
        for t, jacobian in zip(wrt, analytic):
            position = next(i for i, s in enumerate(inputs) if s is t)
            for flat in range(t.data.size):
                index = np.unravel_index(flat, t.shape)
                numeric = _numeric_column(fn, inputs, t, index, eps, state)
                column = jacobian[:, flat]
                bad = np.abs(column - numeric) > atol + rtol * np.abs(numeric)
                if bad.any():
                    out = int(np.argmax(bad))
                    raise GradcheckError(
                        f"gradcheck: input {position} (shape {t.shape}), element {tuple(int(i) for i in index)}, "
                        f"output element {out}: analytic {float(column[out])!r} vs numeric {float(numeric[out])!r}"
                        + _precision_hint(inputs, wrt, eps)
                    )
    finally:
        state.restore()
    return True


def _precision_hint(inputs, wrt, eps):
    """Why a float32 (or float16) input fails, and how to cast it."""
    narrow = [i for i, t in enumerate(inputs) if any(t is w for w in wrt) and t.dtype != np.float64]
    if not narrow:
        return ""
    dtypes = sorted({str(inputs[i].dtype) for i in narrow})
    return (
        f". gradcheck needs float64 inputs: input(s) {narrow} are {'/'.join(dtypes)}, whose rounding "
        f"swamps central differences with eps={eps}. Cast each to a float64 leaf, e.g. "
        "x = x.detach().double().requires_grad_(), or build it with dtype=mg.float64 "
        "(and a model with model.double())"
    )


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Check the second derivatives of ``fn(*inputs)``.

    The first derivative (a vector-Jacobian product with ``grad_outputs``, random when
    omitted) is computed with ``create_graph=True`` and itself put through ``gradcheck``,
    with respect to the inputs and to ``grad_outputs``.

    >>> import minigrad as mg
    >>> x = mg.randn(3, dtype="float64", requires_grad=True)
    >>> mg.gradgradcheck(lambda t: (t ** 3).sum(), [x])
    True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    wrt_positions = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    state = _SideEffects()
    try:
        outputs = _outputs(fn, inputs)  # for their shapes and dtypes
    finally:
        state.restore()
    if grad_outputs is None:
        draw = np.random.default_rng(0)
        grad_outputs = [
            Tensor(draw.standard_normal(o.shape).astype(o.dtype), requires_grad=True) for o in outputs
        ]
    else:
        grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    count = len(inputs)

    def first_derivative(*args):
        ins, vectors = args[:count], args[count:]
        return autograd.grad(
            _outputs(fn, ins), [ins[i] for i in wrt_positions], grad_outputs=vectors, create_graph=True
        )

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol)
