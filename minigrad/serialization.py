"""mg.save and mg.load: state_dicts and whole checkpoints in an ``.npz`` file, never pickle.

The file is a zip archive of ``.npy`` members, as ``numpy.savez`` writes, plus one JSON
member, ``__minigrad__.json``, that records the structure around the arrays: dicts (with
their key types), lists, tuples, Python scalars, strings and None. So a checkpoint such as
``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}`` comes back as
it went in, and nothing in the file can run code when it is read.

Saving is atomic: the archive is written to a temporary file in the target's folder,
flushed to disk, then renamed over the target, so an error or a kill at any moment leaves
the old file whole.
"""

import io
import json
import os
import struct
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from .tensor import Tensor

MANIFEST = "__minigrad__.json"
FORMAT = "minigrad-save"
VERSION = 1
_SCALARS = {bool: "bool", int: "int", float: "float", str: "str"}
_KEY_TYPES = (str, int, float, bool, type(None))


# ---------------------------------------------------------------- flattening
class _Flattener:
    """Turns an object into a JSON-able tree plus a list of (member name, array)."""

    def __init__(self):
        self.arrays = []
        self.names = set()
        self.active = set()  # ids of the containers being walked, to catch cycles

    def member(self, path, array):
        stem = "/".join(str(part) for part in path) or "root"
        name, count = f"{stem}.npy", 1
        while name in self.names:  # e.g. the int key 0 next to the str key "0"
            name, count = f"{stem}~{count}.npy", count + 1
        self.names.add(name)
        self.arrays.append((name, array))
        return name

    def array(self, path, value):
        if value.dtype.hasobject:
            raise TypeError(f"mg.save: {_where(path)} is an array of Python objects (dtype {value.dtype}), "
                            f"which cannot be saved without pickle")
        return self.member(path, value)

    def node(self, value, path):
        kind = type(value)
        if value is None:
            return {"type": "none"}
        if kind in _SCALARS:
            if kind is float:  # repr keeps every bit, and inf and nan, which JSON lacks
                return {"type": "float", "value": repr(value)}
            return {"type": _SCALARS[kind], "value": value}
        if isinstance(value, Tensor):
            return {"type": "tensor", "member": self.array(path, value.data),
                    "requires_grad": bool(value.requires_grad)}
        if isinstance(value, np.ndarray):
            return {"type": "array", "member": self.array(path, value)}
        if isinstance(value, np.generic):
            return {"type": "numpy_scalar", "member": self.array(path, np.asarray(value))}
        if isinstance(value, (dict, list, tuple)):
            if id(value) in self.active:
                raise ValueError(f"mg.save: {_where(path)} contains itself")
            self.active.add(id(value))
            try:
                return self.container(value, path)
            finally:
                self.active.discard(id(value))
        raise TypeError(
            f"mg.save: cannot save {_where(path)} of type {kind.__name__}; a save holds arrays, Tensors, "
            f"dicts, lists, tuples, Python bool/int/float/str and None"
        )

    def container(self, value, path):
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                if type(key) not in _KEY_TYPES:
                    raise TypeError(f"mg.save: {_where(path)} has a key {key!r} of type {type(key).__name__}; "
                                    f"keys must be str, int, float, bool or None")
                items.append([self.node(key, ()), self.node(item, path + (key,))])
            kind = "ordered_dict" if isinstance(value, OrderedDict) else "dict"
            return {"type": kind, "items": items}
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {"type": kind, "items": [self.node(item, path + (i,)) for i, item in enumerate(value)]}


def _where(path):
    return "the object" if not path else "entry " + "".join(f"[{part!r}]" for part in path)


# ---------------------------------------------------------------- writing
def _write_archive(file, tree, arrays):
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        manifest = {"format": FORMAT, "version": VERSION, "root": tree}
        archive.writestr(MANIFEST, json.dumps(manifest))
        for name, array in arrays:
            with archive.open(name, mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _file_mode(path):
    """The permissions a plain ``open(path, "w")`` would give (mkstemp's are 0600)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def save(obj, path):
    """Write ``obj`` (a state_dict, or a checkpoint of nested dicts, lists and scalars around
    arrays) to ``path``, exactly that name, atomically.

    Parameters
    ----------
    obj : dict, list, tuple, numpy.ndarray, Tensor, or a Python scalar, nested freely
        Arrays and Tensors become ``.npy`` members (object arrays are refused: they need
        pickle); the structure and scalars go in a JSON member.
    path : str or os.PathLike, or a binary file object (written in place, not atomically)

    Everything is checked before anything is written; the archive goes to a temporary file
    beside ``path``, is flushed to disk, and replaces ``path`` in one rename, so on any
    error, or a kill at any moment, ``path`` is left as it was.

    >>> import os, tempfile
    >>> import numpy as np
    >>> import minigrad as mg
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoint.npz")
    >>> mg.save({"model": {"w": np.ones(2)}, "epoch": 3, "betas": (0.9, 0.999)}, path)
    >>> mg.load(path)
    {'model': {'w': array([1., 1.])}, 'epoch': 3, 'betas': (0.9, 0.999)}
    """
    flattener = _Flattener()
    tree = flattener.node(obj, ())
    if hasattr(path, "write"):
        _write_archive(path, tree, flattener.arrays)
        return
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write_archive(file, tree, flattener.arrays)
            file.flush()
            os.fchmod(file.fileno(), _file_mode(path))
            os.fsync(file.fileno())  # the data is on disk before the name points at it
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable; not every platform can open a folder
        folder_descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder_descriptor)
    except OSError:
        pass
    finally:
        os.close(folder_descriptor)


# ---------------------------------------------------------------- reading
def _bad(name, what):
    return ValueError(f"mg.load: {name!r} {what}")


def _check_signature(head, name):
    if head.startswith(b"\x93NUMPY"):
        raise _bad(name, "is a single .npy array, not a minigrad save (an .npz archive); "
                         "read it with numpy.load")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return
    if not head:
        raise _bad(name, "is empty (0 bytes), not a minigrad save")
    if head[:1] == b"\x80":
        raise _bad(name, "looks like a pickle; minigrad never unpickles, and its saves are .npz archives")
    try:
        head.decode("utf-8")
        text = all(ch.isprintable() or ch.isspace() for ch in head.decode("utf-8"))
    except UnicodeDecodeError:
        text = False
    what = "a text file" if text else "neither a zip (.npz) archive nor a .npy array"
    raise _bad(name, f"is not a minigrad save: it is {what}")


def _read_members(archive, name):
    """Every ``.npy`` member as an array, read whole; the manifest's text or None."""
    arrays, manifest = OrderedDict(), None
    for info in archive.infolist():
        member = info.filename
        try:
            if member == MANIFEST:
                manifest = archive.read(member).decode("utf-8")
                continue
            if not member.endswith(".npy"):
                raise _bad(name, f"holds a member {member!r} that is not a .npy array, so it is not a minigrad save")
            with archive.open(member) as stream:
                arrays[member] = np.lib.format.read_array(stream, allow_pickle=False)
        except ValueError as error:
            if str(error).startswith("mg.load"):
                raise
            if "allow_pickle" in str(error) or "bject arrays" in str(error):
                raise _bad(name, f"member {member!r} is an array of Python objects, which would need "
                                 f"pickle to read; minigrad never unpickles") from None
            raise _bad(name, f"member {member!r} is damaged: {error}") from None
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, struct.error, UnicodeDecodeError) as error:
            raise _bad(name, f"member {member!r} is truncated or damaged ({type(error).__name__}: {error})") from None
    return arrays, manifest


class _Builder:
    def __init__(self, arrays, name):
        self.arrays = arrays
        self.name = name

    def fail(self, what):
        return _bad(self.name, f"has a damaged manifest ({MANIFEST}): {what}")

    def member(self, node):
        member = node.get("member")
        if member not in self.arrays:
            raise self.fail(f"it names a member {member!r} that the archive lacks")
        return self.arrays[member]

    def build(self, node):
        if not isinstance(node, dict) or "type" not in node:
            raise self.fail(f"a node {node!r:.80} has no type")
        kind = node["type"]
        if kind == "none":
            return None
        if kind in ("bool", "int", "str"):
            value = node.get("value")
            if type(value) is not {"bool": bool, "int": int, "str": str}[kind]:
                raise self.fail(f"a {kind} node holds {value!r:.80}")
            return value
        if kind == "float":
            try:
                return float(node["value"])
            except (KeyError, TypeError, ValueError):
                raise self.fail(f"a float node holds {node.get('value')!r:.80}") from None
        if kind == "array":
            return self.member(node)
        if kind == "numpy_scalar":
            return self.member(node)[()]
        if kind == "tensor":
            return Tensor(self.member(node), requires_grad=bool(node.get("requires_grad", False)))
        if kind in ("list", "tuple", "dict", "ordered_dict"):
            items = node.get("items")
            if not isinstance(items, list):
                raise self.fail(f"a {kind} node has no list of items")
            if kind == "list":
                return [self.build(item) for item in items]
            if kind == "tuple":
                return tuple(self.build(item) for item in items)
            built = OrderedDict() if kind == "ordered_dict" else {}
            for pair in items:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise self.fail(f"a dict item {pair!r:.80} is not a key and a value")
                key = self.build(pair[0])
                if type(key) not in _KEY_TYPES:
                    raise self.fail(f"a dict key {key!r:.80} is not a scalar")
                built[key] = self.build(pair[1])
            return built
        raise self.fail(f"unknown node type {kind!r:.80}")


def _load_from(file, name):
    _check_signature(file.read(8), name)
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            arrays, manifest = _read_members(archive, name)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, struct.error) as error:
        raise _bad(name, f"is a truncated or damaged zip archive ({type(error).__name__}: {error})") from None
    if manifest is None:  # a plain numpy.savez archive, or a save from before the manifest
        return OrderedDict((member[:-len(".npy")], array) for member, array in arrays.items())
    try:
        header = json.loads(manifest)
    except json.JSONDecodeError as error:
        raise _bad(name, f"has a damaged manifest ({MANIFEST}): {error}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _bad(name, f"has a {MANIFEST} member that is not minigrad's")
    if header.get("version") != VERSION:
        raise _bad(name, f"is a minigrad save of version {header.get('version')!r}; this minigrad reads "
                         f"version {VERSION}")
    return _Builder(arrays, name).build(header.get("root"))


def load(path):
    """Read what ``save`` wrote, with its structure (dicts keep their order); never unpickles.

    A plain ``numpy.savez`` archive loads too, as an OrderedDict of its arrays. A file that
    is not a minigrad save (truncated or damaged, a text file, a single ``.npy``, a member
    that is not an array, an array of Python objects) raises a ValueError naming the file
    and what is wrong; nothing is returned partly and the file is always closed.

    Parameters
    ----------
    path : str or os.PathLike, or a binary file object open for reading
    """
    if hasattr(path, "read"):
        data = path.read()
        return _load_from(io.BytesIO(data), getattr(path, "name", "<file object>"))
    name = os.fspath(path)
    with open(name, "rb") as file:
        return _load_from(file, name)
