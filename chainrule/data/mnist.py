"""MNIST (and Fashion-MNIST) from the standard IDX files on disk; chainrule never downloads."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ..ops.creation import from_numpy
from ..utils.data import Dataset
from .idx import IDXError, read_idx, write_idx

__all__ = ["MNIST", "FashionMNIST", "find_mnist_files", "write_mnist"]


def _names(prefix: str, kind: str) -> list[str]:
    """The names MNIST files go by: LeCun's, and the dotted one of some mirrors; raw or .gz."""
    n = 3 if kind == "images" else 1
    stems = [f"{prefix}-{kind}-idx{n}-ubyte", f"{prefix}-{kind}.idx{n}-ubyte"]
    return [stem + ext for stem in stems for ext in ("", ".gz")]


def find_mnist_files(root: str | os.PathLike, train: bool = True, folder: str = "MNIST"):
    """The (images, labels) paths of a split under ``root``.

    Looks in ``root``, ``root/raw``, ``root/MNIST/raw`` (torchvision's layout) and ``root/MNIST``
    for ``train-images-idx3-ubyte`` / ``t10k-...`` (or ``.gz``, or the dotted ``.idx3-ubyte``
    names).

    Raises:
        FileNotFoundError: naming every place and name that was tried.
    """
    root = os.fspath(root)
    prefix = "train" if train else "t10k"
    dirs = [root, os.path.join(root, "raw"), os.path.join(root, folder, "raw")]
    dirs.append(os.path.join(root, folder))
    found = []
    for kind in ("images", "labels"):
        names = _names(prefix, kind)
        hit = next(
            (os.path.join(d, n) for d in dirs for n in names if os.path.isfile(os.path.join(d, n))),
            None,
        )
        if hit is None:
            if not os.path.isdir(root):
                raise FileNotFoundError(f"{folder}: the data directory '{root}' does not exist")
            raise FileNotFoundError(
                f"{folder}: no {'training' if train else 'test'} {kind} file under '{root}': "
                f"looked for {names[0]} or {names[2]} (raw or .gz) in "
                + ", ".join(f"'{d}'" for d in dirs)
                + f". Put the four standard IDX files there ({prefix}-images-idx3-ubyte.gz, "
                f"{prefix}-labels-idx1-ubyte.gz, ...); chainrule does not download them."
            )
        found.append(hit)
    return tuple(found)


class MNIST(Dataset):
    """The MNIST handwritten digits read from the standard IDX files (raw or gzipped).

    ``dataset[i]`` is ``(image, label)``: by default the image is a float32 tensor of shape
    ``(1, 28, 28)`` in [0, 1] (what torchvision's ``ToTensor()`` gives) and the label an int.
    ``data`` (uint8, ``(N, 28, 28)``) and ``targets`` (int64) hold the whole split.

    Args:
        root: the directory with the files (or with ``MNIST/raw/`` in torchvision's layout).
        train: the 60,000 training images (``train-*``) or the 10,000 test images (``t10k-*``).
        transform: applied to each image (the uint8 ``(28, 28)`` tensor) when given.
        target_transform: applied to each label.
        download: not supported (chainrule works offline); True raises with a hint.

    Raises:
        FileNotFoundError: a file is missing; the message lists where it looked.
        IDXError: a file is malformed (magic number, dimensions, truncated data), or the images
            and labels do not belong together; the message names the file.

    Example:
        >>> from chainrule.data import MNIST
        >>> test = MNIST("~/data", train=False)  # doctest: +SKIP
        >>> image, label = test[0]  # doctest: +SKIP
    """

    folder = "MNIST"
    classes = [
        f"{i} - {w}"
        for i, w in enumerate("zero one two three four five six seven eight nine".split())
    ]

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        if download:
            raise RuntimeError(
                f"{type(self).__name__}: chainrule does not download data. Fetch the four IDX "
                f"files yourself and pass their directory as root."
            )
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        images_path, labels_path = find_mnist_files(self.root, train, self.folder)
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise IDXError(
                f"{images_path}: expected uint8 images of shape (N, rows, cols), got "
                f"{images.dtype} of shape {images.shape}"
            )
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise IDXError(
                f"{labels_path}: expected uint8 labels of shape (N,), got {labels.dtype} of "
                f"shape {labels.shape}"
            )
        if len(images) != len(labels):
            raise IDXError(
                f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} "
                "labels: the two files are from different sets"
            )
        if len(labels) and labels.max() >= len(self.classes):
            raise IDXError(
                f"{labels_path}: label {int(labels.max())} is out of range for "
                f"{len(self.classes)} classes"
            )
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        label = int(self.targets._data[index])
        if self.transform is not None:
            image = self.transform(self.data[index])
        else:
            image = from_numpy((self.data._data[index][None] / np.float32(255)).astype(np.float32))
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def extra_repr(self) -> str:
        return f"split: {'train' if self.train else 'test'}, root: {self.root}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images, {self.extra_repr()})"


class FashionMNIST(MNIST):
    """Fashion-MNIST: the same IDX files and layout as ``MNIST``, ten kinds of clothing."""

    folder = "FashionMNIST"
    classes = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]  # fmt: skip


def write_mnist(
    root: str | os.PathLike, images, labels, train: bool = True, compress: bool = True
) -> tuple[str, str]:
    """Write images (uint8, ``(N, rows, cols)``) and labels as MNIST's two IDX files in ``root``.

    For tests and for converting your own data. Returns the two paths.
    """
    root = os.fspath(root)
    os.makedirs(root, exist_ok=True)
    prefix = "train" if train else "t10k"
    ext = ".gz" if compress else ""
    paths = (
        os.path.join(root, f"{prefix}-images-idx3-ubyte{ext}"),
        os.path.join(root, f"{prefix}-labels-idx1-ubyte{ext}"),
    )
    write_idx(paths[0], np.asarray(getattr(images, "_data", images), np.uint8))
    write_idx(paths[1], np.asarray(getattr(labels, "_data", labels), np.uint8))
    return paths
