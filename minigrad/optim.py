"""Optimizers: SGD, Adam, AdamW and RMSprop, with PyTorch's update rules.

Updates work on the parameters' NumPy arrays in place, so no graph is recorded and
every Module or optimizer holding a parameter sees the new values. Each update is a
few in-place NumPy passes (``out=`` into scratch arrays the optimizer keeps), with no
temporaries the size of a parameter; SGD with plain momentum and Adam hand theirs to
one-pass kernels on the fast backend (minigrad/backend/optim.py), which give the same
bits.

``step()`` and ``load_state_dict()`` check everything they will use before they change
anything: a bad gradient or a bad state dict raises and leaves every parameter and all
the state as they were.
"""

import copy
import math
import sys
from collections.abc import Mapping

import numpy as np

from .backend import optim as fast
from .tensor import Tensor


class Optimizer:
    """Holds parameter groups (lists of parameters with their hyperparameters) and state.

    ``params`` is an iterable of Tensors, or of dicts ``{"params": [...], "lr": ...}``
    whose entries override the defaults for that group, as in PyTorch.

    A subclass defines ``_update(value, grad, state, group)`` (in place, on arrays
    already checked), names its per-parameter state in ``_state_arrays`` (arrays of
    the parameter's shape) and ``_state_counts`` (integers), and checks its
    hyperparameters in ``_check_hyperparameters(group)``.
    """

    _state_arrays = ()
    _state_counts = ()

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, (Tensor, Mapping, str)):
            raise TypeError(
                f"{name}: params argument given to the optimizer should be an iterable of "
                f"Tensors or dicts, but got {type(params).__name__}"
                + (" (wrap a single tensor in a list)" if isinstance(params, Tensor) else "")
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE.format(name=name))
        self.defaults = defaults
        params = list(params)
        if not params:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(params[0], Mapping):
            params = [{"params": params}]
        self.param_groups = []
        seen = {}
        for g, group in enumerate(params):
            if not isinstance(group, Mapping):
                raise TypeError(f"{name}: param_group must be a dict, but group {g} is {type(group).__name__}")
            group = dict(group)
            if "params" not in group:
                raise ValueError(f"{name}: param group {g} has no 'params' entry")
            members = group["params"]
            if isinstance(members, Tensor):
                members = [members]
            elif isinstance(members, (set, frozenset)):
                raise TypeError(_SET_MESSAGE.format(name=name))
            group["params"] = list(members)
            for i, parameter in enumerate(group["params"]):
                where = f"parameter {i} of group {g}"
                if not isinstance(parameter, Tensor):
                    raise TypeError(
                        f"{name}: optimizer can only optimize Tensors, but {where} is {type(parameter).__name__}"
                    )
                if parameter._ctx is not None:
                    raise ValueError(
                        f"{name}: can't optimize a non-leaf Tensor ({where}, shape {parameter.shape}, "
                        f"made by {parameter._ctx.function.__name__}); pass the leaf it was computed from"
                    )
                if id(parameter) in seen:
                    first_group, first = seen[id(parameter)]
                    if first_group != g:
                        raise ValueError(
                            f"{name}: some parameters appear in more than one parameter group "
                            f"({where} is parameter {first} of group {first_group})"
                        )
                    raise ValueError(
                        f"{name}: the parameter group contains duplicate parameters ({where}, shape "
                        f"{parameter.shape}, is the same tensor as parameter {first}); each would be "
                        "updated twice per step: give every parameter once"
                    )
                seen[id(parameter)] = (g, i)
            for key, value in defaults.items():
                group.setdefault(key, value)
            self._check_hyperparameters(group)
            self.param_groups.append(group)
        self.state = {}  # id(parameter) -> dict of NumPy arrays and counts
        self._scratch = {}  # dtype -> flat arrays reused by every update

    @classmethod
    def _check_hyperparameters(cls, group):
        """Raise ValueError for a group whose hyperparameters make no sense."""

    def zero_grad(self):
        """Set every parameter's gradient to None."""
        for group in self.param_groups:
            for parameter in group["params"]:
                parameter.grad = None

    def _checked_updates(self):
        """Every (parameter, grad array, group) that step() will update, each checked:
        raises before anything changes if one gradient does not fit its parameter."""
        name = f"{type(self).__name__}.step"
        updates = []
        for g, group in enumerate(self.param_groups):
            for i, parameter in enumerate(group["params"]):
                grad = parameter.grad
                if grad is None:
                    continue
                value = parameter.data
                grad = grad.data if isinstance(grad, Tensor) else grad
                if not isinstance(grad, np.ndarray):
                    raise TypeError(
                        f"{name}: the grad of parameter {i} of group {g} is a {type(grad).__name__}, "
                        "not a Tensor"
                    )
                if grad.shape != value.shape or grad.dtype != value.dtype or value.dtype.kind != "f":
                    raise ValueError(
                        f"{name}: parameter {i} of group {g} has shape {value.shape} and dtype "
                        f"{value.dtype}, but its grad has shape {grad.shape} and dtype {grad.dtype}; "
                        "nothing was updated"
                    )
                if not value.flags.writeable:
                    raise ValueError(
                        f"{name}: parameter {i} of group {g} (shape {value.shape}) is read-only; "
                        "nothing was updated"
                    )
                state = self.state.get(id(parameter))
                if state:
                    for key in self._state_arrays:
                        array = state.get(key)
                        if array is not None and array.shape != value.shape:
                            raise ValueError(
                                f"{name}: the state {key!r} of parameter {i} of group {g} has shape "
                                f"{array.shape}, the parameter {value.shape}; nothing was updated"
                            )
                updates.append((parameter, grad, group))
        return updates

    def step(self):
        """One update of every parameter that has a gradient."""
        updates = self._checked_updates()
        for parameter, grad, group in updates:
            value = parameter.data
            state = self.state.setdefault(id(parameter), {})
            if state:
                for key in self._state_arrays:  # the parameter's dtype may have changed (Module.to)
                    array = state.get(key)
                    if array is not None and array.dtype != value.dtype:
                        state[key] = array.astype(value.dtype)
            self._update(value, grad, state, group)
            parameter._version += 1  # changed in place: a graph that saved it is stale

    def _update(self, value, grad, state, group):
        raise NotImplementedError

    def _scratch_like(self, value, count=1):
        """``count`` scratch arrays of ``value``'s shape and dtype, views of flat arrays
        kept between steps (the largest parameter's size): no allocation per update."""
        arrays = self._scratch.get(value.dtype)
        if arrays is None or len(arrays) < count or arrays[0].size < value.size:
            size = max(value.size, arrays[0].size if arrays else 0)
            arrays = [np.empty(size, dtype=value.dtype) for _ in range(max(count, len(arrays or ())))]
            self._scratch[value.dtype] = arrays
        return [array[:value.size].reshape(value.shape) for array in arrays[:count]]

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
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{name}: expected a dict with 'state' and 'param_groups' (from state_dict()), "
                f"got {type(state_dict).__name__}"
            )
        missing = [key for key in ("state", "param_groups") if key not in state_dict]
        if missing:
            raise KeyError(f"{name}: the state dict has no {' or '.join(map(repr, missing))} entry")
        groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, Mapping) for g in groups):
            raise TypeError(f"{name}: 'param_groups' must be a list of dicts, got {type(groups).__name__}")
        if not isinstance(saved_state, Mapping):
            raise TypeError(f"{name}: 'state' must be a dict, got {type(saved_state).__name__}")
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: loaded state dict has {len(groups)} parameter groups, this optimizer "
                f"{len(self.param_groups)}"
            )
        sizes = [len(g["params"]) for g in self.param_groups]
        try:
            saved_sizes = [len(g["params"]) for g in groups]
        except (KeyError, TypeError):
            raise ValueError(f"{name}: every parameter group needs a 'params' list") from None
        if saved_sizes != sizes:
            raise ValueError(f"{name}: group sizes {saved_sizes} do not match this optimizer's {sizes}")
        # saved parameter indices -> this optimizer's parameters, by position (as PyTorch)
        by_index = {}
        for saved, group in zip(groups, self.param_groups):
            for index, parameter in zip(saved["params"], group["params"]):
                by_index[_as_index(index, name)] = parameter
        new_groups = []
        for group, saved in zip(self.param_groups, groups):
            new_group = dict(group)
            new_group.update({k: _plain(v) for k, v in saved.items() if k != "params"})
            self._check_hyperparameters(new_group)
            new_groups.append(new_group)
        state = {}
        for index, value in saved_state.items():
            parameter = by_index.get(_as_index(index, name))
            if parameter is None:
                raise ValueError(f"{name}: state for parameter {index}, which no parameter group lists")
            state[id(parameter)] = self._checked_state(value, parameter, f"{name}: parameter {index}")
        for group, new_group in zip(self.param_groups, new_groups):
            group.update(new_group)
        self.state = state

    def _checked_state(self, value, parameter, where):
        """A copy of one parameter's saved state, arrays in the parameter's dtype; raises
        for anything that a step could not use."""
        if not isinstance(value, Mapping):
            raise TypeError(f"{where}: the state must be a dict, got {type(value).__name__}")
        known = self._state_arrays + self._state_counts
        unknown = [key for key in value if key not in known]
        if unknown:
            raise ValueError(f"{where}: unknown state entries {unknown} ({type(self).__name__} keeps {list(known)})")
        checked = {}
        for key, item in value.items():
            if isinstance(item, Tensor):
                item = item.data
            if key in self._state_counts:
                count = np.asarray(item)
                if count.shape != () or count.dtype.kind not in "iuf" or count != int(count) or count < 0:
                    raise ValueError(f"{where}: {key!r} must be a count (an integer >= 0), got {item!r}")
                checked[key] = int(count)
                continue
            array = np.asarray(item)
            if array.dtype.kind not in "iuf":
                raise TypeError(f"{where}: {key!r} must hold numbers, got dtype {array.dtype}")
            if array.shape != parameter.shape:
                raise ValueError(f"{where}: {key} has shape {array.shape}, the parameter {parameter.shape}")
            checked[key] = array.astype(parameter.dtype, copy=True)
        return checked


_SET_MESSAGE = ("{name}: optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a list instead.")


def _plain(value):
    """A saved hyperparameter as Python values: a file may give back NumPy scalars,
    0-d arrays, or an array for a tuple such as Adam's betas."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.item() if value.ndim == 0 else tuple(value.tolist())
    return value


def _as_index(index, name):
    try:
        return int(index)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: parameter indices must be integers, got {index!r}") from None


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

    _state_arrays = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    @classmethod
    def _check_hyperparameters(cls, group):
        lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
        _check_numbers("SGD", lr=lr, momentum=momentum, dampening=group["dampening"], weight_decay=decay)
        if lr < 0 or momentum < 0 or decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {decay}")
        if group["nesterov"] and (momentum <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")

    def _update(self, value, grad, state, group):
        lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
        nesterov, dampening = group["nesterov"], group["dampening"]
        if decay:  # g + decay * value, into the second scratch array
            decayed = self._scratch_like(value, 2)[1]
            np.multiply(value, decay, out=decayed)
            decayed += grad
            grad = decayed
        buffer = state.get("momentum_buffer")
        if (momentum and buffer is not None and not (dampening or nesterov)
                and fast.takes((value, grad, buffer), (momentum, lr))):
            fast.sgd_momentum(value, grad, buffer, momentum, lr)
            return
        scratch = self._scratch_like(value)[0]  # only the NumPy update takes one
        if momentum:
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.copy()
            else:
                buffer *= momentum
                if dampening:
                    np.multiply(grad, 1 - dampening, out=scratch)
                    buffer += scratch
                else:
                    buffer += grad
            if nesterov:
                np.multiply(buffer, momentum, out=scratch)
                scratch += grad
            else:
                np.multiply(buffer, lr, out=scratch)
                value -= scratch
                return
        else:
            np.copyto(scratch, grad)
        scratch *= lr
        value -= scratch


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
    _state_arrays = ("exp_avg", "exp_avg_sq")
    _state_counts = ("step",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @classmethod
    def _check_hyperparameters(cls, group):
        name = cls.__name__
        lr, betas, eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"{name}: betas must be a pair of numbers, got {betas!r}") from None
        _check_numbers(name, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=decay)
        if lr < 0 or eps < 0 or decay < 0 or not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"{name}: invalid lr={lr}, betas={betas}, eps={eps} or weight_decay={decay}")
        group["betas"] = (beta1, beta2)

    def _checked_state(self, value, parameter, where):
        checked = super()._checked_state(value, parameter, where)
        missing = [key for key in ("step",) + self._state_arrays if key not in checked]
        if checked and missing:
            raise ValueError(f"{where}: the state lacks {missing}")
        return checked

    def _update(self, value, grad, state, group):
        lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if decay:
            if self.decoupled:
                value *= 1 - lr * decay
            else:
                decayed = self._scratch_like(value, 2)[1]
                np.multiply(value, decay, out=decayed)
                decayed += grad
                grad = decayed
        # the state is written once the update is made
        if state:
            step, exp_avg, exp_avg_sq = state["step"] + 1, state["exp_avg"], state["exp_avg_sq"]
        else:
            step, exp_avg, exp_avg_sq = 1, np.zeros_like(value), np.zeros_like(value)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        numbers = (1 - beta1, beta2, 1 - beta2, eps * bias_correction2_sqrt,
                   lr * bias_correction2_sqrt / bias_correction1)
        if fast.takes((value, grad, exp_avg, exp_avg_sq), numbers):
            fast.adam(value, grad, exp_avg, exp_avg_sq, *numbers)
        else:
            self._numpy_adam(value, grad, exp_avg, exp_avg_sq, self._scratch_like(value)[0], *numbers)
        state.update(step=step, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)

    @staticmethod
    def _numpy_adam(value, grad, exp_avg, exp_avg_sq, scratch, one_minus_beta1, beta2, one_minus_beta2,
                    eps_term, step_size):
        # exp_avg += (1 - beta1) * (grad - exp_avg): PyTorch's lerp
        np.subtract(grad, exp_avg, out=scratch)
        scratch *= one_minus_beta1
        exp_avg += scratch
        exp_avg_sq *= beta2
        np.multiply(grad, grad, out=scratch)
        scratch *= one_minus_beta2
        exp_avg_sq += scratch
        # value -= lr / bc1 * exp_avg / (sqrt(exp_avg_sq) / sqrt(bc2) + eps), with sqrt(bc2)
        # moved to the numerator: one pass fewer (eps_term = eps * sqrt(bc2), step_size =
        # lr * sqrt(bc2) / bc1). Python floats keep float32 float32.
        np.sqrt(exp_avg_sq, out=scratch)
        scratch += eps_term
        np.divide(exp_avg, scratch, out=scratch)
        scratch *= step_size
        value -= scratch


class AdamW(Adam):
    """Adam with decoupled weight decay: the parameter shrinks by lr * weight_decay each step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(Optimizer):
    """RMSprop, as PyTorch: each step divides the gradient by the root of a running mean of
    its square (``alpha`` its decay), optionally centered (minus the squared running mean
    of the gradient), with optional momentum and L2 weight decay.

    >>> import minigrad as mg
    >>> from minigrad import optim
    >>> w = mg.tensor([1.0], requires_grad=True)
    >>> (w * 3).sum().backward()
    >>> optim.RMSprop([w], lr=0.01).step()   # 1 - 0.01 * 3 / (sqrt(0.01 * 9) + 1e-8)
    >>> round(w.item(), 4)
    0.9
    """

    _state_arrays = ("square_avg", "momentum_buffer", "grad_avg")
    _state_counts = ("step",)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    @classmethod
    def _check_hyperparameters(cls, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        decay, momentum = group["weight_decay"], group["momentum"]
        _check_numbers("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=decay, momentum=momentum)
        if lr < 0 or alpha < 0 or eps < 0 or decay < 0 or momentum < 0:
            raise ValueError(
                f"RMSprop: lr, alpha, eps, weight_decay and momentum must be >= 0, got lr={lr}, "
                f"alpha={alpha}, eps={eps}, weight_decay={decay}, momentum={momentum}"
            )
        if not isinstance(group["centered"], (bool, np.bool_)):
            raise TypeError(f"RMSprop: centered must be True or False, got {group['centered']!r}")

    def _checked_state(self, value, parameter, where):
        checked = super()._checked_state(value, parameter, where)
        if checked and ("step" not in checked or "square_avg" not in checked):
            raise ValueError(f"{where}: the state lacks {[k for k in ('step', 'square_avg') if k not in checked]}")
        return checked

    def _update(self, value, grad, state, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        scratch, decayed = self._scratch_like(value, 2)
        if decay:
            np.multiply(value, decay, out=decayed)
            decayed += grad
            grad = decayed
        if "square_avg" not in state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(value)
        if momentum and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(value)
        if centered and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(value)
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - alpha
        square_avg += scratch
        if centered:  # grad_avg += (1 - alpha) * (grad - grad_avg): PyTorch's lerp
            grad_avg = state["grad_avg"]
            np.subtract(grad, grad_avg, out=scratch)
            scratch *= 1 - alpha
            grad_avg += scratch
            np.multiply(grad_avg, grad_avg, out=scratch)
            np.subtract(square_avg, scratch, out=scratch)
            np.sqrt(scratch, out=scratch)
        else:
            np.sqrt(square_avg, out=scratch)
        scratch += eps
        np.divide(grad, scratch, out=scratch)  # grad / (sqrt(avg) + eps)
        if momentum:
            buffer = state["momentum_buffer"]
            buffer *= momentum
            buffer += scratch
            np.multiply(buffer, lr, out=scratch)
        else:
            scratch *= lr
        value -= scratch


def _check_numbers(name, **values):
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name}: {key} must be a number, got {value!r}")


# optim.lr_scheduler.StepLR and ``from minigrad.optim.lr_scheduler import StepLR``, as PyTorch
# (the schedulers live in minigrad/lr_scheduler.py; this module is not a package)
from . import lr_scheduler  # noqa: E402

sys.modules[__name__ + ".lr_scheduler"] = lr_scheduler
