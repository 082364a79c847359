"""minigrad.nn: modules, layers and their functional forms."""

from . import functional, init, utils
from .layers import (
    GELU, Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ModuleList, ReLU, Sequential,
    Sigmoid, Softmax, Tanh,
)
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .layer_norm import LayerNorm
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d
from .summary import summary
from .torch_bridge import from_torch, to_torch

__all__ = [
    "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CrossEntropyLoss", "Dropout", "Flatten",
    "GELU", "Identity", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool2d",
    "Module", "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax",
    "Tanh", "from_torch", "functional", "init", "summary", "to_torch", "utils",
]
