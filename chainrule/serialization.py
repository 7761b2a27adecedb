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

Whole objects (``save(model, f)``, an optimizer, a dict holding both) are written the same way:
the JSON records each object's class path ("chainrule.nn.modules.linear:Linear") and its
attributes, shared objects once (a tied weight, the Parameters an optimizer and a model share).
Loading rebuilds only chainrule's own classes and those allow-listed with
``add_safe_globals([...])`` or ``with safe_globals([...]):`` (PyTorch's ``weights_only``
allow-list); for anything else it raises ``UnsafeGlobalError`` naming the class and how to allow
it. It never imports a module outside chainrule.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import secrets
import warnings
import zlib
from collections import OrderedDict, defaultdict
from typing import IO, Any

import numpy as np
import safetensors
import safetensors.numpy

from . import backend
from .tensor import Size, Tensor

__all__ = [
    "save",
    "load",
    "CheckpointError",
    "UnsafeGlobalError",
    "add_safe_globals",
    "safe_globals",
    "get_safe_globals",
    "clear_safe_globals",
    "get_unsafe_globals_in_checkpoint",
]

FORMAT_KEY = "__chainrule__"
FORMAT_VERSION = 2  # 1: plain data only; 2 adds whole objects (written only when there are some)

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


class UnsafeGlobalError(CheckpointError):
    """A checkpoint names a class or function that chainrule will not rebuild unless allowed."""


# ------------------------------------------------------------------------------- allow-list
_SAFE_GLOBALS: dict[str, Any] = {}  # "module:qualname" -> the class or function
_DEFAULT_FACTORIES = {"dict": dict, "list": list, "set": set, "int": int, "float": float}


def _path(obj) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def _is_chainrule(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == "chainrule" or module.startswith("chainrule.")


def add_safe_globals(safe_globals: list) -> None:
    """Allow ``load`` to rebuild these classes (and reference these functions).

    Args:
        safe_globals: classes or functions, or ``(obj, "module.Name")`` pairs as in PyTorch.

    Example:
        >>> import chainrule as torch
        >>> class Net(torch.nn.Module):
        ...     pass
        >>> torch.serialization.add_safe_globals([Net])
    """
    for g in safe_globals:
        obj = g[0] if isinstance(g, tuple) else g
        _SAFE_GLOBALS[_path(obj)] = obj


def get_safe_globals() -> list:
    return list(_SAFE_GLOBALS.values())


def clear_safe_globals() -> None:
    _SAFE_GLOBALS.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list):
    """``with safe_globals([Net]):`` allows them for the loads inside the block only."""
    saved = dict(_SAFE_GLOBALS)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _SAFE_GLOBALS.clear()
        _SAFE_GLOBALS.update(saved)


def _allow_hint(path: str) -> str:
    module, _, name = path.partition(":")
    return (
        f"If you trust this checkpoint, allow the class before loading: "
        f"`from {module} import {name.split('.')[0]}` then "
        f"`chainrule.serialization.add_safe_globals([{name}])`, or load inside "
        f"`with chainrule.serialization.safe_globals([{name}]):`"
    )


def _resolve(path: str, file: str):
    """The class or function a checkpoint names, if chainrule's own or allow-listed."""
    if path in _SAFE_GLOBALS:
        return _SAFE_GLOBALS[path]
    module, _, qualname = path.partition(":")
    if (module == "chainrule" or module.startswith("chainrule.")) and qualname:
        try:
            obj = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            raise CheckpointError(
                f"chainrule.load: '{file}' names {path}, which this chainrule does not have "
                "(written by another version?)"
            ) from None
        if _is_chainrule(obj):
            return obj
    raise UnsafeGlobalError(
        f"chainrule.load: '{file}' holds an object of {module}.{qualname}, which is not "
        "allow-listed: chainrule rebuilds only its own classes and those you allow, so that a "
        f"checkpoint cannot run code. {_allow_hint(path)}."
    )


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
            ``requires_grad``); NumPy scalars are saved as Python numbers. Whole objects too:
            Modules (yours included), optimizers, schedulers, Parameters (with
            ``requires_grad``), chainrule functions and classes by name, and instances of
            classes allowed with ``add_safe_globals``.
        f: a path (written atomically: temporary file, fsync, rename) or a binary file object.
        pickle_module, pickle_protocol, _use_new_zipfile_serialization: accepted so that
            PyTorch calls run; chainrule never pickles.

    Raises:
        TypeError: ``obj`` holds something else (a lambda, a set outside an object, an
            instance of a class nobody allowed); the message names where, e.g.
            ``obj['optimizer']['param_groups'][0]['fn']``.

    Example:
        >>> import chainrule as torch, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> torch.save({"w": torch.ones(2), "step": 3, "lr": float("inf")}, path)
        >>> torch.load(path)["step"]
        3
    """
    tensors: dict[str, np.ndarray] = {}
    encoder = _Encoder(tensors)
    structure = encoder.encode(obj, "", "")
    header = {
        "format": FORMAT_VERSION if encoder.memo else 1,
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
        self.memo: dict[int, int] = {}  # id(object) -> its number, for objects saved whole
        self.keep: list = []  # the memoised objects, alive so that their ids stay unique
        self.in_object = 0  # > 0 inside an object's attributes (where sets may appear)

    def encode(self, x, where: str, key: str):
        if isinstance(x, bool) or x is None or isinstance(x, str):
            return x
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            return float(x) if math.isfinite(x) else {"float": repr(x)}
        if isinstance(x, Tensor):
            if type(x) is not Tensor:
                return self._tensor_subclass(x, where, key)
            return self._array(backend.to_numpy(x._data), "tensor", where, key)
        if isinstance(x, np.ndarray):
            return self._array(x, "ndarray", where, key)
        if isinstance(x, np.generic):
            return self.encode(x.item(), where, key)
        if isinstance(x, complex):
            return {"complex": [self.encode(x.real, where, key), self.encode(x.imag, where, key)]}
        if isinstance(x, np.dtype):
            return {"dtype": _dtype_name(x, where)}
        if isinstance(x, backend.device):
            return {"device": str(x)}
        if isinstance(x, Size):
            return {"size": [int(d) for d in x]}
        if isinstance(x, defaultdict):
            return self._defaultdict(x, where, key)
        if isinstance(x, set | frozenset) and self.in_object:
            tag = "set" if isinstance(x, set) else "frozenset"
            return {tag: [self.encode(v, f"{where}[{i}]", key) for i, v in enumerate(x)]}
        if isinstance(x, dict | list | tuple) and not hasattr(x, "_fields"):
            if id(x) in self.active:
                raise TypeError(f"chainrule.save: obj{where} contains itself; cannot save a cycle")
            self.active.add(id(x))
            try:
                return self._container(x, where, key)
            finally:
                self.active.discard(id(x))
        if _savable_global(x):
            return {"global": _path(x)}
        if _savable_object(x):
            return self._object(x, where, key)
        raise TypeError(
            f"chainrule.save: cannot save obj{where}, a {type(x).__module__}.{type(x).__qualname__}"
            ": a checkpoint holds tensors, NumPy arrays, dicts, lists, tuples, str, int, float, "
            "complex, bool and None, and whole Modules, optimizers and schedulers (no pickle, so "
            "that loading cannot run code). Save its state_dict() or convert it to those types, "
            "or allow-list its class with chainrule.serialization.add_safe_globals([cls])."
        )

    def _ref(self, x):
        n = self.memo.get(id(x))
        return None if n is None else {"ref": n}

    def _remember(self, x) -> int:
        n = self.memo[id(x)] = len(self.memo)
        self.keep.append(x)
        return n

    def _tensor_subclass(self, x, where, key):
        """A Parameter (or other Tensor subclass): its class, requires_grad, once per object."""
        ref = self._ref(x)
        if ref is not None:
            return ref
        cls = type(x)
        if not (_is_chainrule(cls) or _path(cls) in _SAFE_GLOBALS):
            raise TypeError(
                f"chainrule.save: obj{where} is a {cls.__module__}.{cls.__qualname__}, a Tensor "
                "subclass chainrule does not know: allow-list it with "
                "chainrule.serialization.add_safe_globals([cls]) or save a plain tensor"
            )
        n = self._remember(x)
        out = self._array(backend.to_numpy(x._data), "tensor", where, key)
        out.update({"class": _path(cls), "requires_grad": bool(x.requires_grad), "id": n})
        extra = [s for c in cls.__mro__ if c is not Tensor for s in c.__dict__.get("__slots__", ())]
        slots = {s: self.encode(getattr(x, s), f"{where}.{s}", key) for s in extra if hasattr(x, s)}
        if slots:
            out["slots"] = slots
        return out

    def _defaultdict(self, x, where, key):
        factory = x.default_factory
        names = {v: k for k, v in _DEFAULT_FACTORIES.items()}
        if factory is not None and factory not in names:
            raise TypeError(
                f"chainrule.save: obj{where} is a defaultdict whose default_factory is "
                f"{factory!r}: only dict, list, set, int and float factories can be saved"
            )
        items = self._container(dict(x), where, key)
        return {"defaultdict": {"factory": names.get(factory), "items": items}}

    def _object(self, x, where, key):
        """An object saved whole: its class path and its attributes (``__getstate__`` where the
        class defines one, else ``__dict__``)."""
        ref = self._ref(x)
        if ref is not None:
            return ref
        n = self._remember(x)
        cls = type(x)
        getstate = getattr(cls, "__getstate__", None)
        if getstate is not None and getstate is not getattr(object, "__getstate__", None):
            state = x.__getstate__()
        else:
            state = vars(x)
        self.in_object += 1
        try:
            body = self.encode(state, f"{where}.__dict__", key)
        finally:
            self.in_object -= 1
        return {"object": _path(cls), "id": n, "state": body}

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
        if isinstance(k, Tensor) and type(k) is not Tensor or _savable_object(k):
            return self.encode(k, where, "key")  # a Parameter keying an optimizer's state
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


def _savable_object(x) -> bool:
    """Whole objects chainrule saves: instances of its own classes and of allow-listed ones,
    and user subclasses of Module, Optimizer and LRScheduler (their load needs the allow-list)."""
    cls = type(x)
    if isinstance(x, type) or not hasattr(x, "__dict__") or callable(x) and not _is_module(x):
        return _path(cls) in _SAFE_GLOBALS
    if _is_chainrule(cls) or _path(cls) in _SAFE_GLOBALS:
        return True
    return any(_is_chainrule(c) and c.__name__ in _SAVABLE_BASES for c in cls.__mro__[1:])


_SAVABLE_BASES = {"Module", "Optimizer", "LRScheduler", "Distribution", "GradScaler"}


def _is_module(x) -> bool:
    return any(c.__name__ == "Module" and _is_chainrule(c) for c in type(x).__mro__)


def _savable_global(x) -> bool:
    """A class or module-level function referenced by name: chainrule's own or allow-listed."""
    if not (isinstance(x, type) or type(x).__name__ in ("function", "builtin_function_or_method")):
        return False
    qualname = getattr(x, "__qualname__", "")
    if "<" in qualname:  # a lambda or a function defined inside another: no importable name
        return False
    return _is_chainrule(x) or _path(x) in _SAFE_GLOBALS


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
        mode = os.stat(tmp).st_mode & 0o777
        safetensors.numpy.save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, mode)  # safetensors recreates the file owner-only (0600)
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
        weights_only: accepted for PyTorch compatibility. Loading never unpickles either way
            and rebuilds only chainrule's classes and allow-listed ones (``False`` says so
            once, with a warning).
        mmap: accepted for PyTorch compatibility (the file is read into memory).

    Returns:
        The saved object; for a safetensors file written by another program (no chainrule
        metadata), a flat dict of tensors in file order.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is truncated, corrupted, not a safetensors file, or has a
            dtype chainrule does not support; the message names the file and the key.
        UnsafeGlobalError: the file names a class or function that is neither chainrule's
            nor allow-listed; the message names it and how to allow it.
    """
    if pickle_module is not None or pickle_load_args:
        raise TypeError(
            "chainrule.load reads safetensors files and never unpickles, so pickle_module and "
            "pickle load arguments are not supported"
        )
    global _warned_weights_only
    if weights_only is False and not _warned_weights_only:
        _warned_weights_only = True
        warnings.warn(
            "chainrule.load(weights_only=False): chainrule never unpickles; it reads the same "
            "safe format, and rebuilds only chainrule's own classes and those allowed with "
            "chainrule.serialization.add_safe_globals",
            UserWarning,
            stacklevel=2,
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


_warned_weights_only = False


def get_unsafe_globals_in_checkpoint(f) -> list[str]:
    """The classes and functions a checkpoint names that ``load`` would refuse right now."""
    name, raw = _read(f)
    _, metadata = _parse_header(raw, name)
    if not metadata or FORMAT_KEY not in metadata:
        return []
    found: list[str] = []

    def walk(x):
        if isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, dict):
            for k in ("object", "global", "class"):
                path = x.get(k)
                if isinstance(path, str) and ":" in path and path not in found:
                    try:
                        _resolve(path, name)
                    except CheckpointError:
                        found.append(path.replace(":", "."))
            for v in x.values():
                walk(v)

    walk(json.loads(metadata[FORMAT_KEY]).get("object"))
    return found


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
        self.memo: dict[int, Any] = {}

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
            if tag == "tensor" and "class" in x:
                return self._tensor_subclass(x, a)
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
        if tag == "ref":
            if body not in self.memo:
                raise self.bad(f"a reference to object {body!r}, which comes nowhere before it")
            return self.memo[body]
        if tag == "object":
            return self._object(x)
        if tag == "global":
            return _resolve(body, self.name)
        if tag == "device":
            return backend.device(body)
        if tag == "size":
            return Size(body)
        if tag in ("set", "frozenset"):
            items = [self.decode(v) for v in body]
            return set(items) if tag == "set" else frozenset(items)
        if tag == "defaultdict":
            factory = _DEFAULT_FACTORIES.get(body["factory"]) if body["factory"] else None
            return defaultdict(factory, self.decode(body["items"]))
        raise self.bad(f"unknown tag {tag!r} in its structure")

    def _tensor_subclass(self, x: dict, a: np.ndarray):
        cls = _resolve(x["class"], self.name)
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise self.bad(f"{x['class']} is not a Tensor class")
        t = cls.__new__(cls)
        Tensor._init(t, _wrap(a, self.target)._data, bool(x.get("requires_grad", False)))
        self.memo[x.get("id")] = t
        for slot, v in x.get("slots", {}).items():
            setattr(t, slot, self.decode(v))
        return t

    def _object(self, x: dict):
        cls = _resolve(x["object"], self.name)
        if not isinstance(cls, type):
            raise self.bad(f"{x['object']} is not a class")
        obj = cls.__new__(cls)
        self.memo[x.get("id")] = obj  # before its attributes: they may refer back to it
        state = self.decode(x["state"])
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        return obj
