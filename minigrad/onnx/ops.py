"""How each minigrad op becomes ONNX nodes: a table keyed by the op's Function name.

A converter is called as ``converter(graph, node, operand)``: ``graph`` the
GraphBuilder, ``node`` the traced Node (its Tensors and parameters), ``operand(i)`` the
Value of its i-th input. It adds nodes and returns the Value of the op's output, with
its batch axis. The table is keyed by name, not by class, so that where an op's
Function lives inside minigrad does not matter here.
"""

import numpy as np

from .graph import Value

CONVERTERS = {}


class Unsupported(Exception):
    """An op that has a converter, used in a way ONNX (or this exporter) cannot express."""


def converts(*names):
    def register(converter):
        for name in names:
            CONVERTERS[name] = converter
        return converter

    return register


def _result(graph, node, op_type, inputs, batch_axis, **attributes):
    out = node.output
    return graph.node(op_type, [v.name for v in inputs], node.layer, out.dtype, out.shape,
                      batch_axis, **attributes)


def _broadcast_batch_axis(graph, node, values):
    """The batch axis of a broadcasting op's output; refuses a constant that has the
    example's batch size along it (its size would not follow a different batch)."""
    ndim = node.output.ndim
    axis = None
    for value in values:
        if value.batch_axis is not None:
            axis = value.batch_axis + ndim - value.ndim
            break
    if axis is None or not graph.dynamic_batch or graph.batch_size == 1:
        return axis
    for value in values:
        own = axis - (ndim - value.ndim)
        if value.batch_axis is None and own >= 0 and value.shape[own] == graph.batch_size:
            raise Unsupported(
                f"an operand of shape {value.shape} that does not come from the input has the "
                f"example's batch size {graph.batch_size} on the batch axis, so the exported "
                "model could not take another batch size; export with dynamic_batch=False"
            )
    return axis


# ---- elementwise ------------------------------------------------------------------------
_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow",
           "Maximum": "Max", "Minimum": "Min"}
_UNARY = {"Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "StdFromVar": "Sqrt",
          "Abs": "Abs", "Relu": "Relu", "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Erf": "Erf",
          "Sin": "Sin", "Cos": "Cos", "Tan": "Tan", "Arcsin": "Asin", "Arccos": "Acos",
          "Arctan": "Atan", "Sinh": "Sinh", "Cosh": "Cosh", "Arcsinh": "Asinh",
          "Arccosh": "Acosh", "Arctanh": "Atanh", "Sign": "Sign", "Floor": "Floor", "Ceil": "Ceil"}


def _max_shift_axes(node):
    """For ``a - c`` where ``c`` is a constant equal to ``a.max(axes, keepdims=True)``
    (softmax's shift, taken from the data so that no node records it): those axes."""
    a, c = node.inputs
    if c._ctx is not None or c.ndim != a.ndim or a.ndim == 0 or a.data.dtype.kind != "f":
        return None
    axes = tuple(i for i in range(a.ndim) if c.shape[i] == 1 and a.shape[i] != 1)
    if not axes or any(c.shape[i] not in (1, a.shape[i]) for i in range(a.ndim)):
        return None
    if np.array_equal(c.data, a.data.max(axis=axes, keepdims=True)):
        return axes
    return None


@converts(*_BINARY)
def _binary(graph, node, operand):
    dtype = node.output.dtype
    a = graph.cast(operand(0), dtype, node.layer)
    if len(node.inputs) == 1:
        # a tensor and a Python number: the number is the node's parameter (ops/scalar.py)
        number = Value(graph.constant(np.asarray(node.params["scalar"], dtype=dtype)), dtype, ())
        pair = [number, a] if node.params.get("reverse") else [a, number]
        return _result(graph, node, _BINARY[node.op], pair, a.batch_axis)
    shift_axes = _max_shift_axes(node) if node.op == "Sub" else None
    if shift_axes is not None:
        # The shift is the input's own max: computed in the graph, it follows the data.
        b = _reduce(graph, node, "ReduceMax", a, shift_axes, keepdims=True)
    else:
        b = graph.cast(operand(1), dtype, node.layer)
    axis = _broadcast_batch_axis(graph, node, [a, b])
    return _result(graph, node, _BINARY[node.op], [a, b], axis)


@converts(*_UNARY)
def _unary(graph, node, operand):
    a = operand(0)
    return _result(graph, node, _UNARY[node.op], [a], a.batch_axis)


@converts("Clip")
def _clip(graph, node, operand):
    a = operand(0)
    bounds = [
        "" if bound is None else graph.constant(np.asarray(bound, dtype=a.dtype))
        for bound in (node.params.get("lo"), node.params.get("hi"))
    ]
    out = node.output
    return graph.node("Clip", [a.name] + bounds, node.layer, out.dtype, out.shape, a.batch_axis)


@converts("Where")
def _where(graph, node, operand):
    condition = np.asarray(node.params["condition"], dtype=bool)
    dtype = node.output.dtype
    a = graph.cast(operand(0), dtype, node.layer)
    b = graph.cast(operand(1), dtype, node.layer)
    first = node.inputs[0]
    if condition.shape == first.shape and np.array_equal(condition, first.data > 0):
        # where(x > 0, x, ...) (leaky_relu): the mask comes from the data, so compute it
        zero = graph.constant(np.zeros((), dtype=dtype))
        c = graph.node("Greater", [a.name, zero], node.layer, bool, a.shape, a.batch_axis)
    else:
        c = Value(graph.constant(condition), bool, condition.shape)
        axis = _broadcast_batch_axis(graph, node, [a, b])
        own = None if axis is None else axis - (node.output.ndim - condition.ndim)
        covers_batch = graph.dynamic_batch and own is not None and own >= 0
        if covers_batch or condition.shape == node.output.shape:
            raise Unsupported(
                f"its condition (shape {condition.shape}) is an array fixed when the model was "
                "traced, most likely a mask computed from the data (a comparison such as "
                "x > 0.5 records no graph node), which would not follow another input; only "
                "where(x > 0, ...) (leaky_relu) is recognized and computed in the graph"
            )
    axis = _broadcast_batch_axis(graph, node, [a, b, c])
    return _result(graph, node, "Where", [c, a, b], axis)


@converts("Cast")
def _cast(graph, node, operand):
    a = operand(0)
    to = graph.onnx.helper.np_dtype_to_tensor_dtype(node.output.dtype)
    return _result(graph, node, "Cast", [a], a.batch_axis, to=to)


# ---- matrix product ---------------------------------------------------------------------
@converts("MatMul")
def _matmul(graph, node, operand):
    dtype = node.output.dtype
    a = graph.cast(operand(0), dtype, node.layer)
    b = graph.cast(operand(1), dtype, node.layer)
    ndim = node.output.ndim
    axis = None
    if a.batch_axis is not None and a.ndim >= 2 and a.batch_axis != a.ndim - 1:
        axis = a.batch_axis + ndim - a.ndim  # a's rows (or its stacking axes)
    elif b.batch_axis is not None and b.ndim >= 2 and b.batch_axis != b.ndim - 2:
        axis = ndim - 1 if b.batch_axis == b.ndim - 1 else b.batch_axis + ndim - b.ndim
    elif graph.dynamic_batch and (a.batch_axis is not None or b.batch_axis is not None):
        raise Unsupported(
            f"the batch axis is summed over by this product of shapes {a.shape} and {b.shape}; "
            "export with dynamic_batch=False"
        )
    return _result(graph, node, "MatMul", [a, b], axis)


# ---- shapes -----------------------------------------------------------------------------
@converts("Reshape")
def _reshape(graph, node, operand):
    a = operand(0)
    target = list(node.output.shape)
    axis = a.batch_axis
    if graph.dynamic_batch and axis is not None:
        if tuple(target[:axis + 1]) == a.shape[:axis + 1]:
            target[axis] = 0  # ONNX: copy this axis's size from the input
        elif axis == 0 and target and target[0] % graph.batch_size == 0:
            target[0] = -1  # the batch merged into the leading axis: infer its size
        else:
            raise Unsupported(
                f"reshaping {a.shape} to {tuple(node.output.shape)} splits the batch axis, so "
                "the target cannot follow another batch size; export with dynamic_batch=False"
            )
    shape = graph.constant(np.array(target, dtype=np.int64))
    out = node.output
    return graph.node("Reshape", [a.name, shape], node.layer, out.dtype, out.shape, axis)


@converts("Transpose")
def _transpose(graph, node, operand):
    a = operand(0)
    perm = [int(p) for p in node.params["axes"]]
    axis = None if a.batch_axis is None else perm.index(a.batch_axis)
    return _result(graph, node, "Transpose", [a], axis, perm=perm)


@converts("Expand")
def _expand(graph, node, operand):
    a = operand(0)
    target = list(node.output.shape)
    axis = None
    if a.batch_axis is not None:
        axis = a.batch_axis + len(target) - a.ndim
        if graph.dynamic_batch:
            target[axis] = 1  # Expand broadcasts both ways: 1 keeps the input's batch size
    shape = graph.constant(np.array(target, dtype=np.int64))
    out = node.output
    return graph.node("Expand", [a.name, shape], node.layer, out.dtype, out.shape, axis)


@converts("Concatenate")
def _concatenate(graph, node, operand):
    dtype = node.output.dtype
    values = [graph.cast(operand(i), dtype, node.layer) for i in range(len(node.inputs))]
    joined = int(node.params["axis"])
    axis = _broadcast_batch_axis(graph, node, values) if joined != 0 else None
    if joined == 0 and any(v.batch_axis == 0 for v in values):
        if graph.dynamic_batch:
            raise Unsupported("joining along the batch axis; export with dynamic_batch=False")
    return _result(graph, node, "Concat", values, axis, axis=joined)


@converts("Pad")
def _pad(graph, node, operand):
    a = operand(0)
    widths = [(int(before), int(after)) for before, after in node.params["widths"]]
    if graph.dynamic_batch and a.batch_axis is not None and widths[a.batch_axis] != (0, 0):
        raise Unsupported("padding the batch axis; export with dynamic_batch=False")
    pads = graph.constant(np.array([b for b, _ in widths] + [e for _, e in widths], dtype=np.int64))
    value = graph.constant(np.asarray(node.params.get("value", 0), dtype=a.dtype))
    out = node.output
    return graph.node("Pad", [a.name, pads, value], node.layer, out.dtype, out.shape, a.batch_axis,
                      mode="constant")


# ---- reductions -------------------------------------------------------------------------
def _reduce(graph, node, op_type, a, axes, keepdims):
    """ReduceSum/Max/Min over ``axes`` (an input from opset 13 or 18 on, else an attribute)."""
    axes = [int(x) for x in axes]
    shape = tuple(1 if i in axes else s for i, s in enumerate(a.shape))
    if not keepdims:
        shape = tuple(s for i, s in enumerate(a.shape) if i not in axes)
    axis = a.batch_axis
    if axis is not None:
        if axis in axes:
            axis = None
        elif not keepdims:
            axis -= sum(1 for x in axes if x < axis)
    if not axes:
        return graph.node("Identity", [a.name], node.layer, a.dtype, shape, axis)
    axes_as_input = graph.opset >= (13 if op_type == "ReduceSum" else 18)
    if axes_as_input:
        inputs = [a.name, graph.constant(np.array(axes, dtype=np.int64))]
        return graph.node(op_type, inputs, node.layer, a.dtype, shape, axis, keepdims=int(keepdims))
    return graph.node(op_type, [a.name], node.layer, a.dtype, shape, axis,
                      axes=axes, keepdims=int(keepdims))


@converts("Sum")
def _sum(graph, node, operand):
    return _reduce(graph, node, "ReduceSum", operand(0), node.params["axis"], node.params["keepdims"])


@converts("Mean")
def _mean(graph, node, operand):
    total = _reduce(graph, node, "ReduceSum", operand(0), node.params["axis"], node.params["keepdims"])
    divisor = graph.constant(np.asarray(node.params["divisor"], dtype=node.output.dtype))
    out = node.output
    return graph.node("Div", [total.name, divisor], node.layer, out.dtype, out.shape, total.batch_axis)


@converts("Max")
def _max(graph, node, operand):
    op_type = "ReduceMin" if node.params.get("smallest") else "ReduceMax"
    return _reduce(graph, node, op_type, operand(0), node.params["axis"], node.params["keepdims"])


# ---- convolution, pooling, batch norm ---------------------------------------------------
def _geometry_attributes(kernel, geometry):
    (ph, pw) = geometry.padding
    return {
        "kernel_shape": [int(k) for k in kernel],
        "strides": [int(s) for s in geometry.stride],
        "pads": [int(ph), int(pw), int(ph), int(pw)],
    }


@converts("Conv2d")
def _conv2d(graph, node, operand):
    dtype = node.output.dtype
    values = [graph.cast(operand(i), dtype, node.layer) for i in range(len(node.inputs))]
    geometry = node.params["geometry"]
    weight = node.inputs[1]
    attributes = _geometry_attributes(weight.shape[2:], geometry)
    attributes["dilations"] = [int(d) for d in geometry.dilation]
    attributes["group"] = int(geometry.groups)
    return _result(graph, node, "Conv", values, values[0].batch_axis, **attributes)


@converts("MaxPool2d")
def _max_pool2d(graph, node, operand):
    if node.params.get("choice") is not None:
        raise Unsupported("max pooling's gather of given winners (a gradient) has no ONNX form")
    a = operand(0)
    attributes = _geometry_attributes(node.params["kernel"], node.params["geometry"])
    return _result(graph, node, "MaxPool", [a], a.batch_axis, **attributes)


@converts("AvgPool2d")
def _avg_pool2d(graph, node, operand):
    a = operand(0)
    attributes = _geometry_attributes(node.params["kernel"], node.params["geometry"])
    # minigrad (as PyTorch's default) divides by the whole window, padding included
    return _result(graph, node, "AveragePool", [a], a.batch_axis, count_include_pad=1, **attributes)


@converts("BatchNormFunction")
def _batch_norm(graph, node, operand):
    params = node.params
    if params["training"] or params.get("running_mean") is None:
        raise Unsupported(
            "batch norm with the batch's statistics (training, or track_running_stats=False) "
            "has no inference form; only running statistics export"
        )
    x = operand(0)
    dtype = node.output.dtype
    channels = node.inputs[0].shape[1]
    position = 1
    affine = []
    for present, fill in ((params["has_weight"], 1.0), (params["has_bias"], 0.0)):
        if present:
            affine.append(graph.cast(operand(position), dtype, node.layer))
            position += 1
        else:
            affine.append(Value(graph.constant(np.full(channels, fill, dtype=dtype)), dtype, (channels,)))
    stats = [graph.cast(graph.leaf(params[name]), dtype, node.layer)
             for name in ("running_mean", "running_var")]
    inputs = [x] + affine + stats
    return _result(graph, node, "BatchNormalization", inputs, x.batch_axis,
                   epsilon=float(params["eps"]))
