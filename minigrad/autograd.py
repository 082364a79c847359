"""The engine: Function and Context, grad mode, and the reverse-mode sweep.

An op is a ``Function`` subclass with two static methods side by side:

* ``forward(ctx, *arrays, **params)`` takes NumPy arrays and returns one array;
* ``backward(ctx, grad)`` takes the upstream gradient as a Tensor and returns one
  gradient per input: a Tensor, a NumPy array (a constant: a fused kernel's result),
  or None where no gradient is needed.

The engine wraps arrays into Tensors (outputs, saved arrays, gradients), so no op
module imports ``minigrad.tensor``: tensor.py imports the ops and this module, and
hands its class over once (``set_tensor_class``) as it is imported. A backward that
multiplies the gradient by an array it computed wraps that array with ``constant``.

Because backward works on Tensors with the ordinary differentiable ops, running it
while grad mode is on records a graph of the gradient itself: that is all
``create_graph=True`` does, and it is how higher-order derivatives come for free.

The engine (not each op) sums a returned gradient back to its input's shape, so a
broadcasting op never has to "unbroadcast" by hand.
"""

from collections import Counter

import functools
import threading
import weakref

import numpy as np

from . import dtypes


class _GradState(threading.local):
    """Whether ops record the graph: per thread, as in PyTorch (a data-loading thread's
    no_grad must not switch recording off for the training thread)."""

    enabled = True


_state = _GradState()
_new_object = object.__new__
_ONE_INPUT = (True,)
_Tensor = None  # minigrad.tensor.Tensor: tensor.py imports this module, and sets it once
_observer = None  # minigrad.debug's hooks while mg.trace or mg.detect_anomaly is open
# Called as node_hook(ctx, params) for each node recorded while it is set: mg.onnx.export
# sets it to learn each op's parameters and layer. None otherwise: one check per node.
node_hook = None


# Non-leaf tensors whose gradient ``backward`` keeps (Tensor.retain_grad), by id; an
# entry goes when its tensor does.
_retained = weakref.WeakValueDictionary()


def set_tensor_class(cls):
    """Make ``cls`` the class of every Tensor the engine creates (called by tensor.py)."""
    global _Tensor
    _Tensor = cls


def constant(array):
    """``array`` (not copied) as a Tensor that needs no gradient: a constant of the graph,
    e.g. a mask that a backward multiplies the gradient by."""
    tensor = _new_object(_Tensor)
    tensor.data = array
    tensor.grad = None
    tensor.requires_grad = False
    tensor._ctx = None
    tensor._versions = [0]
    return tensor


def retain_grad(tensor):
    _retained[id(tensor)] = tensor


def is_grad_enabled():
    return _state.enabled


class _GradMode:
    """Context manager and decorator that switches graph recording on or off."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.previous = []

    def __enter__(self):
        self.previous.append(_state.enabled)
        _state.enabled = self.enabled

    def __exit__(self, *exc_info):
        _state.enabled = self.previous.pop()

    def __call__(self, function):
        @functools.wraps(function)  # keeps the name, docstring and signature
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return function(*args, **kwargs)

        return wrapper


def no_grad():
    """Record no graph inside the block (or the decorated function).

    >>> import minigrad as mg
    >>> w = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> with mg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    return _GradMode(False)


def enable_grad():
    """Record the graph again inside a ``no_grad`` block."""
    return _GradMode(True)


class Context:
    """What a Function's forward leaves for its backward.

    ``save_for_backward`` takes the arrays forward saw (inputs or its output);
    ``saved_tensors`` hands them back as the graph's own Tensors, so that a
    backward written with Tensor ops stays connected to the graph.
    """

    recording = False  # set by Function.apply before forward when the node is recorded

    def save_for_backward(self, *arrays):
        self.saved_arrays = arrays
        # An in-place change to a saved input would make the gradient silently wrong:
        # remember each input's version, and check it when the backward asks. A node that
        # is not recorded (no_grad, or the ops of a backward pass) has no backward to ask.
        if self.recording:
            inputs = self.inputs
            count = len(inputs)  # one and two inputs spelled out: most recorded nodes
            if count == 2:
                self.saved_versions = (inputs[0]._versions[0], inputs[1]._versions[0])
            elif count == 1:
                self.saved_versions = (inputs[0]._versions[0],)
            else:
                self.saved_versions = tuple([tensor._versions[0] for tensor in inputs])

    @property
    def saved_tensors(self):
        inputs, arrays = self.inputs, self.saved_arrays
        if len(arrays) == 2 and len(inputs) == 2 and arrays[0] is inputs[0].data and arrays[1] is inputs[1].data:
            # a binary op that saved its two inputs (Mul, Maximum): the common case, at once
            a, b = inputs
            if a._versions[0] != self.saved_versions[0]:
                self._changed_in_place("an input", a)
            if b._versions[0] != self.saved_versions[1]:
                self._changed_in_place("an input", b)
            return inputs
        tensors = []
        for array in arrays:
            # most saved arrays are inputs' own
            for tensor, version in zip(inputs, self.saved_versions):
                if tensor.data is array:
                    if tensor._versions[0] != version:
                        self._changed_in_place("an input", tensor)
                    tensors.append(tensor)
                    break
            else:
                tensors.append(self._not_an_input(array))
        return tuple(tensors)

    def _not_an_input(self, array):
        """The Tensor for a saved array that is no input's: None, the output, or a constant."""
        if array is None:
            return None
        # The engine sets ``output`` while it runs this node's backward (a permanent
        # reference would make a cycle between the output and its ctx).
        output = getattr(self, "output", None)
        if output is not None and output.data is array:
            if output._versions[0] != 0:
                self._changed_in_place("its output", output)
            return output
        # An intermediate array: a constant as far as second derivatives go.
        return constant(array)

    def _changed_in_place(self, which, tensor):
        name = self.function.__name__ if hasattr(self, "function") else "an op"
        raise RuntimeError(
            f"{name}: {which} (shape {tensor.shape}), saved for the backward pass, was changed "
            "in place after the forward, so its gradient would be wrong; change a copy "
            "instead, or make the change before the forward"
        )


class Function:
    """Base class of every op. Subclasses define ``forward`` and ``backward``.

    Set ``once_differentiable = True`` on a Function whose backward is not made of
    Tensor ops (a fused kernel): its gradient can then be used, but not
    differentiated again.
    """

    once_differentiable = False
    # Set on an op whose inputs must share one dtype (arithmetic, matmul, joins): inputs of
    # mixed dtypes are cast first, by the rule in dtypes.py, with differentiable casts.
    promotes_dtypes = False

    @staticmethod
    def forward(ctx, *arrays, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the inputs' arrays and, in grad mode, record the node."""
        # The hot path of every op: one and two inputs are spelled out, without loops.
        ctx = Context()
        count = len(inputs)
        if count == 2:
            a, b = inputs
            if a.data.dtype is not b.data.dtype and cls.promotes_dtypes:
                inputs = _promoted(inputs)
                a, b = inputs
            record = (a.requires_grad or b.requires_grad) and _state.enabled  # the cheaper test first
        elif count == 1:
            record = inputs[0].requires_grad and _state.enabled
        else:
            if cls.promotes_dtypes:
                inputs = _promoted(inputs)
            record = _state.enabled and any([t.requires_grad for t in inputs])
        ctx.inputs = inputs
        if record:
            ctx.recording = True
        try:
            # a call spelling out ``**params`` costs twice a plain one, even with none
            if count == 1:
                x = inputs[0].data
                out = cls.forward(ctx, x, **params) if params else cls.forward(ctx, x)
            elif count == 2:
                out = cls.forward(ctx, a.data, b.data, **params) if params else cls.forward(ctx, a.data, b.data)
            else:
                out = cls.forward(ctx, *[t.data for t in inputs], **params)
        except ValueError as error:
            raise ValueError(_shape_message(cls.__name__, str(error), inputs)) from None
        except TypeError as error:  # NumPy's, for dtypes an op does not take (bool - bool)
            kinds = " and ".join(str(t.dtype) for t in inputs)
            raise TypeError(f"{cls.__name__}: {error} (input dtypes {kinds})") from None
        if type(out) is not np.ndarray:
            # NumPy gives a scalar for 0-d operands; forward may have saved that scalar
            scalar, out = out, np.asarray(out)
            saved = getattr(ctx, "saved_arrays", ())
            ctx.saved_arrays = tuple(out if array is scalar else array for array in saved)
        result = _new_object(_Tensor)  # Tensor._wrap(out), inlined
        result.data = out
        result.grad = None
        result._versions = [0]
        if record:
            if count == 2:
                ctx.needs_input_grad = (a.requires_grad, b.requires_grad)
            elif count == 1:
                ctx.needs_input_grad = _ONE_INPUT  # recorded, so that input requires grad
            else:
                ctx.needs_input_grad = tuple([t.requires_grad for t in inputs])
            ctx.function = cls
            result.requires_grad = True
            result._ctx = ctx
            if node_hook is not None:
                node_hook(ctx, params)
        else:
            result.requires_grad = False
            result._ctx = None
        if _observer is not None:
            _observer.forward(cls, inputs, out, ctx)
        return result


def _promoted(inputs):
    """The inputs cast to their common dtype (``dtypes.result_type``), as graph nodes."""
    target = dtypes.result_type([t.data for t in inputs])
    return tuple([t if t.data.dtype == target else t.astype(target) for t in inputs])


class ViewFunction(Function):
    """An op whose output may be a view of its first input's memory (reshape, transpose,
    broadcast, basic indexing): where it is, the output shares the input's version
    counter, so an in-place change through either is seen by a graph that saved the other."""

    @classmethod
    def apply(cls, *inputs, **params):
        result = super().apply(*inputs, **params)
        # NumPy points a view's base at the array that owns the memory; a copy (a reshape
        # of a non-contiguous array, integer-array indexing) has a base of its own.
        base = result.data.base
        if base is not None:
            source = inputs[0].data
            if base is source or base is source.base:
                result._versions = inputs[0]._versions
        return result


def _shape_message(name, message, inputs):
    """An op's ValueError message that names the op and its input shapes once each."""
    message = " ".join(message.split())  # NumPy's broadcast message ends in a space
    shapes = " and ".join(str(t.shape) for t in inputs)
    if "could not be broadcast" in message:  # NumPy's, with its own shape spelling "(2,3)"
        message = f"shapes {shapes} do not broadcast"
    elif not all(str(t.shape) in message for t in inputs):
        message = f"{message} (input shapes {shapes})"
    return message if message.startswith(name + ":") else f"{name}: {message}"


def _reduce_to_shape(grad, shape, function):
    """Sum a gradient over the axes its input was broadcast along (Tensor ops)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(
            f"{function.__name__}.backward returned a gradient of shape {grad.shape} "
            f"for an input of shape {shape}"
        )
    axes = list(range(extra))
    for i, size in enumerate(shape):
        if size != grad.shape[extra + i]:
            if size != 1:
                raise RuntimeError(
                    f"{function.__name__}.backward returned a gradient of shape "
                    f"{grad.shape} for an input of shape {shape}"
                )
            axes.append(extra + i)
    return grad.sum(axis=tuple(axes)).reshape(shape)


def _topological_order(roots):
    """Nodes that require grad, each before every node it was made from (iterative DFS).

    A node is marked when it is expanded, not when it is pushed: a node reached again
    through a longer path (a diamond) must still come out after all its consumers.
    """
    order = []
    expanded = set()
    stack = [(root, False) for root in reversed(roots)]
    push, pop, mark, emit = stack.append, stack.pop, expanded.add, order.append  # once, not per node
    while stack:
        tensor, children_done = pop()
        if children_done:
            emit(tensor)
            continue
        key = id(tensor)
        if key in expanded:
            continue
        mark(key)
        push((tensor, True))
        ctx = tensor._ctx
        if ctx is not None:
            for parent in ctx.inputs:
                if parent.requires_grad and id(parent) not in expanded:
                    push((parent, False))
    order.reverse()
    return order


class _NotTwiceDifferentiable(Function):
    """Stands for the gradient of a once-differentiable Function in a recorded graph."""

    @staticmethod
    def forward(ctx, grad, *inputs, name):
        ctx.name = name
        return grad

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(
            f"{ctx.name} is once-differentiable: its backward is a fused kernel and "
            "cannot be differentiated again. Use an implementation built from "
            "primitive ops (for batch norm, impl='composed') for higher-order gradients."
        )


def _once_differentiable_backward(ctx, grad):
    """Backward of a once-differentiable node while a graph of the gradient is recorded:
    the gradients are computed without a graph, then marked so that differentiating
    them again raises instead of silently returning zero."""
    with _GradMode(False):
        grads = ctx.function.backward(ctx, grad)
    if type(grads) is not tuple:
        grads = (grads,)
    return tuple(
        None if g is None else
        _NotTwiceDifferentiable.apply(g if isinstance(g, _Tensor) else constant(np.asarray(g)), grad,
                                      *ctx.inputs, name=ctx.function.__name__)
        for g in grads
    )


def run_backward(outputs, grad_outputs, inputs=None, create_graph=False):
    """The reverse sweep. Returns a dict id(tensor) -> gradient for leaves or ``inputs``.

    With ``inputs=None`` it returns (tensor, gradient) pairs for leaves and for non-leaves
    that retain their gradient (for ``.backward``).
    Intermediate gradients live only in a local dict, keyed by the node's id.
    """
    grads = {}
    for output, grad in zip(outputs, grad_outputs):
        key = id(output)
        grads[key] = grad if key not in grads else grads[key] + grad
    wanted = None if inputs is None else {id(t) for t in inputs}
    retained = _retained if wanted is None and _retained else ()
    results = {}
    with _GradMode(create_graph):
        for tensor in _topological_order(outputs):
            key = id(tensor)
            grad = grads.pop(key, None)
            if grad is None:
                continue
            if wanted is not None and key in wanted:
                results[key] = grad
            ctx = tensor._ctx
            if ctx is None:
                if _observer is not None:
                    _observer.leaf(tensor, grad)
                if wanted is None:
                    results[key] = (tensor, grad)
                continue
            if key in retained:
                results[key] = (tensor, grad)
            function = ctx.function
            parents = ctx.inputs
            ctx.output = tensor
            try:
                if create_graph and function.once_differentiable:
                    input_grads = _once_differentiable_backward(ctx, grad)
                else:
                    input_grads = function.backward(ctx, grad)
            finally:
                ctx.output = None  # no cycle between the output and its ctx
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            if len(input_grads) != len(parents):
                raise RuntimeError(
                    f"{function.__name__}.backward returned {len(input_grads)} gradients "
                    f"for {len(parents)} inputs"
                )
            if _observer is not None:
                _observer.backward(ctx, grad, input_grads)
            for parent, parent_grad in zip(parents, input_grads):
                if parent_grad is None or not parent.requires_grad:
                    continue
                if not isinstance(parent_grad, _Tensor):
                    parent_grad = constant(np.asarray(parent_grad))
                parent_array = parent.data
                if parent_grad.data.shape != parent_array.shape:
                    parent_grad = _reduce_to_shape(parent_grad, parent_array.shape, function)
                dtype = parent_grad.data.dtype
                if dtype is not parent_array.dtype and dtype != parent_array.dtype:
                    parent_grad = parent_grad.astype(parent_array.dtype)
                parent_key = id(parent)
                previous = grads.get(parent_key)
                if previous is None:
                    grads[parent_key] = parent_grad
                elif create_graph:
                    grads[parent_key] = previous + parent_grad  # a node of the recorded graph
                else:
                    # no graph is recorded: add the arrays without making an op (a new array,
                    # since either one may be shared, e.g. Add hands one gradient to both inputs)
                    total = previous.data + parent_grad.data
                    grads[parent_key] = constant(total if type(total) is np.ndarray else np.asarray(total))
    return results


def _as_tuple(tensors):
    if isinstance(tensors, _Tensor):
        return (tensors,)
    return tuple(tensors)


def _default_grad(output, name):
    if output.data.size != 1:
        raise RuntimeError(
            f"{name}: grad can be created implicitly only for one-element outputs, "
            f"but the output has shape {output.shape}; pass a gradient of that shape"
        )
    return constant(np.ones_like(output.data))


def _check_grad_output(output, grad, name):
    if grad is None:
        return _default_grad(output, name)
    if not isinstance(grad, _Tensor):
        grad = _Tensor(np.asarray(grad, dtype=output.dtype))
    if grad.shape != output.shape:
        raise RuntimeError(
            f"{name}: the gradient has shape {grad.shape} but the output has shape {output.shape}"
        )
    return grad


def backward(tensor, grad=None):
    """``tensor.backward(grad)``: accumulate d(tensor)/d(leaf) into every leaf's ``.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: the tensor does not require grad and has no graph "
            "(did you forget requires_grad=True, or call it inside no_grad?)"
        )
    grad = _check_grad_output(tensor, grad, "backward")
    found = list(run_backward([tensor], [grad]).values())
    for (leaf, _), array in zip(found, _owned_arrays(found, [grad])):
        if leaf.grad is None:
            leaf.grad = constant(array)
        else:
            leaf.grad = constant(leaf.grad.data + array)


def _owned_arrays(pairs, caller_grads):
    """The arrays of (tensor, gradient) pairs, each one memory that nothing else holds.

    A gradient handed to the user must own its memory (it may be scaled in place, e.g.
    to clip it). Most arrive as fresh arrays, or views of one after a reshape, and are
    taken as they are; a copy is made only of one whose memory something else may hold:
    another gradient of the same call (Add gives one array to both operands), the
    caller's own gradient, the tensor's data, or a read-only broadcast view.
    """
    roots = [_memory_root(gradient.data) for _, gradient in pairs]
    handed_out = Counter(id(root) for root in roots)
    foreign = {id(_memory_root(g.data)) for g in caller_grads}
    arrays = []
    for (tensor, gradient), root in zip(pairs, roots):
        array = gradient.data
        shared = (
            handed_out[id(root)] > 1
            or id(root) in foreign
            or root is _memory_root(tensor.data)
            or not array.flags.writeable
        )
        arrays.append(array.copy() if shared else array)
    return arrays


def _memory_root(array):
    """The array that owns the memory ``array`` views."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def grad(outputs, inputs, grad_outputs=None, create_graph=False):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Parameters
    ----------
    outputs, inputs : Tensor or sequence of Tensors
    grad_outputs : Tensor or sequence, optional
        The vector in the vector-Jacobian product; may be omitted for one-element outputs.
    create_graph : bool
        Record the graph of the gradient itself, so it can be differentiated again.

    Returns
    -------
    tuple of Tensors, one per input (zeros for an input the outputs do not depend on).

    Examples
    --------
    >>> import minigrad as mg
    >>> x = mg.tensor(2.0, requires_grad=True)
    >>> (dx,) = mg.grad(x ** 3, x, create_graph=True)
    >>> (d2x,) = mg.grad(dx, x)
    >>> dx.item(), d2x.item()
    (12.0, 12.0)
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {tensor.shape}) does not require grad")
    roots, root_grads = [], []
    for output, g in zip(outputs, grad_outputs):
        g = _check_grad_output(output, g, "grad")
        if output.requires_grad:
            roots.append(output)
            root_grads.append(g)
    found = run_backward(roots, root_grads, inputs=inputs, create_graph=create_graph)
    if create_graph:  # graph nodes themselves: they must stay connected
        return tuple(
            found[id(t)] if id(t) in found else constant(np.zeros_like(t.data)) for t in inputs
        )
    reached = [(t, found[id(t)]) for t in inputs if id(t) in found]
    owned = iter(_owned_arrays(reached, root_grads))
    return tuple(
        constant(next(owned)) if id(t) in found else constant(np.zeros_like(t.data))
        for t in inputs
    )
