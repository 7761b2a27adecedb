"""The 1,797 handwritten digits that scikit-learn ships (8x8 scans), upsampled to 16x16 like
the images of LeCun et al.'s 1989 zip-code network, with a fixed held-out test split."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ..ops.creation import from_numpy
from ..utils.data import Dataset

__all__ = ["Digits", "digits", "upsample_bilinear"]

TEST_FRACTION = 0.2
SPLIT_SEED = 1989  # the split never depends on the training seed, so runs share one test set


@lru_cache(maxsize=1)
def _load_sklearn() -> tuple[np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the digits data set ships with scikit-learn, which is not installed: "
            "pip install 'chainrule[data]' (or pip install scikit-learn)"
        )
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if os.path.isfile(path):
        # the file that sklearn.datasets.load_digits reads: 64 pixels and the label per row.
        # Reading it directly skips importing scikit-learn and SciPy (seconds on a slow disk).
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        images, labels = table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(np.int64)
    else:  # a scikit-learn that keeps the file elsewhere
        from sklearn.datasets import load_digits

        bunch = load_digits()  # read from scikit-learn's own files: no network
        images, labels = bunch.images.astype(np.float32), bunch.target.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False  # cached: shared by every call
    return images, labels


def upsample_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(..., h, w)`` square images to ``(..., size, size)`` by bilinear interpolation
    (``align_corners=False``, as ``F.interpolate`` does)."""
    n = images.shape[-1]
    # one row of A per output pixel: the weights of the two nearest input pixels
    src = np.clip((np.arange(size) + 0.5) * n / size - 0.5, 0, n - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    A = np.zeros((size, n), np.float32)
    A[np.arange(size), lo] += 1 - (src - lo)
    A[np.arange(size), hi] += src - lo
    return (A @ images @ A.T).astype(np.float32)


def _split(labels: np.ndarray, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Stratified: the same share of every digit goes to the test set, chosen by a fixed seed."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def digits(
    split: str = "train", size: int = 16, test_fraction: float = TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """The digits as NumPy arrays: images ``(N, 1, size, size)`` float32 in [0, 1], labels int64.

    Args:
        split: ``"train"`` (1,438 images), ``"test"`` (359, held out: the same ones on every
            machine and for every seed) or ``"all"`` (1,797).
        size: the side of the images: 8 is the original scan, 16 (default) is upsampled.
        test_fraction: the share of each digit held out for testing.

    Raises:
        ImportError: scikit-learn (which ships the data) is not installed.

    Example:
        >>> from chainrule.data import digits
        >>> x, y = digits("test")
        >>> x.shape, y[:5]  # doctest: +SKIP
        ((359, 1, 16, 16), array([2, 0, 0, 0, 8]))
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"digits: split must be 'train', 'test' or 'all', got {split!r}")
    images, labels = _load_sklearn()
    images = images / np.float32(16)  # the scans count 0..16 dark pixels per 4x4 block
    if size != images.shape[-1]:
        images = upsample_bilinear(images, size)
    images = images[:, None].astype(np.float32)
    if split == "all":
        return images, labels.copy()
    train, test = _split(labels, test_fraction)
    idx = train if split == "train" else test
    return images[idx], labels[idx]


class Digits(Dataset):
    """The scikit-learn digits as a Dataset: ``dataset[i]`` is ``(image, label)``, the image a
    float32 tensor ``(1, 16, 16)`` in [0, 1], the label an int. ``data`` and ``targets`` hold
    the whole split as tensors.

    Args:
        train: the 1,438 training images, or the 359 held out for testing.
        transform: applied to each image tensor.
        target_transform: applied to each label.
        size: image side (16 by default; 8 gives the original scans).
    """

    classes = [str(i) for i in range(10)]

    def __init__(
        self,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        size: int = 16,
    ) -> None:
        images, labels = digits("train" if train else "test", size=size)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        self.data = from_numpy(images)
        self.targets = from_numpy(labels)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        image = self.data[index]
        label = int(self.targets._data[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __repr__(self) -> str:
        return f"Digits({len(self)} images, split: {'train' if self.train else 'test'})"
