"""minigrad.data: TensorDataset, DataLoader, train_test_split, the shipped digits, IDX files."""

import gzip

import numpy as np
import pytest

import minigrad as mg
from minigrad.data import (DataLoader, TensorDataset, load_digits, load_idx, load_mnist,
                           train_test_split)


def batches(loader):
    return [tuple(t.data for t in batch) for batch in loader]


# ---------------------------------------------------------------- TensorDataset
def test_tensor_dataset_items_and_mismatched_first_axes():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    dataset = TensorDataset(x, mg.tensor(y))
    assert len(dataset) == 6
    row, label = dataset[4]
    assert row.tolist() == [8.0, 9.0] and label == 4
    with pytest.raises(ValueError, match=r"first axes differ.*\(6, 2\).*\(5,\)"):
        TensorDataset(x, np.arange(5))
    with pytest.raises(ValueError, match="scalar"):
        TensorDataset(np.float32(1.0))


# ---------------------------------------------------------------- DataLoader
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("size, batch_size", [(10, 3), (9, 3), (1, 4), (7, 1)])
def test_every_item_exactly_once_per_epoch(size, batch_size, shuffle):
    x, y = np.arange(size * 2.0).reshape(size, 2), np.arange(size)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, seed=3)
    assert len(loader) == -(-size // batch_size)
    for _ in range(2):  # two epochs
        seen = batches(loader)
        assert len(seen) == len(loader)
        labels = np.concatenate([b[1] for b in seen])
        assert sorted(labels.tolist()) == list(range(size))
        for rows, label in seen:  # rows stay with their labels
            assert np.array_equal(rows, x[label])
        assert all(len(b[1]) == batch_size for b in seen[:-1])


def test_batches_are_tensors_keeping_dtypes():
    loader = DataLoader((np.zeros((4, 3), np.float32), np.arange(4)), batch_size=2)
    images, labels = next(iter(loader))
    assert isinstance(images, mg.Tensor) and isinstance(labels, mg.Tensor)
    assert images.dtype == np.float32 and labels.dtype == np.int64 and images.shape == (2, 3)


def test_drop_last():
    loader = DataLoader((np.arange(10),), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[0].tolist() for b in batches(loader)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    loader = DataLoader((np.arange(8),), batch_size=4, drop_last=True)
    assert len(loader) == 2 and len(batches(loader)) == 2
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader((np.arange(3),), batch_size=4, drop_last=True)


def test_seeded_shuffling_same_across_runs_different_across_seeds_and_epochs():
    data = (np.arange(50),)

    def orders(**kwargs):
        loader = DataLoader(data, batch_size=50, shuffle=True, **kwargs)
        return [b[0].tolist() for b in batches(loader)] + [b[0].tolist() for b in batches(loader)]

    first, again, other = orders(seed=1), orders(seed=1), orders(seed=2)
    assert first == again
    assert first != other
    assert first[0] != first[1]  # a new order each epoch
    assert first[0] != list(range(50))
    mg.manual_seed(5)
    global_first = orders()
    mg.manual_seed(5)
    assert orders() == global_first  # without seed, mg.manual_seed decides


def test_unshuffled_order_is_the_datasets():
    assert [b[0].tolist() for b in batches(DataLoader((np.arange(5),), batch_size=2))] == [[0, 1], [2, 3], [4]]


def test_any_indexable_dataset_is_stacked():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full(2, i * i, np.float64), i

    (rows, labels), *_ = batches(DataLoader(Squares(), batch_size=3))
    assert rows.shape == (3, 2) and rows[:, 0].tolist() == [0, 1, 4] and labels.tolist() == [0, 1, 2]


class _Rows:
    """An indexable dataset whose items are views of one array."""

    def __init__(self, array):
        self.array = array

    def __len__(self):
        return len(self.array)

    def __getitem__(self, i):
        return (self.array[i],)


@pytest.mark.parametrize("make", [lambda a: TensorDataset(a), _Rows], ids=["TensorDataset", "indexable"])
def test_a_batch_is_copied_once_and_owns_its_memory(make, monkeypatch):
    data = np.arange(12.0).reshape(6, 2)
    loader = DataLoader(make(data), batch_size=4, shuffle=True, seed=0)
    gathered = []
    fetch = loader._fetch
    monkeypatch.setattr(loader, "_fetch", lambda indices: gathered.append(fetch(indices)) or gathered[-1])
    for (batch,), (part,) in zip(loader, gathered):
        assert batch.data is part  # the gathered rows are the batch: no second copy
        assert not np.shares_memory(batch.data, data)  # changing the batch leaves the data alone
        batch.data[...] = -1.0
    assert len(gathered) == 2
    assert data.tolist() == np.arange(12.0).reshape(6, 2).tolist()


@pytest.mark.parametrize("batch_size", [0, -2])
def test_batch_size_zero_or_negative_is_a_clear_error(batch_size):
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        DataLoader((np.arange(4),), batch_size=batch_size)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="empty"):
        DataLoader((np.zeros((0, 3)),), batch_size=2)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader((np.arange(4),), batch_size=2.5)
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(42)
    with pytest.raises(ValueError, match="first axes differ"):
        DataLoader((np.arange(4), np.arange(5)))


# ---------------------------------------------------------------- train_test_split
def test_train_test_split_stratified_reproducible_and_disjoint():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    ids = np.arange(100)
    (train_ids, train_labels), (test_ids, test_labels) = train_test_split((ids, labels), test_fraction=0.2)
    assert len(test_ids) == 20 and len(train_ids) == 80
    assert np.array_equal(labels[test_ids], test_labels) and np.array_equal(labels[train_ids], train_labels)
    assert sorted(np.concatenate([train_ids, test_ids]).tolist()) == list(range(100))
    assert np.bincount(test_labels).tolist() == [10, 6, 4]  # each class's share
    again = train_test_split((ids, labels), test_fraction=0.2)
    assert np.array_equal(again[1][0], test_ids)
    other = train_test_split((ids, labels), test_fraction=0.2, seed=1)
    assert not np.array_equal(np.sort(other[1][0]), np.sort(test_ids))


def test_train_test_split_rounds_to_the_requested_total():
    labels = np.repeat(np.arange(10), 7)  # 70 items, 14 to test: 1.4 per class
    _, (test,) = train_test_split((labels,), test_fraction=0.2)
    assert len(test) == 14 and set(np.bincount(test, minlength=10).tolist()) <= {1, 2}


def test_train_test_split_bad_input():
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split((np.arange(4), np.arange(4)), test_fraction=1.0)
    with pytest.raises(TypeError, match="tuple of arrays"):
        train_test_split(np.arange(4))
    with pytest.raises(ValueError, match="first axes differ"):
        train_test_split((np.arange(4), np.arange(3)))


# ---------------------------------------------------------------- load_digits
def test_load_digits_shapes_dtypes_range():
    images, labels = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert np.allclose(images * 16, np.round(images * 16))  # counts 0-16, exactly


def test_load_digits_equals_scikit_learns():
    datasets = pytest.importorskip("sklearn.datasets")
    reference = datasets.load_digits()
    images, labels = load_digits()
    assert np.array_equal(images.reshape(-1, 64) * 16, reference.data)
    assert np.array_equal(labels, reference.target)


def test_digits_split_is_stratified_80_20():
    images, labels = load_digits()
    (x_train, y_train), (x_test, y_test) = train_test_split((images, labels), test_fraction=0.2, seed=0)
    assert len(x_test) == 359 and len(x_train) == 1438
    assert np.abs(np.bincount(y_test) - 0.2 * np.bincount(labels)).max() < 1


# ---------------------------------------------------------------- IDX files
def idx_bytes(array, code):
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


IDX_CASES = [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
             (0x0D, np.float32), (0x0E, np.float64)]


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("code, dtype", IDX_CASES, ids=[np.dtype(d).name for _, d in IDX_CASES])
def test_load_idx_every_dtype_plain_and_gzipped(tmp_path, code, dtype, compressed):
    array = (np.arange(2 * 3 * 4) * 7 - 20).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    raw = idx_bytes(array, code)
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    loaded = load_idx(path)
    assert loaded.dtype == np.dtype(dtype) and loaded.dtype.isnative
    assert loaded.shape == (2, 3, 4) and np.array_equal(loaded, array)
    assert loaded.flags.writeable


def test_load_idx_labels_one_axis(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.array([3, 1, 4, 1, 5], np.uint8), 0x08))
    assert load_idx(str(path)).tolist() == [3, 1, 4, 1, 5]


def test_load_idx_big_endian_header(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 1, 4]) + bytes(range(256)) * 1 + bytes(4))  # 260 items
    assert load_idx(path).shape == (260,)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_load_idx_bad_files_are_clear_errors_naming_the_file(tmp_path, compressed):
    good = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4), 0x08)
    cases = {
        "magic": (b"\x01\x00" + good[2:], "bad magic number"),
        "dtype": (good[:2] + b"\x07" + good[3:], "bad magic number"),
        "header": (good[:6], "truncated inside its header"),
        "body": (good[:-3], "truncated"),
        "longer": (good + b"\x00\x00", "does not match its header"),
        "tiny": (b"\x00", "too short"),
    }
    for name, (raw, message) in cases.items():
        path = tmp_path / f"{name}.idx"
        path.write_bytes(gzip.compress(raw) if compressed else raw)
        with pytest.raises(ValueError, match=message) as error:
            load_idx(path)
        assert str(path) in str(error.value), name


def test_load_idx_truncated_gzip(tmp_path):
    raw = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8).reshape(10, 100), 0x08))
    path = tmp_path / "cut.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="gzip") as error:
        load_idx(path)
    assert str(path) in str(error.value)


def write_mnist(directory, train=12, test=5, compressed=False, rng=np.random.default_rng(0)):
    parts = {"train": train, "t10k": test}
    arrays = {}
    for part, count in parts.items():
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        for kind, array, axes in (("images", images, 3), ("labels", labels, 1)):
            raw = idx_bytes(array, 0x08)
            name = f"{part}-{kind}-idx{axes}-ubyte"
            if compressed:
                (directory / (name + ".gz")).write_bytes(gzip.compress(raw))
            else:
                (directory / name).write_bytes(raw)
        arrays[part] = (images, labels)
    return arrays


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_load_mnist_four_standard_files(tmp_path, compressed):
    written = write_mnist(tmp_path, compressed=compressed)
    (train_images, train_labels), (test_images, test_labels) = load_mnist(tmp_path)
    assert np.array_equal(train_images, written["train"][0]) and np.array_equal(train_labels, written["train"][1])
    assert np.array_equal(test_images, written["t10k"][0]) and np.array_equal(test_labels, written["t10k"][1])


def test_load_mnist_missing_or_mismatched_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8), 0x08))
    with pytest.raises(ValueError, match="t10k"):
        load_mnist(tmp_path)
