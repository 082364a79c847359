"""The ONNX graph under construction: named values, nodes and initializers.

Each traced Tensor becomes a ``Value``: the ONNX name it has in the graph, and which of
its axes is the batch axis (None when it has none). The batch axis is followed through
every op so that, with a dynamic batch, reshape targets and the output's shape say
"whatever the batch is" instead of the example's size.
"""

import numpy as np


class Value:
    """A tensor of the ONNX graph: its name, dtype, shape at trace time, batch axis."""

    __slots__ = ("name", "dtype", "shape", "batch_axis")

    def __init__(self, name, dtype, shape, batch_axis=None):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self.batch_axis = batch_axis

    @property
    def ndim(self):
        return len(self.shape)


class GraphBuilder:
    """Collects nodes and initializers with unique names, through ``onnx.helper``."""

    def __init__(self, onnx, opset, dynamic_batch, batch_size):
        self.onnx = onnx
        self.opset = opset
        self.dynamic_batch = dynamic_batch
        self.batch_size = batch_size
        self.nodes = []
        self.initializers = []
        self._used = set()
        self._constants = {}

    def unique(self, name):
        candidate, k = name, 1
        while candidate in self._used:
            candidate = f"{name}_{k}"
            k += 1
        self._used.add(candidate)
        return candidate

    def initializer(self, array, name):
        """Add ``array`` as an initializer named ``name`` (exactly, if it is free)."""
        array = np.asarray(array)
        name = self.unique(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return Value(name, array.dtype, array.shape)

    def constant(self, array, dtype=None):
        """A small constant (a shape, axes, a scalar), shared between nodes that need it."""
        array = np.asarray(array, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            self._constants[key] = self.initializer(array, "constant")
        return self._constants[key].name

    def node(self, op_type, inputs, layer, dtype, shape, batch_axis, **attributes):
        """Add one ONNX node with one output; returns the output's Value."""
        prefix = f"/{layer.name}" if layer is not None and layer.name else ""
        name = self.unique(f"{prefix}/{op_type}")
        output = self.unique(f"{name}_output")
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [output], name=name, **attributes))
        return Value(output, dtype, shape, batch_axis)

    def cast(self, value, dtype, layer):
        """``value`` in ``dtype``, through a Cast node when it is not already."""
        dtype = np.dtype(dtype)
        if value.dtype == dtype:
            return value
        to = self.onnx.helper.np_dtype_to_tensor_dtype(dtype)
        return self.node("Cast", [value.name], layer, dtype, value.shape, value.batch_axis, to=to)

    def value_info(self, value, name=None):
        """A graph input or output description, the batch axis symbolic when dynamic."""
        shape = list(value.shape)
        if self.dynamic_batch and value.batch_axis is not None:
            shape[value.batch_axis] = "batch"
        elem_type = self.onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
        return self.onnx.helper.make_tensor_value_info(name or value.name, elem_type, shape)
