"""load_idx and load_mnist: the IDX format of MNIST and Fashion-MNIST, plain or gzipped.

An IDX file is two zero bytes, a dtype code, the number of axes, each axis' length as a
big-endian uint32, then the values in C order, big-endian.
"""

import gzip
import os
import zlib

import numpy as np

# dtype code -> big-endian NumPy dtype (the IDX format's list)
IDX_DTYPES = {
    0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    with open(path, "rb") as file:
        raw = file.read()
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise ValueError(f"load_idx: {os.fspath(path)!r} is a damaged or truncated gzip file ({error})") from None


def load_idx(path):
    """Read one IDX file (plain, or gzipped: told apart by its first bytes).

    Returns a NumPy array of the header's shape and dtype (in native byte order). A bad
    magic number, a truncated file or a length that does not match the header raise a
    ValueError naming the file; nothing is returned partly.

    >>> import gzip, os, tempfile
    >>> import numpy as np
    >>> from minigrad.data import load_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
    >>> with gzip.open(path, "wb") as file:
    ...     _ = file.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> load_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    name = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"load_idx: {name!r} is too short for an IDX header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(
            f"load_idx: {name!r} is not an IDX file: bad magic number 0x{raw[:4].hex()} "
            f"(expected 0x0000, a dtype code among {sorted(hex(c) for c in IDX_DTYPES)}, then the number of axes)"
        )
    dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"load_idx: {name!r} is truncated inside its header ({len(raw)} of {header} bytes)")
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(raw) - header
    if body < expected:
        raise ValueError(
            f"load_idx: {name!r} is truncated: the header promises shape {shape} of {dtype.name} "
            f"({expected} bytes), the file holds {body}"
        )
    if body > expected:
        raise ValueError(
            f"load_idx: {name!r} does not match its header: shape {shape} of {dtype.name} is {expected} bytes, "
            f"the file holds {body}"
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a native, writable copy


# MNIST's four files; each may also be gzipped, and some copies spell "-idx3" as ".idx3"
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}


def _find(directory, stem):
    dotted = stem.replace("-idx", ".idx")
    for candidate in (stem, stem + ".gz", dotted, dotted + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def load_mnist(directory):
    """MNIST (or Fashion-MNIST) from its four standard IDX files in ``directory``.

    The files are ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or ``.gz``.

    Returns
    -------
    ((train_images, train_labels), (test_images, test_labels))
        The arrays as stored: images uint8 (N, 28, 28), labels uint8 (N,).
    """
    directory = os.fspath(directory)
    paths = {key: _find(directory, stem) for key, stem in MNIST_FILES.items()}
    missing = [MNIST_FILES[key] for key, path in paths.items() if path is None]
    if missing:
        raise FileNotFoundError(
            f"load_mnist: {directory!r} lacks {', '.join(missing)} (each may also end in .gz)"
        )
    arrays = {key: load_idx(path) for key, path in paths.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"load_mnist: {paths[part + '_images']!r} has shape {images.shape} and "
                f"{paths[part + '_labels']!r} shape {labels.shape}; expected (N, H, W) images and N labels"
            )
    return ((arrays["train_images"], arrays["train_labels"]),
            (arrays["test_images"], arrays["test_labels"]))
