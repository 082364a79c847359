"""minigrad.nn: modules, layers and their functional forms."""

from . import functional, init
from .layers import Dropout, Flatten, Linear, ReLU, Sequential, Sigmoid, Tanh
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d
from .summary import summary

__all__ = [
    "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Dropout", "Flatten", "Linear",
    "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh",
    "functional", "init", "summary",
]
