"""The IDX file format of MNIST: read and write, raw or gzipped.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values in C order, big-endian. Any file may be
gzipped; it is recognised by its content, not its name.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["IDXError", "read_idx", "write_idx"]

# type code -> big-endian dtype
_CODES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """A file that is not a well-formed IDX file; the message names the file and the problem."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw, detected from its first bytes) into a NumPy array.

    Args:
        path: the file, e.g. ``"train-images-idx3-ubyte.gz"``.

    Returns:
        An array of the file's shape, in native byte order (uint8 for MNIST images and labels).

    Raises:
        FileNotFoundError: no such file.
        IDXError: bad magic number, unknown type code, or fewer or more bytes of data than the
            header's dimensions say.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IDXError(
                f"{path}: the file is gzip-compressed but cannot be unpacked ({e}); "
                "it is probably truncated: download it again"
            ) from None
    if len(raw) < 4:
        raise IDXError(f"{path}: {len(raw)} bytes, too short for an IDX header (4-byte magic)")
    if raw[0] != 0 or raw[1] != 0:
        raise IDXError(
            f"{path}: not an IDX file: the magic number must start with two zero bytes, got "
            f"0x{raw[:4].hex()} (an MNIST image file starts 0x00000803, a label file 0x00000801)"
        )
    code, ndim = raw[2], raw[3]
    if code not in _CODES:
        known = ", ".join(f"0x{c:02x}" for c in _CODES)
        raise IDXError(f"{path}: unknown IDX type code 0x{code:02x} (known: {known})")
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise IDXError(
            f"{path}: truncated header: {ndim} dimensions need {start} bytes, the file has "
            f"{len(raw)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _CODES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - start
    if found < expected:
        raise IDXError(
            f"{path}: truncated data: shape {shape} of {dtype.name} needs {expected} bytes after "
            f"the header, the file has {found}. Download the file again."
        )
    if found > expected:
        raise IDXError(
            f"{path}: {found - expected} unexpected bytes after the data of shape {shape} "
            f"({expected} bytes): the header's dimensions do not match the file"
        )
    array = np.frombuffer(raw, dtype, offset=start).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array) -> None:
    """Write ``array`` as an IDX file, gzipped when ``path`` ends in ``.gz``.

    Args:
        path: the file to write.
        array: a NumPy array (or a chainrule tensor) of uint8, int8, int16, int32, float32 or
            float64.
    """
    path = os.fspath(path)
    a = np.asarray(getattr(array, "_data", array))
    codes = {dt.newbyteorder("="): code for code, dt in _CODES.items()}
    key = a.dtype.newbyteorder("=")
    if key not in codes:
        raise TypeError(
            "write_idx: IDX files hold uint8, int8, int16, int32, float32 or float64; "
            f"got {a.dtype}"
        )
    header = bytes([0, 0, codes[key], a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    body = header + np.ascontiguousarray(a, dtype=_CODES[codes[key]]).tobytes()
    if path.endswith(".gz"):
        body = gzip.compress(body, mtime=0)
    with open(path, "wb") as f:
        f.write(body)
