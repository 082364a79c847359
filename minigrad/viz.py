"""Drawing the graph that made a tensor: Graphviz DOT text, and SVG/PNG through Graphviz.

Ops are boxes, tensors are ovals with their shape and dtype. Leaves that require grad
(parameters, inputs) are filled blue, constants are grey and dashed, the tensor drawn
from is bold. Edges run the way the forward pass did, from inputs to outputs; the
backward sweep walks them the other way.
"""

import shutil

_INSTALL = (
    "install Graphviz's dot program (apt-get install graphviz, brew install graphviz, or "
    "https://graphviz.org/download/) and the graphviz Python package "
    "(pip install 'minigrad[viz]', or pip install graphviz)"
)


def _names(params):
    """id(tensor) -> name from a Module (parameters and buffers) or a name -> tensor mapping."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        pairs = list(params.named_parameters())
        pairs += [(name, t) for name, t in params.named_buffers() if t is not None]
    elif hasattr(params, "items"):
        pairs = list(params.items())
    else:
        pairs = list(params)
    return {id(tensor): name for name, tensor in pairs if tensor is not None}


def _graph(tensor):
    """Tensors and op nodes reachable from ``tensor``, in a fixed order (iterative)."""
    tensors, ops, edges = [], [], []
    seen = {}
    stack = [tensor]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen[id(current)] = f"t{len(tensors)}"
        tensors.append(current)
        ctx = current._ctx
        if ctx is not None:
            op = f"op{len(ops)}"
            ops.append((op, ctx.function.__name__))
            edges.append((op, seen[id(current)]))
            for parent in ctx.inputs:
                edges.append((parent, op))
            stack.extend(reversed(ctx.inputs))
    # inputs were recorded as tensors: now every one of them has its name
    edges = [(a if isinstance(a, str) else seen[id(a)], b) for a, b in edges]
    return tensors, seen, ops, edges


def _quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensor, show_grads=True, params=None):
    """Graphviz DOT text of the graph that made ``tensor``.

    Parameters
    ----------
    tensor : Tensor
        Drawn with everything it was computed from.
    show_grads : bool
        Add the norm of each tensor's ``.grad`` (once backward has run).
    params : Module or mapping name -> Tensor, optional
        Names to show for parameters and buffers, e.g. ``model`` or
        ``dict(model.named_parameters())`` (``0.weight``, ``1.running_mean``).

    Examples
    --------
    >>> import minigrad as mg
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> dot = mg.viz.to_dot((x * 3).sum())
    >>> dot.count("shape=box")  # the two ops, Mul and Sum
    2
    """
    names = _names(params)
    tensors, node_of, ops, edges = _graph(tensor)
    lines = [
        "digraph minigrad {",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [arrowsize=0.7];',
    ]
    for t in tensors:
        if t is tensor:
            role, style = "output", 'style="bold,filled", fillcolor="#fde9b8"'
        elif t._ctx is not None:
            role, style = None, 'style=filled, fillcolor="#ffffff"'
        elif t.requires_grad:
            role, style = "leaf", 'style=filled, fillcolor="#bcd9f5"'
        else:
            role, style = "constant", 'style="dashed,filled", fillcolor="#eeeeee", color="#888888"'
        label = []
        name = names.get(id(t))
        if name is not None:
            label.append(name)
        elif role is not None:
            label.append(role)
        label.append(f"{tuple(t.shape)} {t.dtype}")
        if show_grads and t.grad is not None:
            norm = float((t.grad.data.astype("float64") ** 2).sum() ** 0.5)
            label.append(f"|grad| = {norm:.4g}")
        lines.append(f"  {node_of[id(t)]} [shape=ellipse, label={_quote(chr(10).join(label))}, {style}];")
    for op, name in ops:
        lines.append(f'  {op} [shape=box, label={_quote(name)}, style="rounded,filled", fillcolor="#d9ead3"];')
    for source, target in edges:
        lines.append(f"  {source} -> {target};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(tensor, path, show_grads=True, params=None):
    """Render the graph of ``tensor`` to ``path`` (.svg, .png or .pdf) with Graphviz.

    Needs Graphviz's ``dot`` program and the ``graphviz`` Python package (the ``viz``
    extra); without them raises an error that says how to install them.
    Returns the path written.
    """
    path = str(path)
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"draw: the path {path!r} must end in .svg, .png or .pdf")
    try:
        import graphviz
    except ImportError:
        raise ImportError(f"draw: the graphviz Python package is missing; {_INSTALL}") from None
    if shutil.which("dot") is None:
        raise RuntimeError(f"draw: Graphviz's dot program is not on the PATH; {_INSTALL}")
    source = to_dot(tensor, show_grads=show_grads, params=params)
    try:
        rendered = graphviz.Source(source).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(f"draw: Graphviz's dot program could not be run; {_INSTALL}") from None
    with open(path, "wb") as out:
        out.write(rendered)
    return path
