"""minigrad.nn: modules, layers and their functional forms."""

from . import functional, init
from .layers import Dropout, Flatten, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import Module, Parameter
from .summary import summary
from .normalization import BatchNorm1d, BatchNorm2d
from .conv import AvgPool2d, Conv2d, MaxPool2d

__all__ = [
    "Dropout", "Flatten", "Linear", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid",
    "Tanh", "functional", "init",
]
__all__ += ["BatchNorm1d", "BatchNorm2d"]
__all__ += ["AvgPool2d", "Conv2d", "MaxPool2d"]
__all__ += ["summary"]
