"""``mg.onnx.export``: a model, traced on an example input, written as an ONNX file."""

import os
import pathlib
import warnings

import numpy as np

from ..tensor import Tensor
from .graph import GraphBuilder, Value
from .ops import CONVERTERS, Unsupported, _max_shift_axes  # noqa: F401
from .trace import trace, traced

MIN_OPSET = 13  # ReduceSum's axes as an input, Softmax over one axis: the forms used here

# Layers whose forward differs between training and eval (what export changes).
_MODE_DEPENDENT = ("BatchNorm1d", "BatchNorm2d", "Dropout")


def _import_onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError:
        raise ImportError(
            "mg.onnx.export needs the onnx package: pip install onnx "
            "(or pip install 'minigrad[onnx]', which also brings onnxruntime)"
        ) from None
    return onnx


def export(model, example_input, path, opset=17, dynamic_batch=True):
    """Write ``model`` in eval form as an ONNX file, traced on ``example_input``.

    The model runs once on the example; the graph autograd records is turned into
    ONNX nodes with ``onnx.helper``. Parameters and buffers become initializers named
    as in ``state_dict`` (``0.weight``, ``1.running_mean``), the input is ``input`` and
    the output ``output``. The model is checked with ``onnx.checker.check_model``
    before anything is written, and the file appears whole or not at all.

    Parameters
    ----------
    model : nn.Module
        Exported in eval form: BatchNorm normalizes with its running statistics and
        Dropout passes its input through. A model in training mode is traced in eval
        mode (with a warning naming the layers that change) and then put back.
    example_input : Tensor or numpy.ndarray
        An input of the shape the model takes, batch axis first.
    path : str or path-like
        Where to write the ``.onnx`` file.
    opset : int
        The ONNX operator set version (13 up to what the installed onnx knows).
    dynamic_batch : bool
        Give the batch axis (axis 0 of the input) a symbolic size ``"batch"``, so that
        the exported model takes any batch size.

    Returns
    -------
    onnx.ModelProto, the model that was written.

    Raises
    ------
    NotImplementedError
        For an op without an ONNX mapping, naming the op and the layer that used it;
        no file is written.

    Examples
    --------
    >>> import minigrad as mg
    >>> from minigrad import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> proto = mg.onnx.export(model, mg.randn(2, 4), "mlp.onnx")  # doctest: +SKIP
    >>> [node.op_type for node in proto.graph.node]  # doctest: +SKIP
    ['Transpose', 'MatMul', 'Add', 'Relu', 'Transpose', 'MatMul', 'Add']
    """
    onnx = _import_onnx()
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"mg.onnx.export: opset must be an int from {MIN_OPSET} to {newest} "
            f"(the newest the installed onnx {onnx.__version__} knows), got {opset!r}"
        )
    example = example_input.data if isinstance(example_input, Tensor) else Tensor(example_input).data
    if example.dtype.kind != "f":
        raise ValueError(f"mg.onnx.export: the example input must be floating point, got {example.dtype}")
    if dynamic_batch and example.ndim == 0:
        raise ValueError("mg.onnx.export: a 0-d example input has no batch axis; use dynamic_batch=False")
    inputs, output, nodes = _trace_in_eval_form(model, example)
    proto = _build(onnx, model, inputs, output, nodes, int(opset), bool(dynamic_batch))
    onnx.checker.check_model(proto, full_check=True)
    _write_whole(proto.SerializeToString(), path)
    return proto


def _trace_in_eval_form(model, example):
    modes = [(module, module.training) for module in model.modules()]
    changed = [
        f"'{name}' ({type(module).__name__})" if name else type(module).__name__
        for name, module in model.named_modules()
        if module.training and type(module).__name__ in _MODE_DEPENDENT
    ]
    if changed:
        warnings.warn(
            "mg.onnx.export: the model is in training mode; it is exported in eval form, as "
            "after model.eval() (BatchNorm with its running statistics, Dropout as identity), "
            f"which changes {', '.join(changed)}. The model is left in training mode.",
            UserWarning,
            stacklevel=3,
        )
    model.eval()
    try:
        return trace(model, [example])
    finally:
        for module, training in modes:
            object.__setattr__(module, "training", training)


def _build(onnx, model, inputs, output, nodes, opset, dynamic_batch):
    graph = GraphBuilder(onnx, opset, dynamic_batch, batch_size=inputs[0].shape[0] if inputs[0].ndim else 1)
    state_names = {}
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        state_names.setdefault(id(tensor), name)
    values = {}
    graph_inputs = []
    for i, tensor in enumerate(inputs):
        name = graph.unique("input" if len(inputs) == 1 else f"input_{i}")
        value = Value(name, tensor.dtype, tensor.shape, 0 if dynamic_batch else None)
        values[id(tensor)] = value
        graph_inputs.append(graph.value_info(value))

    def leaf(tensor):
        """A parameter, buffer or constant, added as an initializer the first time it is read."""
        value = values.get(id(tensor))
        if value is None:
            name = state_names.get(id(tensor), "constant")
            value = graph.initializer(tensor.data, name)
            values[id(tensor)] = value
        return value

    graph.leaf = leaf
    for node in nodes:
        converter = CONVERTERS.get(node.op)
        if converter is None:
            raise NotImplementedError(
                f"mg.onnx.export: the op {node.op}, used by {node.layer}, has no ONNX mapping "
                f"(ops that export: {', '.join(sorted(CONVERTERS))})"
            )

        def operand(i, node=node):
            tensor = node.inputs[i]
            return values[id(tensor)] if traced(tensor) else leaf(tensor)

        try:
            values[id(node.output)] = converter(graph, node, operand)
        except Unsupported as why:
            raise NotImplementedError(
                f"mg.onnx.export: the op {node.op}, used by {node.layer}, cannot be exported: {why}"
            ) from None
    result = values.get(id(output)) if traced(output) else None
    if result is None:
        # The output is the input itself or a constant: ONNX still needs a node to make it.
        source = values[id(output)] if id(output) in values else leaf(output)
        result = graph.node("Identity", [source.name], None, source.dtype, source.shape, source.batch_axis)
    _rename_output(graph, result.name, "output")
    result = Value("output", result.dtype, result.shape, result.batch_axis)
    body = onnx.helper.make_graph(
        graph.nodes, type(model).__name__, graph_inputs, [graph.value_info(result)],
        initializer=graph.initializers,
    )
    opset_ids = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(
        body, opset_imports=opset_ids, producer_name="minigrad", producer_version=_version(),
        doc_string=f"{type(model).__name__} exported by minigrad in eval form",
    )
    # The oldest IR version that carries this opset: older runtimes can read the file too.
    proto.ir_version = onnx.helper.find_min_ir_version_for(opset_ids)
    return proto


def _rename_output(graph, old, new):
    for node in graph.nodes:
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
                return
    raise AssertionError(f"no node makes {old}")  # the output always comes from a node here


def _version():
    from .. import __version__

    return __version__


def _write_whole(data, path):
    """Write ``data`` to ``path`` through a temporary file beside it, renamed at the end."""
    path = pathlib.Path(os.fspath(path))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
