"""Module and Parameter: parameters, buffers and sub-modules registered by assignment."""

import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: ``requires_grad=True`` by default.

    >>> from minigrad import nn
    >>> nn.Parameter([1.0, 2.0]).requires_grad
    True
    """

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


# Every Module alive, weakly held (a model that goes away leaves it).
_live_modules = weakref.WeakSet()


def live_modules():
    """The Modules that exist now."""
    return list(_live_modules)


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _cast_exactly(value, dtype):
    """``value`` as an array of ``dtype``, or an error where the cast would change it:
    finite floats that overflow to inf, complex numbers, fractions or out-of-range
    integers into an integer dtype, non-numeric data."""
    source = np.asarray(value)
    kind = source.dtype.kind
    if kind == "c":
        raise TypeError("complex values cannot be loaded into a real tensor")
    if kind not in "biuf":
        raise TypeError(f"values of dtype {source.dtype} are not numbers")
    if dtype.kind in "iu" and kind in "iuf":
        if kind == "f" and not np.all(np.isfinite(source) & (source == np.round(source))):
            raise ValueError("values that are not whole numbers would be truncated")
        info = np.iinfo(dtype)
        if source.size and (source.min() < info.min or source.max() > info.max):
            raise OverflowError(f"values outside [{info.min}, {info.max}] would overflow")
    with np.errstate(over="ignore"):
        cast = source.astype(dtype)
    if dtype.kind == "f" and kind == "f" and np.any(np.isinf(cast) & np.isfinite(source)):
        raise OverflowError(f"finite values beyond the range of {dtype} would overflow to inf")
    return cast


class Module:
    """Base class of every layer and model.

    Assigning a Parameter, a Module, or a Tensor to a name registered with
    ``register_buffer`` records it; names follow PyTorch (``0.weight``, ``bn1.running_var``).

    >>> from minigrad import nn
    >>> model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias']
    """

    def __init__(self):
        _live_modules.add(self)  # gradcheck puts every live module's buffers back as they were
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -------------------------------------------------------------
    def _registries(self):
        try:
            return self.__dict__["_parameters"], self.__dict__["_buffers"], self.__dict__["_modules"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            ) from None

    def __setattr__(self, name, value):
        if isinstance(value, (Parameter, Module)) or name in self.__dict__.get("_parameters", ()) \
                or name in self.__dict__.get("_buffers", ()) or name in self.__dict__.get("_modules", ()):
            parameters, buffers, modules = self._registries()
            if isinstance(value, Parameter):
                self._forget(name)
                parameters[name] = value
            elif isinstance(value, Module):
                self._forget(name)
                modules[name] = value
            elif name in buffers and (value is None or isinstance(value, Tensor)):
                buffers[name] = value
            elif name in parameters and value is None:
                parameters[name] = None
            elif name in modules and value is None:
                modules[name] = None
            else:
                raise TypeError(
                    f"{type(self).__name__}.{name}: cannot assign a {type(value).__name__} "
                    "where a Parameter, buffer or Module is registered"
                )
            return
        object.__setattr__(self, name, value)

    def _forget(self, name):
        for registry in self._registries():
            registry.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries.
        for registry in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if any(name in registry for registry in self._registries()):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        """Record non-trained state (running statistics) that ``state_dict`` saves."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name} must be a Tensor or None, not {type(tensor).__name__}")
        self._forget(name)
        self._registries()[1][name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def register_parameter(self, name, parameter):
        if parameter is not None and not isinstance(parameter, Parameter):
            raise TypeError(f"register_parameter: {name} must be a Parameter or None")
        self._forget(name)
        self._registries()[0][name] = parameter

    def add_module(self, name, module):
        self._forget(name)
        self._registries()[2][name] = module

    # ---- traversal ----------------------------------------------------------------
    def named_children(self):
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix=""):
        """This module and every sub-module, depth first, with dotted names."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child_name}" if name else child_name, child)
                        for child_name, child in module.named_children()]
            stack.extend(reversed(children))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def _named_members(self, registry):
        seen = set()
        for module_name, module in self.named_modules():
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(self):
        return self._named_members("_parameters")

    def parameters(self):
        for _, parameter in self.named_parameters():
            yield parameter

    def named_buffers(self):
        return self._named_members("_buffers")

    def buffers(self):
        for _, buffer in self.named_buffers():
            yield buffer

    # ---- modes and gradients ------------------------------------------------------
    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        """Set every parameter's gradient to None."""
        for parameter in self.parameters():
            parameter.grad = None

    # ---- state ----------------------------------------------------------------------
    def _state_tensors(self):
        """name -> Tensor, in PyTorch's order: each module's parameters, then its buffers."""
        state = OrderedDict()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, value in module._parameters.items():
                if value is not None:
                    state[prefix + name] = value
            for name, value in module._buffers.items():
                if value is not None and name not in module._non_persistent:
                    state[prefix + name] = value
        return state

    def state_dict(self):
        """An ordered dict of name -> a NumPy copy of every parameter and persistent buffer."""
        return OrderedDict((name, tensor.data.copy()) for name, tensor in self._state_tensors().items())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into the existing tensors (cast to their dtype).

        With ``strict``, missing or unexpected names raise KeyError; wrong shapes always
        raise ValueError. Everything is checked before anything is copied.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = self._state_tensors()
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
            )
        values = {}
        wrong_shapes = []
        for name, tensor in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.data if isinstance(value, Tensor) else value
            try:
                value = _cast_exactly(value, tensor.dtype)  # cast now: fail before copying
            except (TypeError, ValueError, OverflowError) as error:
                wrong_shapes.append(f"{name}: cannot be read as {tensor.dtype} ({error})")
                continue
            if value.shape != tensor.shape:
                wrong_shapes.append(f"{name}: expected {tensor.shape}, got {value.shape}")
            values[name] = value
        if wrong_shapes:
            raise ValueError("load_state_dict: wrong entries: " + "; ".join(wrong_shapes))
        for name, value in values.items():
            own[name].data[...] = value
            own[name]._version += 1
        return IncompatibleKeys(missing, unexpected)

    def to(self, *args, dtype=None, device=None):
        """``to(dtype)``, ``to("cpu")`` or both, as PyTorch: cast floating parameters and
        buffers (and their grads) to ``dtype`` in place; the device ``"cpu"`` changes
        nothing (minigrad runs on the CPU), another device is a ValueError. Returns self."""
        for arg in args:
            if isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda", "mps", "meta", "xpu"):
                device = arg
            elif dtype is not None:
                raise TypeError(f"{type(self).__name__}.to: two dtypes given ({dtype!r} and {arg!r})")
            else:
                dtype = arg
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"{type(self).__name__}.to: minigrad runs on the CPU only; device {device!r} is not available")
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.data.dtype.kind == "f":
                tensor.data = tensor.data.astype(dtype)
                if tensor.grad is not None:
                    tensor.grad = Tensor._wrap(tensor.grad.data.astype(dtype))
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ---- calling ----------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self.named_children())
        if not children:
            return lines[0] + ")"
        for name, child in children:
            child_lines = repr(child).split("\n")
            lines.append(f"  ({name}): " + "\n  ".join(child_lines))
        return "\n".join(lines) + "\n)"
