"""load_digits: the 8x8 handwritten digits shipped inside minigrad (see README.md here)."""

import importlib.resources

import numpy as np


def load_digits():
    """The 1,797 handwritten 8x8 digits (UCI optical digits, test set), no download.

    Returns
    -------
    images : numpy.ndarray
        float32 (1797, 1, 8, 8), scaled to [0, 1] (the stored counts 0-16 divided by 16).
    labels : numpy.ndarray
        int64 (1797,), the digit 0-9.

    >>> from minigrad.data import load_digits
    >>> images, labels = load_digits()
    >>> images.shape, images.dtype, labels[:5].tolist()
    ((1797, 1, 8, 8), dtype('float32'), [0, 1, 2, 3, 4])
    """
    source = importlib.resources.files(__package__).joinpath("digits.npz")
    with source.open("rb") as file, np.load(file, allow_pickle=False) as archive:
        pixels, labels = archive["images"], archive["labels"]
    images = (pixels.astype(np.float32) / np.float32(16))[:, None, :, :]
    return images, labels.astype(np.int64)
