"""minigrad.nn: modules, layers and their functional forms."""

from . import functional, init
from .layers import Dropout, Flatten, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import Module, Parameter

__all__ = [
    "Dropout", "Flatten", "Linear", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid",
    "Tanh", "functional", "init",
]
