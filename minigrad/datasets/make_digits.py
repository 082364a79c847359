"""Write ``digits.npz``, minigrad's copy of the 8x8 handwritten digits, from scikit-learn's.

    python -m minigrad.datasets.make_digits

scikit-learn is needed only to run this; minigrad reads the file it writes with NumPy.
The pixels are stored as they come, integers 0-16 (uint8), the labels as uint8; deflate
compresses them to about 45 KB (scikit-learn's own ``digits.csv.gz`` is 57 KB).
"""

import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent / "digits.npz"


def main():
    from sklearn.datasets import load_digits  # only this script needs scikit-learn

    digits = load_digits()
    pixels = digits.data.astype(np.uint8)
    if not np.array_equal(pixels, digits.data):  # the copy must be exact
        raise ValueError("scikit-learn's digits are not integers 0-16")
    np.savez_compressed(OUT, images=pixels.reshape(-1, 8, 8), labels=digits.target.astype(np.uint8))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(pixels)} digits)")


if __name__ == "__main__":
    main()
