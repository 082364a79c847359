"""Data for training: TensorDataset, DataLoader, train_test_split and the dataset loaders.

>>> import numpy as np
>>> import minigrad as mg
>>> x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
>>> loader = mg.data.DataLoader(mg.data.TensorDataset(x, y), batch_size=2)
>>> len(loader), [batch_y.tolist() for _, batch_y in loader]
(3, [[0, 1], [2, 3], [4]])
"""

import numbers

import numpy as np

from . import rng
from .datasets.digits import load_digits
from .datasets.idx import load_idx, load_mnist
from .tensor import Tensor, from_numpy

__all__ = ["DataLoader", "TensorDataset", "load_digits", "load_idx", "load_mnist", "train_test_split"]


class TensorDataset:
    """Arrays that share their first axis; item ``i`` is the tuple of each array's row ``i``.

    Tensors are taken as their NumPy arrays. An index may also be a slice or an integer
    array, which gives a tuple of batches.

    >>> import numpy as np
    >>> from minigrad.data import TensorDataset
    >>> dataset = TensorDataset(np.zeros((3, 2)), np.array([7, 8, 9]))
    >>> len(dataset), int(dataset[1][1])
    (3, 8)
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        arrays = tuple(a.data if isinstance(a, Tensor) else np.asarray(a) for a in arrays)
        for position, array in enumerate(arrays):
            if array.ndim == 0:
                raise ValueError(f"TensorDataset: array {position} is a scalar; every array needs a first axis")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"TensorDataset: the arrays' first axes differ: shapes {shapes}")
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(array[index] for array in self.arrays)

    def __repr__(self):
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return f"TensorDataset({shapes})"


class DataLoader:
    """Batches of a dataset as tuples of Tensors, one pass over the data per iteration.

    Parameters
    ----------
    dataset : TensorDataset, tuple of arrays, or any object with ``__len__`` and
        ``__getitem__`` returning a tuple of arrays (items are then stacked per batch).
    batch_size : int
        Items per batch; the last batch may be smaller unless ``drop_last``.
    shuffle : bool
        A new random order each pass.
    drop_last : bool
        Leave out the last batch when it is smaller than ``batch_size``.
    seed : int, optional
        Seeds the loader's own generator, so two loaders with one seed give the same
        batches epoch after epoch; without it the order comes from minigrad's generator
        (``mg.manual_seed``).

    ``len(loader)`` is the number of batches per pass.

    >>> import numpy as np
    >>> from minigrad.data import DataLoader
    >>> loader = DataLoader((np.arange(6),), batch_size=4, shuffle=True, seed=0)
    >>> sorted(v for (batch,) in loader for v in batch.tolist())
    [0, 1, 2, 3, 4, 5]
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None):
        if isinstance(dataset, (tuple, list)):
            dataset = TensorDataset(*dataset)
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: the dataset must have __len__ and __getitem__ (or be a tuple of arrays), "
                f"got {type(dataset).__name__}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"DataLoader: batch_size must be an int, got {type(batch_size).__name__}")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        if len(dataset) == 0:
            raise ValueError("DataLoader: the dataset is empty (0 items)")
        if drop_last and len(dataset) < batch_size:
            raise ValueError(
                f"DataLoader: with drop_last, a dataset of {len(dataset)} items gives no batch of {batch_size}"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self._generator = None if seed is None else np.random.default_rng(seed)

    def __len__(self):
        count, rest = divmod(len(self.dataset), self.batch_size)
        return count + (1 if rest and not self.drop_last else 0)

    def __iter__(self):
        size = len(self.dataset)
        if self.shuffle:
            generator = self._generator if self._generator is not None else rng.generator()
            order = generator.permutation(size)
        else:
            order = np.arange(size)
        for batch in range(len(self)):
            indices = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            # each part is a fresh array (gathered by an index array, or stacked): the
            # batch's Tensors take it as it is, rather than copy it again
            yield tuple(from_numpy(part) for part in self._fetch(indices))

    def _fetch(self, indices):
        if isinstance(self.dataset, TensorDataset):
            return self.dataset[indices]  # one fancy index per array
        items = [self.dataset[int(i)] for i in indices]
        if not isinstance(items[0], tuple):
            items = [(item,) for item in items]
        return tuple(np.stack([np.asarray(item[k]) for item in items]) for k in range(len(items[0])))


def train_test_split(arrays, test_fraction=0.2, seed=0):
    """Split arrays that share their first axis into train and test parts, stratified on
    the last array (each class keeps its share in both parts), the same for one seed.

    Returns ``(train_arrays, test_arrays)``, two tuples in the order given.

    >>> import numpy as np
    >>> from minigrad.data import train_test_split
    >>> x, y = np.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
    >>> (x_train, y_train), (x_test, y_test) = train_test_split((x, y), test_fraction=0.2)
    >>> len(x_train), sorted(y_test.tolist())
    (8, [0, 1])
    """
    if isinstance(arrays, (np.ndarray, Tensor)):
        raise TypeError("train_test_split: pass a tuple of arrays, e.g. train_test_split((x, y))")
    arrays = TensorDataset(*arrays).arrays
    if not 0 < test_fraction < 1:
        raise ValueError(f"train_test_split: test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    labels = arrays[-1]
    if labels.ndim != 1:
        raise ValueError(
            f"train_test_split: the last array holds the classes and must be 1-D, got shape {labels.shape}"
        )
    size = len(labels)
    classes, members = np.unique(labels, return_inverse=True)
    counts = np.bincount(members, minlength=len(classes))
    # each class's share of the test set, rounded so the total is round(size * test_fraction)
    wanted = counts * test_fraction
    share = np.floor(wanted).astype(np.int64)
    missing = int(round(size * test_fraction)) - int(share.sum())
    if missing > 0:
        share[np.argsort(-(wanted - share), kind="stable")[:missing]] += 1
    generator = np.random.default_rng(seed)
    test = np.zeros(size, dtype=bool)
    for k in range(len(classes)):
        where = np.flatnonzero(members == k)
        test[generator.choice(where, size=share[k], replace=False)] = True
    train_index = generator.permutation(np.flatnonzero(~test))
    test_index = generator.permutation(np.flatnonzero(test))
    return tuple(a[train_index] for a in arrays), tuple(a[test_index] for a in arrays)
