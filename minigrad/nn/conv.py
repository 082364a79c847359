"""Convolution and pooling layers: Conv2d, MaxPool2d, AvgPool2d (NCHW)."""

import numpy as np

from . import functional as F
from .checks import pair as _pair
from .functional import avg_pool2d
from .init import _check_sizes, reset_linear_like
from .module import Module, Parameter


class Conv2d(Module):
    """2-D convolution with weight (out_channels, in_channels/groups, kH, kW), PyTorch's init.

    >>> import minigrad as mg
    >>> from minigrad import nn
    >>> layer = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    >>> layer.weight.shape, layer(mg.zeros(2, 3, 5, 5)).shape
    ((8, 3, 3, 3), (2, 8, 5, 5))
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        super().__init__()
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: groups={groups} must divide in_channels={in_channels} "
                f"and out_channels={out_channels}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d")
        _check_sizes("Conv2d", in_channels=in_channels, out_channels=out_channels,
                    kernel_size=self.kernel_size)
        self.stride = _pair(stride, "stride", "Conv2d")
        self.padding = _layer_padding(padding, "Conv2d")
        if self.padding == "same" and _pair(stride, "stride", "Conv2d") != (1, 1):
            raise ValueError(f"Conv2d: padding='same' is not supported for strided convolutions (stride {stride})")
        self.dilation = _pair(dilation, "dilation", "Conv2d")
        self.groups = groups
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=np.float32))
        else:
            self.register_parameter("bias", None)
        reset_linear_like(self.weight, self.bias)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


def _layer_padding(padding, layer_name):
    """A layer's padding as stored: "same"/"valid", a 4-tuple, or a pair (from an int too)."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{layer_name}: padding must be an int, a pair, a 4-tuple, 'valid' or 'same', got {padding!r}")
        return padding
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(int(p) for p in padding)
    return _pair(padding, "padding", layer_name)


class _Pool2d(Module):
    """What both pools hold: a window size, a stride (the window size by default), padding."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling over windows of ``kernel_size`` (stride defaults to ``kernel_size``).

    >>> import minigrad as mg
    >>> from minigrad import nn
    >>> nn.MaxPool2d(2)(mg.zeros(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Average pooling over windows of ``kernel_size``, zero padding counted in the mean.

    >>> import minigrad as mg
    >>> from minigrad import nn
    >>> nn.AvgPool2d(2)(mg.ones(1, 1, 4, 4)).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)
