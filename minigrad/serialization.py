"""mg.save and mg.load: a state_dict to and from an ``.npz`` file."""

from collections import OrderedDict

import numpy as np


def save(obj, path):
    """Write a state_dict (name -> array) to ``path`` (NumPy's ``.npz`` format), exactly
    that name: NumPy would add ``.npz`` to a path without it, and ``load(path)`` then
    would not find it."""
    with open(path, "wb") as file:
        np.savez(file, **{name: np.asarray(value) for name, value in obj.items()})


def load(path):
    """Read a state_dict written by ``save``, in its original order."""
    with np.load(path) as archive:
        return OrderedDict((name, archive[name]) for name in archive.files)
