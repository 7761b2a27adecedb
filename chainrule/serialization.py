"""``save`` and ``load``: checkpoints as one safetensors file, written atomically, read without
pickle.

The file is a plain safetensors file. Every tensor (and NumPy array) of the saved object is
stored under its path: a flat state dict keeps its own keys (``"0.weight"``), nested objects get
dotted paths (``"optimizer.state.0.exp_avg"``), so ``safetensors.torch.load_file`` hands PyTorch
a state dict it can load. Everything else (the nesting of dicts, lists and tuples; ints, floats
including inf and nan, bools, None, strings) is JSON in the header's metadata under
``"__chainrule__"``, with a format version and a CRC-32 of every tensor's bytes.

Writing goes to a temporary file in the same directory, which is flushed, fsynced and renamed
over the target, and the directory is fsynced: a crash at any moment leaves either the old file
or the new one. Loading parses only JSON and raw tensor bytes, so a checkpoint from a stranger
cannot run code; a truncated, corrupted or foreign file raises ``CheckpointError`` naming the
file and, where there is one, the key.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import zlib
from collections import OrderedDict
from typing import IO, Any

import numpy as np
import safetensors
import safetensors.numpy

from . import backend
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

FORMAT_KEY = "__chainrule__"
FORMAT_VERSION = 1

# safetensors dtype codes that chainrule reads, and the dtypes they become
_DTYPES = {
    "F64": backend.float64,
    "F32": backend.float32,
    "F16": backend.float16,
    "BF16": backend.bfloat16,
    "I64": backend.int64,
    "I32": backend.int32,
    "I16": backend.int16,
    "I8": backend.int8,
    "U8": backend.uint8,
    "BOOL": backend.bool_,
    "C64": backend.complex64,
}
_SCALARS = (str, int, bool, type(None))


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: truncated, corrupted, or not a checkpoint."""


# ------------------------------------------------------------------------------------- save
def save(
    obj: Any,
    f: str | os.PathLike | IO[bytes],
    pickle_module: Any = None,
    pickle_protocol: int | None = None,
    _use_new_zipfile_serialization: bool = True,
) -> None:
    """Save ``obj`` (a state dict, or nested dicts/lists/tuples of tensors and plain values).

    Args:
        obj: tensors, NumPy arrays, dicts, lists, tuples, str, int, float (inf and nan too),
            complex, bool and None, nested in any way. Tensors are saved by value (not their
            ``requires_grad``); NumPy scalars are saved as Python numbers.
        f: a path (written atomically: temporary file, fsync, rename) or a binary file object.
        pickle_module, pickle_protocol, _use_new_zipfile_serialization: accepted so that
            PyTorch calls run; chainrule never pickles.

    Raises:
        TypeError: ``obj`` holds something else (a module, a function, a custom class); the
            message names where, e.g. ``obj['optimizer']['param_groups'][0]['fn']``.

    Example:
        >>> import chainrule as torch, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> torch.save({"w": torch.ones(2), "step": 3, "lr": float("inf")}, path)
        >>> torch.load(path)["step"]
        3
    """
    tensors: dict[str, np.ndarray] = {}
    structure = _Encoder(tensors).encode(obj, "", "")
    header = {
        "format": FORMAT_VERSION,
        "object": structure,
        "crc32": {key: _crc(a) for key, a in tensors.items()},
    }
    metadata = {FORMAT_KEY: json.dumps(header, allow_nan=False, separators=(",", ":"))}
    if isinstance(f, str | os.PathLike):
        _atomic_write(os.fspath(f), tensors, metadata)
    else:
        f.write(safetensors.numpy.save(tensors, metadata=metadata))


class _Encoder:
    """Turns an object into JSON-able structure, moving tensors into ``tensors`` by path."""

    def __init__(self, tensors: dict):
        self.tensors = tensors
        self.active: set[int] = set()  # containers on the current path (cycle check)

    def encode(self, x, where: str, key: str):
        if isinstance(x, bool) or x is None or isinstance(x, str):
            return x
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            return float(x) if math.isfinite(x) else {"float": repr(x)}
        if isinstance(x, Tensor):
            return self._array(backend.to_numpy(x.data), "tensor", where, key)
        if isinstance(x, np.ndarray):
            return self._array(x, "ndarray", where, key)
        if isinstance(x, np.generic):
            return self.encode(x.item(), where, key)
        if isinstance(x, complex):
            return {"complex": [self.encode(x.real, where, key), self.encode(x.imag, where, key)]}
        if isinstance(x, np.dtype):
            return {"dtype": _dtype_name(x, where)}
        if isinstance(x, dict | list | tuple) and not hasattr(x, "_fields"):
            if id(x) in self.active:
                raise TypeError(f"chainrule.save: obj{where} contains itself; cannot save a cycle")
            self.active.add(id(x))
            try:
                return self._container(x, where, key)
            finally:
                self.active.discard(id(x))
        raise TypeError(
            f"chainrule.save: cannot save obj{where}, a {type(x).__module__}.{type(x).__qualname__}"
            ": a checkpoint holds tensors, NumPy arrays, dicts, lists, tuples, str, int, float, "
            "complex, bool and None (no pickle, so that loading cannot run code). Save its "
            "state_dict() or convert it to those types."
        )

    def _container(self, x, where, key):
        if isinstance(x, list):
            return [self.encode(v, f"{where}[{i}]", _join(key, i)) for i, v in enumerate(x)]
        if isinstance(x, tuple):
            items = enumerate(x)
            return {"tuple": [self.encode(v, f"{where}[{i}]", _join(key, i)) for i, v in items]}
        items = [(k, self.encode(v, f"{where}[{k!r}]", _join(key, k))) for k, v in x.items()]
        tag = "odict" if isinstance(x, OrderedDict) else "dict"
        if all(isinstance(k, str) for k, _ in items):
            return {tag: dict(items)}
        return {tag: [[self._key(k, where), v] for k, v in items]}

    def _key(self, k, where):
        if isinstance(k, tuple):
            return {"tuple": [self._key(v, where) for v in k]}
        if isinstance(k, _SCALARS) or isinstance(k, float):
            return self.encode(k, where, "")
        raise TypeError(
            f"chainrule.save: obj{where} has a key of type {type(k).__name__} ({k!r}): "
            "dict keys must be str, int, float, bool, None or tuples of them"
        )

    def _array(self, a: np.ndarray, tag: str, where: str, key: str):
        if a.dtype not in backend._SUPPORTED:
            raise TypeError(
                f"chainrule.save: obj{where} has dtype {a.dtype}, which cannot be saved"
            )
        extra = {}
        if a.dtype == backend.complex128:  # safetensors has no C128: store (re, im) pairs as F64
            a = _contiguous(a).view(np.float64).reshape(a.shape + (2,))
            extra = {"complex128": True}
        key = key or "tensor"
        name, n = key, 1
        while name in self.tensors or name == "__metadata__":
            n += 1
            name = f"{key}#{n}"
        self.tensors[name] = _contiguous(a)
        return {tag: name, **extra}


def _contiguous(a: np.ndarray) -> np.ndarray:
    # not np.ascontiguousarray: it turns 0-d arrays into 1-d ones
    return a if a.flags.c_contiguous else a.copy(order="C")


def _join(prefix: str, k) -> str:
    return f"{prefix}.{k}" if prefix else str(k)


def _dtype_name(dt, where: str) -> str:
    if dt not in backend._NAMES:
        raise TypeError(
            f"chainrule.save: obj{where} is dtype {dt}, which chainrule does not support"
        )
    return backend._NAMES[dt]


def _crc(a: np.ndarray) -> int:
    return zlib.crc32(a.reshape(-1).view(np.uint8))


def _atomic_write(path: str, tensors: dict, metadata: dict) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"chainrule.save: the directory '{directory}' does not exist")
    tmp = os.path.join(
        directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    )
    # created here (O_EXCL, mode 0o666 less the umask), then filled by safetensors
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        safetensors.numpy.save_file(tensors, tmp, metadata=metadata)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data is on disk before the rename makes it visible
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# ------------------------------------------------------------------------------------- load
def load(
    f: str | os.PathLike | IO[bytes],
    map_location=None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = True,
    mmap: bool | None = None,
    **pickle_load_args: Any,
) -> Any:
    """Load an object written by ``save``, or the tensors of any safetensors file.

    Args:
        f: a path or a binary file object.
        map_location: ``None`` or ``"cpu"`` (tensors stay in host memory), or a device such
            as ``"cuda"`` to move them there.
        pickle_module: must be None: chainrule never unpickles.
        weights_only: accepted for PyTorch compatibility; loading never runs code either way.
        mmap: accepted for PyTorch compatibility (the file is read into memory).

    Returns:
        The saved object; for a safetensors file written by another program (no chainrule
        metadata), a flat dict of tensors in file order.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is truncated, corrupted, not a safetensors file, or has a
            dtype chainrule does not support; the message names the file and the key.
    """
    if pickle_module is not None or pickle_load_args:
        raise TypeError(
            "chainrule.load reads safetensors files and never unpickles, so pickle_module and "
            "pickle load arguments are not supported"
        )
    name, raw = _read(f)
    header, metadata = _parse_header(raw, name)
    try:
        entries = safetensors.deserialize(raw)
    except Exception as e:  # SafetensorError: name the problem in terms of this file
        raise CheckpointError(
            f"chainrule.load: '{name}' is corrupted: {e}. Restore it from a backup or save it "
            "again."
        ) from None
    del raw
    arrays = {}
    for key, info in entries:
        dtype = _DTYPES[info["dtype"]]  # checked in _parse_header
        arrays[key] = np.frombuffer(info["data"], dtype=dtype).reshape(info["shape"])
    target = _target_device(map_location)
    if not metadata or FORMAT_KEY not in metadata:
        return {k: _wrap(arrays[k], target) for k in _file_order(header)}
    try:
        fmt = json.loads(metadata[FORMAT_KEY])
        version = fmt["format"]
        structure = fmt["object"]
        crcs = fmt.get("crc32", {})
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(
            f"chainrule.load: '{name}' is corrupted: its chainrule metadata is not readable ({e})"
        ) from None
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"chainrule.load: '{name}' was written in checkpoint format {version!r}, newer than "
            f"this chainrule reads ({FORMAT_VERSION}): upgrade chainrule to load it."
        )
    for key, crc in crcs.items():
        if key in arrays and _crc(arrays[key]) != crc:
            raise CheckpointError(
                f"chainrule.load: '{name}' is corrupted: the data of '{key}' does not match the "
                "checksum written with it (the file was damaged after it was saved)."
            )
    return _Decoder(arrays, name, target).decode(structure)


def _read(f) -> tuple[str, bytes]:
    if isinstance(f, str | os.PathLike):
        path = os.fspath(f)
        try:
            with open(path, "rb") as fh:
                return path, fh.read()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"chainrule.load: no such file: '{path}'" + _temp_hint(path)
            ) from None
        except IsADirectoryError:
            raise IsADirectoryError(
                f"chainrule.load: '{path}' is a directory, not a file"
            ) from None
    name = getattr(f, "name", None) or f"<{type(f).__name__}>"
    raw = f.read()
    if isinstance(raw, str):
        raise TypeError(f"chainrule.load: {name} is opened in text mode; open it with 'rb'")
    return str(name), bytes(raw)


def _temp_hint(path: str) -> str:
    directory = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    try:
        stale = [n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return ""
    if not stale:
        return ""
    return (
        f" (there is an unfinished temporary file {stale[0]!r} beside it: a save was "
        "interrupted before it completed, so no checkpoint was ever finished under this name)"
    )


def _parse_header(raw: bytes, name: str) -> tuple[dict, dict | None]:
    """Check the safetensors framing ourselves, so every failure names the file and the key."""
    n = int.from_bytes(raw[:8], "little") if len(raw) >= 8 else 0
    json_after_length = raw[8:9] == b"{"  # a safetensors header, even a truncated one
    if not json_after_length and (raw[:4] == b"PK\x03\x04" or raw[:1] == b"\x80"):
        raise CheckpointError(
            f"chainrule.load: '{name}' is a pickle or zip archive (what torch.save writes), not "
            "a safetensors file. chainrule never unpickles, because loading a pickle can run "
            "code. Convert it once in PyTorch: safetensors.torch.save_file(torch.load(path), "
            "new_path)."
        )
    if len(raw) < 8:
        raise CheckpointError(
            f"chainrule.load: '{name}' is truncated or not a checkpoint: {len(raw)} bytes, fewer "
            "than a safetensors header needs."
        )
    if n > 100_000_000 or (n > len(raw) - 8 and raw[8:9] != b"{"):
        raise CheckpointError(
            f"chainrule.load: '{name}' is not a safetensors checkpoint (its first 8 bytes do not "
            "give a plausible header length)."
        )
    if n > len(raw) - 8:
        raise CheckpointError(
            f"chainrule.load: '{name}' is truncated: its header needs {n} bytes but only "
            f"{len(raw) - 8} follow. The write was interrupted; use the previous checkpoint."
        )
    try:
        header = json.loads(raw[8 : 8 + n].decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"chainrule.load: '{name}' is corrupted or not a safetensors file: its header is not "
            f"valid JSON ({e})."
        ) from None
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not isinstance(metadata, dict):
        raise CheckpointError(f"chainrule.load: '{name}' is corrupted: bad __metadata__")
    size = len(raw) - 8 - n
    for key, info in header.items():
        try:
            code, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise CheckpointError(
                f"chainrule.load: '{name}' is corrupted: the entry of '{key}' is malformed"
            ) from None
        if code not in _DTYPES:
            raise CheckpointError(
                f"chainrule.load: '{name}': tensor '{key}' has dtype {code}, which chainrule "
                f"does not support (supported: {', '.join(_DTYPES)}). Convert it before saving."
            )
        if end > size:
            raise CheckpointError(
                f"chainrule.load: '{name}' is truncated: the data of '{key}' ends at byte {end} "
                f"of the data section, which has only {size} bytes. The write was interrupted; "
                "use the previous checkpoint."
            )
        expected = math.prod(shape) * _DTYPES[code].itemsize
        if end - begin != expected:
            raise CheckpointError(
                f"chainrule.load: '{name}' is corrupted: '{key}' has shape {shape} and dtype "
                f"{code} ({expected} bytes) but {end - begin} bytes of data."
            )
    return header, metadata


def _file_order(header: dict) -> list[str]:
    return sorted(header, key=lambda k: header[k]["data_offsets"][0])


def _target_device(map_location):
    if map_location is None:
        return None
    if isinstance(map_location, dict):
        map_location = map_location.get("cpu", "cpu")
    if isinstance(map_location, str | backend.device):
        dev = backend.device(map_location)
        return None if dev.type == "cpu" else dev
    raise TypeError(
        f"chainrule.load: map_location must be None, a device or a string like 'cpu', got "
        f"{type(map_location).__name__}"
    )


def _wrap(a: np.ndarray, target) -> Tensor:
    if target is not None:
        a = backend.to_device(a, target)
    return Tensor._make(a)


class _Decoder:
    def __init__(self, arrays: dict, name: str, target):
        self.arrays = arrays
        self.name = name
        self.target = target

    def bad(self, what: str) -> CheckpointError:
        return CheckpointError(f"chainrule.load: '{self.name}' is corrupted: {what}")

    def decode(self, x):
        if x is None or isinstance(x, bool | int | float | str):
            return x
        if isinstance(x, list):
            return [self.decode(v) for v in x]
        if not isinstance(x, dict) or len(x) < 1:
            raise self.bad(f"unexpected value {x!r} in its structure")
        tag = next(iter(x))
        body = x[tag]
        if tag in ("tensor", "ndarray"):
            if body not in self.arrays:
                raise self.bad(f"the key '{body}' is listed in its structure but has no data")
            a = self.arrays[body]
            if x.get("complex128"):
                a = _contiguous(a).view(np.complex128).reshape(a.shape[:-1])
            return _wrap(a, self.target) if tag == "tensor" else a
        if tag == "float":
            return float(body)
        if tag == "complex":
            return complex(self.decode(body[0]), self.decode(body[1]))
        if tag == "tuple":
            return tuple(self.decode(v) for v in body)
        if tag == "dtype":
            return backend.as_dtype(body)
        if tag in ("dict", "odict"):
            out = OrderedDict() if tag == "odict" else {}
            if isinstance(body, dict):
                for k, v in body.items():
                    out[k] = self.decode(v)
            else:
                for k, v in body:
                    out[self.decode(k)] = self.decode(v)
            return out
        raise self.bad(f"unknown tag {tag!r} in its structure")
