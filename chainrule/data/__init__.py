"""``chainrule.data``: data sets shipped with chainrule's dependencies or read from disk.

- ``digits()`` / ``Digits``: scikit-learn's 1,797 handwritten digits, upsampled to 16x16, with
  a fixed held-out test split (needs ``pip install 'chainrule[data]'``; no download).
- ``MNIST`` / ``FashionMNIST``: the standard IDX files, raw or gzipped, from a directory.
- ``read_idx`` / ``write_idx``: the IDX format itself.
"""

from .idx import IDXError, read_idx, write_idx
from .mnist import MNIST, FashionMNIST, find_mnist_files, write_mnist
from .sklearn_digits import Digits, digits, upsample_bilinear

__all__ = [
    "MNIST",
    "Digits",
    "FashionMNIST",
    "IDXError",
    "digits",
    "find_mnist_files",
    "read_idx",
    "upsample_bilinear",
    "write_idx",
    "write_mnist",
]
