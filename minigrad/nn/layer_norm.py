"""LayerNorm: normalization over each sample's last axes, composed from primitive ops."""

import numpy as np

from . import functional as F
from .module import Module, Parameter


class LayerNorm(Module):
    """Normalize over the last ``len(normalized_shape)`` axes, as PyTorch: no running
    statistics, the same in training and eval; ``weight`` starts at ones, ``bias`` at zeros.

    >>> import minigrad as mg
    >>> from minigrad import nn
    >>> nn.LayerNorm(4)(mg.randn(2, 3, 4)).shape
    (2, 3, 4)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=np.float32))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=np.float32))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
