"""Learning-rate schedules (``optim.lr_scheduler``): StepLR and CosineAnnealingLR, with
PyTorch's numbers.

A scheduler sets each parameter group's ``lr`` when it is made (epoch 0) and again at
every ``step()``, normally once per epoch after the optimizer's steps. The formulas are
PyTorch's "chainable" ones, which update the current ``lr`` rather than recompute it
from the base, so the numbers agree with PyTorch's step for step.
"""

import math


class LRScheduler:
    """Base class: ``get_lr()`` gives the new lr of each group for ``last_epoch``.

    ``last_epoch=-1`` starts afresh (each group's ``initial_lr`` is its current lr);
    another value resumes, and then every group must already hold ``initial_lr``.
    """

    def __init__(self, optimizer, last_epoch=-1):
        name = type(self).__name__
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{name}: {type(optimizer).__name__} is not an optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [i for i, group in enumerate(optimizer.param_groups) if "initial_lr" not in group]
            if missing:
                raise KeyError(
                    f"{name}: param groups {missing} have no 'initial_lr', needed to resume at "
                    f"last_epoch={last_epoch}; start with last_epoch=-1"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()

    def get_lr(self):
        raise NotImplementedError

    def get_last_lr(self):
        """The lr of each group that the last ``step()`` set."""
        return list(self._last_lr)

    def step(self):
        """Advance one epoch and set each group's lr."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """Everything but the optimizer, as PyTorch."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs: ``base * gamma ** (epoch // step_size)``.

    >>> import minigrad as mg
    >>> from minigrad import optim
    >>> opt = optim.SGD([mg.zeros(1, requires_grad=True)], lr=1.0)
    >>> schedule = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(schedule.get_last_lr()[0])
    ...     schedule.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not isinstance(step_size, int) or isinstance(step_size, bool) or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class CosineAnnealingLR(LRScheduler):
    """The lr follows half a cosine from its base down to ``eta_min`` over ``T_max`` epochs
    (and back up over the next ``T_max``, as PyTorch's):
    ``eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    >>> import minigrad as mg
    >>> from minigrad import optim
    >>> opt = optim.SGD([mg.zeros(1, requires_grad=True)], lr=1.0)
    >>> schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    >>> schedule.step()
    >>> [round(lr, 6) for lr in schedule.get_last_lr()]
    [0.5]
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):  # noqa: N803 (PyTorch's name)
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        epoch, period, low = self.last_epoch, self.T_max, self.eta_min
        if epoch == 0:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and epoch > 0:  # resuming: the closed form
            return [low + (base - low) * (1 + math.cos(epoch * math.pi / period)) / 2 for base in self.base_lrs]
        if (epoch - 1 - period) % (2 * period) == 0:  # the bottom of the cosine, on the way back up
            return [group["lr"] + (base - low) * (1 - math.cos(math.pi / period)) / 2
                    for base, group in zip(self.base_lrs, groups)]
        ratio = (1 + math.cos(math.pi * epoch / period)) / (1 + math.cos(math.pi * (epoch - 1) / period))
        return [ratio * (group["lr"] - low) + low for group in groups]
