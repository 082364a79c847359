"""gradcheck and gradgradcheck: analytic derivatives against central differences."""

import numpy as np

from . import autograd
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """An analytic derivative disagrees with its numeric estimate."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    outputs = (out,) if isinstance(out, Tensor) else tuple(out)
    return [o for o in outputs if o.dtype.kind == "f"]


def _flat_values(fn, inputs):
    # Not under no_grad: fn may itself differentiate (gradgradcheck's first derivative).
    return np.concatenate([o.data.astype(np.float64).ravel() for o in _outputs(fn, inputs)])


def _numeric_column(fn, inputs, tensor, index, eps):
    """d(all outputs)/d(tensor[index]) by central differences."""
    original = tensor.data[index].copy()
    tensor.data[index] = original + eps
    plus = _flat_values(fn, inputs)
    tensor.data[index] = original - eps
    minus = _flat_values(fn, inputs)
    tensor.data[index] = original
    return (plus - minus) / (2 * eps)


def _analytic_rows(fn, inputs, wrt):
    """The Jacobian of the flattened outputs w.r.t. each tensor in ``wrt``, row by row."""
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
    analytic = _analytic_rows(fn, inputs, wrt)
    for t, jacobian in zip(wrt, analytic):
        position = next(i for i, s in enumerate(inputs) if s is t)
        for flat in range(t.data.size):
            index = np.unravel_index(flat, t.shape)
            numeric = _numeric_column(fn, inputs, t, index, eps)
            column = jacobian[:, flat]
            bad = np.abs(column - numeric) > atol + rtol * np.abs(numeric)
            if bad.any():
                out = int(np.argmax(bad))
                raise GradcheckError(
                    f"gradcheck: input {position} (shape {t.shape}), element {tuple(int(i) for i in index)}, "
                    f"output element {out}: analytic {column[out]!r} vs numeric {numeric[out]!r}"
                )
    return True


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
    outputs = _outputs(fn, inputs)
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
