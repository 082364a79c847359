"""mg.save / mg.load: round trips of state_dicts and whole checkpoints, and every bad file
a clear ValueError naming it (no pickle ever run, no handle left open)."""

import gc
import io
import os
import warnings
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim


def equal(a, b):
    """Deep equality with types: arrays by dtype, shape and bits; containers by type."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(type(k) is type(j) for k, j in zip(a, b)) and all(
            equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


def round_trip(obj, tmp_path):
    path = tmp_path / "saved.npz"
    mg.save(obj, path)
    return mg.load(path)


# ---------------------------------------------------------------- round trips
def test_state_dict_round_trip_keeps_order_names_dtypes(tmp_path):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3))
    state = model.state_dict()
    loaded = round_trip(state, tmp_path)
    assert isinstance(loaded, OrderedDict) and equal(loaded, state)
    assert loaded["1.num_batches_tracked"].dtype == state["1.num_batches_tracked"].dtype
    fresh = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3))
    fresh.load_state_dict(loaded)
    assert equal(fresh.state_dict(), state)


def training_checkpoint(optimizer_class, **kwargs):
    mg.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    optimizer = optimizer_class(model.parameters(), **kwargs)
    x, y = mg.randn(8, 3), np.arange(8) % 2
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model, optimizer, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}


@pytest.mark.parametrize("optimizer_class, kwargs", [
    (optim.Adam, dict(lr=1e-2)),
    (optim.AdamW, dict(lr=1e-2, betas=(0.8, 0.99))),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
], ids=["Adam", "AdamW", "SGD"])
def test_whole_checkpoint_round_trip_and_resume(tmp_path, optimizer_class, kwargs):
    model, optimizer, checkpoint = training_checkpoint(optimizer_class, **kwargs)
    loaded = round_trip(checkpoint, tmp_path)
    assert equal(loaded, checkpoint)  # nested dicts, int keys, tuples, bools, Python scalars
    assert loaded["epoch"] == 3 and type(loaded["epoch"]) is int
    # resuming from the loaded checkpoint takes exactly the step the original takes
    resumed_model, resumed_optimizer, _ = training_checkpoint(optimizer_class, **kwargs)
    resumed_model.load_state_dict(loaded["model"])
    resumed_optimizer.load_state_dict(loaded["optimizer"])
    x, y = mg.randn(8, 3), np.arange(8) % 2
    for net, opt in ((model, optimizer), (resumed_model, resumed_optimizer)):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    assert equal(resumed_model.state_dict(), model.state_dict())


def test_nested_structures_and_scalars_round_trip(tmp_path):
    obj = {
        "ragged": [[1, 2], [3]],
        "tuple": (1.5, "text", None, True, False),
        "floats": [float("inf"), -0.0, float("nan"), 0.1],
        "big": 2 ** 70,
        3: "int key", "3": "str key", 2.5: "float key", None: "none key", True: "bool key",
        "numpy": [np.float32(1.25), np.int64(7), np.bool_(True)],
        "arrays": [np.zeros((0, 3)), np.array(5), np.arange(6, dtype=np.uint16).reshape(2, 3),
                   np.array([1 + 2j]), np.array(["ab", "c"]), np.asfortranarray(np.ones((2, 3)))],
        "empty": {}, "nothing": [],
    }
    loaded = round_trip(obj, tmp_path)
    assert equal(loaded, obj)
    assert type(loaded["numpy"][0]) is np.float32 and type(loaded["numpy"][1]) is np.int64


@pytest.mark.parametrize("obj", [[1, 2], 3.5, np.arange(3), (np.ones(2), {"a": 1})],
                         ids=["list", "float", "array", "tuple"])
def test_any_supported_top_level(tmp_path, obj):
    assert equal(round_trip(obj, tmp_path), obj)


def test_tensors_come_back_as_tensors(tmp_path):
    loaded = round_trip({"w": mg.tensor([1.0, 2.0], requires_grad=True), "c": mg.ones(2)}, tmp_path)
    assert isinstance(loaded["w"], mg.Tensor) and loaded["w"].requires_grad and loaded["w"].tolist() == [1.0, 2.0]
    assert not loaded["c"].requires_grad


@pytest.mark.parametrize("key", ["allow_pickle", "file", "fix_imports", "encoding", "mmap_mode", "args", "kwds"])
def test_keys_that_are_numpy_keywords_are_ordinary_keys(tmp_path, key):
    obj = OrderedDict([(key, np.ones(2)), ("a", np.zeros(3))])
    assert equal(round_trip(obj, tmp_path), obj)


def test_keys_that_collide_as_member_names(tmp_path):
    obj = {0: np.ones(1), "0": np.zeros(1), "a/b": np.full(1, 2.0), "a": {"b": np.full(1, 3.0)}, "": np.ones(2)}
    assert equal(round_trip(obj, tmp_path), obj)


def test_a_plain_numpy_savez_archive_loads(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, w=np.ones(3), b=np.arange(2))
    loaded = mg.load(path)
    assert list(loaded) == ["w", "b"] and equal(loaded["b"], np.arange(2))


def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    mg.save({"w": np.ones(2)}, buffer)
    buffer.seek(0)
    assert equal(mg.load(buffer), {"w": np.ones(2)})


def test_file_keeps_the_usual_permissions(tmp_path):
    path = tmp_path / "m.npz"
    mg.save({"w": np.ones(2)}, path)
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask
    os.chmod(path, 0o640)
    mg.save({"w": np.ones(3)}, path)  # saving over a file keeps its permissions
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_exactly_the_path_given_and_no_temporary_left(tmp_path):
    path = tmp_path / "model"  # no .npz: NumPy would add one
    mg.save({"w": np.ones(2)}, path)
    assert sorted(os.listdir(tmp_path)) == ["model"]
    assert equal(mg.load(path), {"w": np.ones(2)})


# ---------------------------------------------------------------- refused before writing
@pytest.mark.parametrize("obj, message", [
    ({"a": object()}, "type object"),
    ({"a": np.array([1, "x", None], dtype=object)}, "array of Python objects"),
    ({"a": {1, 2}}, "type set"),
    ({(1, 2): np.ones(1)}, "key"),
    ({"f": lambda: 0}, "type function"),
], ids=["object", "object-array", "set", "tuple-key", "function"])
def test_unsavable_objects_raise_and_leave_the_old_file(tmp_path, obj, message):
    path = tmp_path / "m.npz"
    mg.save({"old": np.arange(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=message):
        mg.save(obj, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.npz"]


def test_a_cycle_is_refused(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        mg.save({"loop": loop}, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- bad files
def no_resource_warning(function, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        try:
            return function(*args)
        finally:
            gc.collect()


def expect_bad(path, message):
    with pytest.raises(ValueError, match=message) as error:
        no_resource_warning(mg.load, path)
    assert str(path) in str(error.value), str(error.value)
    return str(error.value)


@pytest.fixture
def good_save(tmp_path):
    path = tmp_path / "good.npz"
    mg.save({"w": np.arange(1000, dtype=np.float64), "epoch": 2}, path)
    return path


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_files(tmp_path, good_save, fraction):
    raw = good_save.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(raw[: int(len(raw) * fraction)] if fraction else b"")
    expect_bad(path, "empty|truncated|damaged|not a minigrad save")


def test_a_damaged_member(tmp_path, good_save):
    raw = bytearray(good_save.read_bytes())
    middle = raw.find(b"\x93NUMPY") + 400
    raw[middle:middle + 8] = b"\xff" * 8  # the CRC no longer matches
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(raw))
    expect_bad(path, "damaged")


def test_a_text_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are not weights\n")
    message = expect_bad(path, "text file")
    assert "pickle" not in message


def test_a_npy_file(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.ones(3))
    expect_bad(path, r"single \.npy array")


def test_a_member_that_is_not_npy(tmp_path):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    expect_bad(path, "'readme.txt' that is not a .npy array")


def test_a_member_that_claims_npy_but_is_not(tmp_path):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", "plain text, no header")
    expect_bad(path, "'w.npy' is damaged")


class Boom:
    def __reduce__(self):
        return (os.mkdir, (MARKER,))


MARKER = None


def test_pickled_objects_are_refused_without_running_them(tmp_path):
    global MARKER
    MARKER = str(tmp_path / "pickle_ran")
    path = tmp_path / "evil.npz"
    np.savez(path, w=np.array([Boom()], dtype=object))
    expect_bad(path, "array of Python objects.*never unpickles")
    assert not os.path.exists(MARKER)
    raw = tmp_path / "evil.pkl"
    import pickle
    raw.write_bytes(pickle.dumps(Boom()))
    expect_bad(raw, "looks like a pickle")
    assert not os.path.exists(MARKER)


def test_a_damaged_manifest(tmp_path, good_save):
    path = tmp_path / "manifest.npz"
    with zipfile.ZipFile(good_save) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "__minigrad__.json":
                data = data.replace(b'"w.npy"', b'"missing.npy"')
            target.writestr(info.filename, data)
    expect_bad(path, "lacks")
    with zipfile.ZipFile(path, "w") as target:
        target.writestr("__minigrad__.json", "{not json")
    expect_bad(path, "damaged manifest")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        mg.load(tmp_path / "nothing.npz")
