"""``nn.to_torch`` and ``nn.from_torch``: the same model in the other framework.

Both walk a tree of known layers (Sequential containers of Linear, Conv2d, BatchNorm,
LayerNorm, activations, softmax, pools, Flatten, Dropout, Identity), build each layer's twin with the same settings,
then copy every parameter and buffer by its state_dict name (the names already agree
with PyTorch's), keeping its dtype, and the training mode of every layer.

A Module subclass with its own ``forward`` is code, not a configuration: it cannot be
translated layer by layer, and both functions refuse it, naming it. Its weights still
move by name: build the same model on the other side and load the state_dict.
PyTorch is imported only when one of these functions runs.
"""

from collections import OrderedDict

import numpy as np

from .conv import AvgPool2d, Conv2d, MaxPool2d
from .layer_norm import LayerNorm
from .layers import (
    GELU, Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ReLU, Sequential, Sigmoid,
    Softmax, Tanh,
)
from .normalization import BatchNorm1d, BatchNorm2d

_HINT = (
    "A Module with its own forward cannot be converted layer by layer: build the same "
    "model in the other framework and load the weights by name (the state_dict names match)."
)


def _import_torch(caller):
    try:
        import torch
    except ImportError:
        raise ImportError(f"nn.{caller} needs PyTorch: pip install torch") from None
    return torch


def _path(name):
    return f"layer '{name}'" if name else "the model"


def _is_sequential(module, base):
    """A Sequential, or a subclass of it that keeps Sequential's forward."""
    return isinstance(module, base) and type(module).forward is base.forward


# ---- minigrad -> PyTorch ------------------------------------------------------------------
def _torch_padding(module, name, pool=False):
    """A layer's padding as PyTorch's layer takes it: a pair, or "same"/"valid" for Conv2d;
    a 4-tuple (left, right, top, bottom) only when its sides agree."""
    padding = module.padding
    if isinstance(padding, str) and not pool:
        return padding
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        left, right, top, bottom = padding
        if left == right and top == bottom:
            return (top, left)
    elif not isinstance(padding, str):
        return padding
    raise NotImplementedError(
        f"nn.to_torch: {_path(name)} ({type(module).__name__}) pads {padding!r}, which "
        f"PyTorch's {type(module).__name__} layer does not take (pad with F.pad before it)"
    )


def _torch_layer(torch, module, name):
    tnn = torch.nn
    kind = type(module)
    if _is_sequential(module, Sequential):
        return tnn.Sequential(OrderedDict(
            (child_name, _torch_layer(torch, child, f"{name}.{child_name}" if name else child_name))
            for child_name, child in module.named_children()
        ))
    if kind is Linear:
        return tnn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    if kind is Conv2d:
        return tnn.Conv2d(
            module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
            padding=_torch_padding(module, name), dilation=module.dilation, groups=module.groups,
            bias=module.bias is not None,
        )
    if kind in (BatchNorm1d, BatchNorm2d):
        twin = tnn.BatchNorm1d if kind is BatchNorm1d else tnn.BatchNorm2d
        return twin(module.num_features, eps=module.eps, momentum=module.momentum,
                    affine=module.affine, track_running_stats=module.track_running_stats)
    if kind in (ReLU, Tanh, Sigmoid, Identity):
        return getattr(tnn, kind.__name__)()
    if kind is LeakyReLU:
        return tnn.LeakyReLU(module.negative_slope)
    if kind is GELU:
        return tnn.GELU(approximate=module.approximate)
    if kind in (Softmax, LogSoftmax):
        return getattr(tnn, kind.__name__)(dim=module.axis)
    if kind is LayerNorm:
        return tnn.LayerNorm(module.normalized_shape, eps=module.eps,
                             elementwise_affine=module.elementwise_affine,
                             bias=module.bias is not None or not module.elementwise_affine)
    if kind is Flatten:
        return tnn.Flatten(module.start_axis, module.end_axis)
    if kind is MaxPool2d:
        return tnn.MaxPool2d(module.kernel_size, module.stride, _torch_padding(module, name, pool=True))
    if kind is AvgPool2d:
        return tnn.AvgPool2d(module.kernel_size, module.stride, _torch_padding(module, name, pool=True),
                             count_include_pad=True)
    if kind is Dropout:
        return tnn.Dropout(module.p)
    known = ", ".join(sorted(k.__name__ for k in _TO_TORCH_KNOWN))
    raise NotImplementedError(
        f"nn.to_torch: {_path(name)} is a {kind.__name__}, which has no PyTorch equivalent "
        f"here (layers that convert: {known}). {_HINT}"
    )


_TO_TORCH_KNOWN = (Sequential, Linear, Conv2d, BatchNorm1d, BatchNorm2d, LayerNorm, ReLU, Tanh,
                   Sigmoid, LeakyReLU, GELU, Softmax, LogSoftmax, Identity, Flatten, MaxPool2d,
                   AvgPool2d, Dropout)


def to_torch(model):
    """The equivalent ``torch.nn`` model, weights, buffers and training mode copied.

    Parameters
    ----------
    model : nn.Module
        A tree of Sequential containers (or subclasses that keep Sequential's forward)
        holding Linear, Conv2d, BatchNorm1d/2d, LayerNorm, ReLU, Tanh, Sigmoid,
        LeakyReLU, GELU, Softmax, LogSoftmax, Identity, Flatten, MaxPool2d, AvgPool2d
        and Dropout layers.

    Returns
    -------
    torch.nn.Module whose state_dict has the same names, values and dtypes.

    Raises
    ------
    NotImplementedError
        For a layer of another kind, naming it.

    Examples
    --------
    >>> from minigrad import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    >>> nn.to_torch(model)  # doctest: +SKIP
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): ReLU()
    )
    """
    torch = _import_torch("to_torch")
    twin = _torch_layer(torch, model, "")
    targets = dict(twin.named_parameters())
    targets.update(twin.named_buffers())
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            target = targets[name]
            if tuple(target.shape) != tensor.shape:
                raise AssertionError(f"nn.to_torch: {name} has shape {tensor.shape}, its twin {tuple(target.shape)}")
            target.data = torch.from_numpy(np.array(tensor.data, copy=True))
    twins = dict(twin.named_modules())
    for name, module in model.named_modules():
        twins[name].training = module.training
    return twin


# ---- PyTorch -> minigrad ------------------------------------------------------------------
def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _as_given(value):
    """An int stays an int, a sequence becomes a tuple (both are what minigrad takes)."""
    return tuple(value) if isinstance(value, (tuple, list)) else value


def _refuse(name, module, why):
    raise NotImplementedError(f"nn.from_torch: {_path(name)} ({type(module).__name__}) {why}")


def _conv_padding(module):
    padding = module.padding
    return padding if isinstance(padding, str) else _pair(padding)  # "same" agrees with minigrad's


def _minigrad_layer(torch, module, name):
    tnn = torch.nn
    kind = type(module)
    if _is_sequential(module, tnn.Sequential):
        children = [(child_name, _minigrad_layer(torch, child, f"{name}.{child_name}" if name else child_name))
                    for child_name, child in module.named_children()]
        layer = Sequential()
        for child_name, child in children:
            layer.add_module(child_name, child)
        return layer
    if kind is tnn.Linear:
        return Linear(module.in_features, module.out_features, bias=module.bias is not None)
    if kind is tnn.Conv2d:
        if module.padding_mode != "zeros":
            _refuse(name, module, f"pads with {module.padding_mode!r}: minigrad pads with zeros only")
        return Conv2d(module.in_channels, module.out_channels, tuple(module.kernel_size),
                      stride=tuple(module.stride), padding=_conv_padding(module),
                      dilation=tuple(module.dilation), groups=module.groups, bias=module.bias is not None)
    if kind in (tnn.BatchNorm1d, tnn.BatchNorm2d):
        twin = BatchNorm1d if kind is tnn.BatchNorm1d else BatchNorm2d
        return twin(module.num_features, eps=module.eps, momentum=module.momentum,
                    affine=module.affine, track_running_stats=module.track_running_stats)
    if kind in (tnn.ReLU, tnn.Tanh, tnn.Sigmoid, tnn.Identity):
        return {tnn.ReLU: ReLU, tnn.Tanh: Tanh, tnn.Sigmoid: Sigmoid, tnn.Identity: Identity}[kind]()
    if kind is tnn.LeakyReLU:
        return LeakyReLU(module.negative_slope)
    if kind is tnn.GELU:
        return GELU(approximate=module.approximate)
    if kind in (tnn.Softmax, tnn.LogSoftmax):
        if module.dim is None:
            _refuse(name, module, "has dim=None (PyTorch's legacy implicit axis): give dim")
        return (Softmax if kind is tnn.Softmax else LogSoftmax)(axis=module.dim)
    if kind is tnn.LayerNorm:
        return LayerNorm(tuple(module.normalized_shape), eps=module.eps,
                         elementwise_affine=module.elementwise_affine, bias=module.bias is not None)
    if kind is tnn.Flatten:
        return Flatten(module.start_dim, module.end_dim)
    if kind is tnn.MaxPool2d:
        if _pair(module.dilation) != (1, 1) or module.ceil_mode or module.return_indices:
            _refuse(name, module, "uses dilation, ceil_mode or return_indices, which minigrad's MaxPool2d has not")
        return MaxPool2d(_as_given(module.kernel_size), _as_given(module.stride), _as_given(module.padding))
    if kind is tnn.AvgPool2d:
        if module.ceil_mode or not module.count_include_pad or module.divisor_override is not None:
            _refuse(name, module, "uses ceil_mode, count_include_pad=False or divisor_override, "
                                  "which minigrad's AvgPool2d has not (it counts the padding)")
        return AvgPool2d(_as_given(module.kernel_size), _as_given(module.stride), _as_given(module.padding))
    if kind is tnn.Dropout:
        return Dropout(module.p)
    known = ", ".join(k.__name__ for k in _TO_TORCH_KNOWN)
    raise NotImplementedError(
        f"nn.from_torch: {_path(name)} is a torch {kind.__name__}, which has no minigrad "
        f"equivalent here (layers that convert: {known}). {_HINT}"
    )


def from_torch(torch_model):
    """The equivalent minigrad model of a ``torch.nn`` model, weights, buffers and mode copied.

    Parameters
    ----------
    torch_model : torch.nn.Module
        A tree of ``torch.nn.Sequential`` holding the layers ``to_torch`` knows, with
        settings minigrad has (zero padding, no ceil_mode, pools without dilation).

    Returns
    -------
    nn.Module with the same state_dict names, values and dtypes.

    Raises
    ------
    NotImplementedError
        For a layer or a setting minigrad does not have, naming the layer.
    """
    torch = _import_torch("from_torch")
    model = _minigrad_layer(torch, torch_model, "")
    sources = dict(torch_model.named_parameters())
    sources.update(torch_model.named_buffers())
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        source = sources[name].detach().cpu()
        if tuple(source.shape) != tensor.shape:
            raise AssertionError(f"nn.from_torch: {name} has shape {tuple(source.shape)}, its twin {tensor.shape}")
        tensor.data = source.numpy().copy()
    twins = dict(model.named_modules())
    for name, module in torch_model.named_modules():
        object.__setattr__(twins[name], "training", module.training)
    return model
