"""Optimizers: SGD, Adam and AdamW, with PyTorch's update rules.

Updates work on the parameters' NumPy arrays in place, so no graph is recorded and
every Module or optimizer holding a parameter sees the new values.
"""

import copy
import math

import numpy as np

from .tensor import Tensor


class Optimizer:
    """Holds parameter groups (lists of parameters with their hyperparameters) and state.

    ``params`` is an iterable of Tensors, or of dicts ``{"params": [...], "lr": ...}``
    whose entries override the defaults for that group, as in PyTorch.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        self.param_groups = []
        seen = set()
        for group in params:
            group = dict(group)
            group["params"] = list(group["params"])
            for parameter in group["params"]:
                if not isinstance(parameter, Tensor):
                    raise TypeError(f"{type(self).__name__}: expected Tensors, got {type(parameter).__name__}")
                if id(parameter) in seen:
                    raise ValueError(f"{type(self).__name__}: a parameter appears in more than one group")
                seen.add(id(parameter))
            for name, value in defaults.items():
                group.setdefault(name, value)
            self.param_groups.append(group)
        self.state = {}  # id(parameter) -> dict of NumPy arrays

    def zero_grad(self):
        """Set every parameter's gradient to None."""
        for group in self.param_groups:
            for parameter in group["params"]:
                parameter.grad = None

    def step(self):
        for group in self.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None:
                    state = self.state.setdefault(id(parameter), {})
                    self._update(parameter.data, parameter.grad.data, state, group)
                    parameter._version += 1  # changed in place: a graph that saved it is stale

    def _update(self, value, grad, state, group):
        raise NotImplementedError

    def _parameters(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """Hyperparameters per group and per-parameter state keyed by position, as PyTorch."""
        index = {id(p): i for i, p in enumerate(self._parameters())}
        groups = []
        for group in self.param_groups:
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = [index[id(p)] for p in group["params"]]
            groups.append(saved)
        state = {index[key]: copy.deepcopy(value) for key, value in self.state.items() if key in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Take hyperparameters and state from ``state_dict``; everything is checked first,
        so a bad one changes nothing."""
        name = f"{type(self).__name__}.load_state_dict"
        groups = state_dict["param_groups"]
        sizes = [len(g["params"]) for g in self.param_groups]
        if [len(g["params"]) for g in groups] != sizes:
            raise ValueError(
                f"{name}: group sizes {[len(g['params']) for g in groups]} do not match this optimizer's {sizes}"
            )
        parameters = self._parameters()
        state = {}
        for index, value in state_dict["state"].items():
            if not 0 <= int(index) < len(parameters):
                raise ValueError(f"{name}: state for parameter {index}, but there are {len(parameters)}")
            parameter = parameters[int(index)]
            for key, array in value.items():
                if isinstance(array, np.ndarray) and array.shape != parameter.shape:
                    raise ValueError(
                        f"{name}: {key} of parameter {index} has shape {array.shape}, "
                        f"the parameter {parameter.shape}"
                    )
            state[id(parameter)] = copy.deepcopy(value)
        for group, saved in zip(self.param_groups, groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = state


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, as PyTorch.

    With momentum mu: b = mu * b + (1 - dampening) * g (b = g at the first step), and the
    step is b, or g + mu * b with Nesterov.

    >>> import minigrad as mg
    >>> from minigrad import optim
    >>> w = mg.tensor([1.0], requires_grad=True)
    >>> (w * 3).sum().backward()
    >>> optim.SGD([w], lr=0.1).step()
    >>> round(w.item(), 4)
    0.7
    """

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, value, grad, state, group):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * value
        momentum = group["momentum"]
        if momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = np.array(grad, dtype=value.dtype, copy=True)
            else:
                buffer *= momentum
                buffer += (1 - group["dampening"]) * grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        value -= group["lr"] * grad


class Adam(Optimizer):
    """Adam with bias-corrected moments, as PyTorch; ``weight_decay`` adds an L2 term to the gradient.

    >>> import minigrad as mg
    >>> from minigrad import optim
    >>> w = mg.tensor([1.0], requires_grad=True)
    >>> (w * 3).sum().backward()
    >>> optim.Adam([w], lr=0.1).step()   # the first step moves by lr, whatever the gradient's size
    >>> round(w.item(), 4)
    0.9
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        if lr < 0 or eps < 0 or weight_decay < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(
                f"{type(self).__name__}: invalid lr={lr}, betas={betas}, eps={eps} or weight_decay={weight_decay}"
            )
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, value, grad, state, group):
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if weight_decay:
            if self.decoupled:
                value *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * value
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(value)
            state["exp_avg_sq"] = np.zeros_like(value)
        state["step"] += 1
        step, exp_avg, exp_avg_sq = state["step"], state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        denominator = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + eps  # Python floats keep float32
        value -= (lr / bias_correction1) * exp_avg / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay: the parameter shrinks by lr * weight_decay each step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
