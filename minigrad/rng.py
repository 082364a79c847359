"""The one random generator behind every draw in minigrad (init, randn, dropout, shuffling)."""

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Seed every random draw in minigrad.

    >>> import minigrad as mg
    >>> mg.manual_seed(0); a = mg.randn(3)
    >>> mg.manual_seed(0); b = mg.randn(3)
    >>> (a == b).tolist()
    [True, True, True]
    """
    global _generator
    _generator = np.random.default_rng(seed)


def generator():
    """The current ``numpy.random.Generator``."""
    return _generator
