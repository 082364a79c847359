"""Watching the engine: ``mg.trace()`` records the backward sweep, ``mg.detect_anomaly()``
stops at the first op that makes NaN or Inf.

The engine calls in here only while one of these blocks is open somewhere: it checks a
single module-level name (``autograd._observer``) per op and per swept node, so neither
costs anything when unused. Which blocks are open is kept per thread, as PyTorch does.
"""

import linecache
import os
import threading

import numpy as np

from . import autograd

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_lock = threading.Lock()
_open_blocks = 0  # over all threads: the engine calls in here while this is above zero


class _Local(threading.local):
    def __init__(self):
        self.traces = []
        self.anomaly = 0


_local = _Local()


def _opened():
    global _open_blocks
    with _lock:
        _open_blocks += 1
        autograd._observer = _Observer


def _closed():
    global _open_blocks
    with _lock:
        _open_blocks -= 1
        if _open_blocks == 0:
            autograd._observer = None


# ---- where the user's code made a node ------------------------------------------------
def _user_site():
    """(file, line) of the innermost caller outside the minigrad package."""
    import sys

    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return frame.f_code.co_filename, frame.f_lineno


def _describe_site(site):
    if site is None:
        return "the node was created outside detect_anomaly(), so its line is not known"
    filename, line = site
    source = linecache.getline(filename, line).strip()
    return f"the node was created at {filename}:{line}" + (f": {source}" if source else "")


def _node_in_backward():
    """The ctx whose backward the innermost running sweep is in, or None (error path only)."""
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is autograd.run_backward.__code__:
            return frame.f_locals.get("ctx")
        frame = frame.f_back
    return None


def _non_finite(array):
    """'nan' or 'inf' if a float array holds one (nan first), else None."""
    if array.dtype.kind not in "fc" or np.isfinite(array).all():
        return None
    return "nan" if np.isnan(array).any() else "inf"


# ---- what the engine calls -------------------------------------------------------------
class _Observer:
    """The hooks the engine calls while a block is open (in any thread)."""

    @staticmethod
    def forward(function, inputs, out, ctx):
        if not _local.anomaly:
            return
        site = _user_site()
        if hasattr(ctx, "function"):
            ctx.created_at = site
        bad = _non_finite(out)
        if bad is None:
            return
        sweeping = _node_in_backward()
        if sweeping is not None:  # an op inside a node's backward: blame that node
            raise RuntimeError(
                f"detect_anomaly: {sweeping.function.__name__} produced {bad} in its backward "
                f"pass (in a {function.__name__}, shape {out.shape}); "
                f"{_describe_site(getattr(sweeping, 'created_at', None))}"
            )
        already = [i for i, t in enumerate(inputs) if _non_finite(np.asarray(t.data))]
        note = (f"; input {already[0]} already held non-finite values" if already else "")
        raise RuntimeError(
            f"detect_anomaly: {function.__name__} produced {bad} in its forward pass "
            f"(output shape {out.shape}){note}; {_describe_site(site)}"
        )

    @staticmethod
    def leaf(tensor, grad):
        for trace in _local.traces:
            trace._record("AccumulateGrad", grad, [])

    @staticmethod
    def backward(ctx, grad, input_grads):
        sent = [
            None if g is None or not parent.requires_grad
            else _sum_to_shape(np.asarray(g.data if isinstance(g, autograd._Tensor) else g),
                               parent.data.shape)
            for parent, g in zip(ctx.inputs, input_grads)
        ]
        name = ctx.function.__name__
        for trace in _local.traces:
            trace._record(name, grad, sent)
        if not _local.anomaly:
            return
        for i, array in enumerate(sent):
            bad = None if array is None else _non_finite(array)
            if bad is not None:
                upstream = _non_finite(np.asarray(grad.data))
                note = f"; the gradient it received already held {upstream}" if upstream else ""
                raise RuntimeError(
                    f"detect_anomaly: {name} produced {bad} in its backward pass (the gradient "
                    f"for its input {i}, shape {array.shape}){note}; "
                    f"{_describe_site(getattr(ctx, 'created_at', None))}"
                )


def _sum_to_shape(array, shape):
    """The gradient as the engine hands it on: summed over broadcast axes (NumPy only)."""
    if array.shape == shape:
        return array
    extra = array.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and array.shape[extra + i] != 1
    )
    return array.sum(axis=axes).reshape(shape)


# ---- the public context managers ------------------------------------------------------
class trace:
    """Record each node the backward sweep visits, in sweep order.

    Each row of ``.rows`` is a dict: ``step``, ``op`` (the Function's name, or
    ``AccumulateGrad`` where a gradient reaches a leaf), ``received``
    (shape and dtype of the incoming gradient), and ``sent``: one entry per input, None
    where the input needs no gradient, else a dict with its ``shape``, ``dtype`` and
    ``norm`` (the Euclidean norm of that gradient). ``.table()`` formats them as text.
    Tracing only watches: the gradients are bitwise the same as without it.

    Examples
    --------
    >>> import minigrad as mg
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> with mg.trace() as t:
    ...     (x * 3).sum().backward()
    >>> [row["op"] for row in t.rows]
    ['Sum', 'Mul', 'AccumulateGrad']
    """

    def __init__(self):
        self.rows = []

    def __enter__(self):
        _local.traces.append(self)
        _opened()
        return self

    def __exit__(self, *exc_info):
        _local.traces.remove(self)
        _closed()

    def _record(self, op, grad, sent):
        received = np.asarray(grad.data if isinstance(grad, autograd._Tensor) else grad)
        self.rows.append({
            "step": len(self.rows) + 1,
            "op": op,
            "received": {"shape": received.shape, "dtype": str(received.dtype)},
            "sent": [
                None if g is None else
                {"shape": g.shape, "dtype": str(g.dtype), "norm": float(np.linalg.norm(g.ravel()))}
                for g in sent
            ],
        })

    def table(self):
        """The rows as a text table, one line per node of the sweep."""
        lines = [("step", "op", "received", "sent (shape dtype |grad|)")]
        for row in self.rows:
            received = f"{row['received']['shape']} {row['received']['dtype']}"
            sent = "; ".join(
                "-" if g is None else f"{g['shape']} {g['dtype']} {g['norm']:.4g}"
                for g in row["sent"]
            )
            lines.append((str(row["step"]), row["op"], received, sent))
        widths = [max(len(line[i]) for line in lines) for i in range(3)]
        return "\n".join(
            f"{a:>{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip()
            for a, b, c, d in lines
        )

    def __repr__(self):
        return self.table()


class detect_anomaly:
    """Raise at the first op whose forward or backward makes NaN or Inf.

    The RuntimeError names the op, whether it was the forward or the backward pass, and
    the file and line of the code that created the node (recorded only inside this block,
    so code outside it runs at full speed).

    Examples
    --------
    >>> import minigrad as mg
    >>> x = mg.tensor([-1.0], requires_grad=True)
    >>> with mg.detect_anomaly():
    ...     x.log()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: detect_anomaly: Log produced nan in its forward pass ...
    """

    def __enter__(self):
        _local.anomaly += 1
        _opened()
        return self

    def __exit__(self, *exc_info):
        _local.anomaly -= 1
        _closed()
