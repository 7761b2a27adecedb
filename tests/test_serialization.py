"""chainrule.save / chainrule.load: round trips (rows), clear errors for bad objects and bad
files (rows), interchange with PyTorch through safetensors, and a writer killed mid-save."""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import chainrule
from chainrule.serialization import CheckpointError, load, save

torch = pytest.importorskip("torch")
import safetensors.torch  # noqa: E402


def _same(a, b) -> bool:
    """Deep equality: same types, tensors with the same dtype, shape and bits."""
    if isinstance(a, chainrule.Tensor):
        return (
            isinstance(b, chainrule.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a._data.tobytes() == b._data.tobytes()
        )
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _roundtrip(obj, tmp_path):
    path = tmp_path / "ckpt.safetensors"
    save(obj, path)
    return load(path)


# ---------------------------------------------------------------------------- round-trip rows
def _optimizer_like():
    return {
        "state": {0: {"step": 7, "exp_avg": chainrule.randn(3)}, 1: {"step": 7}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "amsgrad": False}],
    }


ROUNDTRIP = {
    "flat state dict": lambda: {"0.weight": chainrule.randn(4, 3), "0.bias": chainrule.zeros(4)},
    "ordered dict": lambda: OrderedDict([("b", chainrule.ones(2)), ("a", chainrule.ones(1))]),
    "nested checkpoint": lambda: {
        "model": {"0.weight": chainrule.randn(2, 2)},
        "optimizer": _optimizer_like(),
        "scheduler": {"last_epoch": 3, "base_lrs": [0.1], "_last_lr": [0.05], "verbose": False},
        "rng": chainrule.get_rng_state(),
        "step": 1000,
    },
    "plain values": lambda: {
        "inf": float("inf"),
        "-inf": float("-inf"),
        "nan": float("nan"),
        "none": None,
        "s": 'text with "quotes" and ü',
        "big": 2**70,
        "neg": -3,
        "flag": True,
        "f": 0.1,
        "c": 1 - 2j,
    },
    "containers": lambda: [1, (2, [3, {"x": ()}]), [], {}],
    "non-string keys": lambda: {0: "a", 1.5: "b", None: "c", True: "d", (1, "x"): "e"},
    "numpy values": lambda: {"arr": np.arange(6).reshape(2, 3), "dtype": np.dtype("float16")},
    "bare tensor": lambda: chainrule.arange(5),
    "0-d and empty": lambda: {"s": chainrule.tensor(2.5), "e": chainrule.zeros(0, 3)},
    "colliding paths": lambda: {"a.b": chainrule.ones(1), "a": {"b": chainrule.zeros(1)}},
    "same tensor twice": lambda: (lambda t: {"x": t, "y": t})(chainrule.ones(2)),
}


@pytest.mark.parametrize("name", list(ROUNDTRIP))
def test_roundtrip(name, tmp_path):
    obj = ROUNDTRIP[name]()
    assert _same(obj, _roundtrip(obj, tmp_path))


DTYPES = "float16 bfloat16 float32 float64 int8 int16 int32 int64 uint8 bool complex64 complex128"


@pytest.mark.parametrize("dtype", DTYPES.split())
def test_dtypes_roundtrip_bitwise(dtype, tmp_path):
    values = np.array([[0, 1.5, -2], [np.inf, -0.0, 3]]) if "int" not in dtype else [[0, 1, 2]]
    t = chainrule.tensor(values).to(getattr(chainrule, dtype))
    if dtype.startswith("complex"):
        t = t * (1 + 2j)
    assert _same({"t": t}, _roundtrip({"t": t}, tmp_path))


def test_numpy_scalars_become_python_numbers_and_file_objects_work():
    buf = io.BytesIO()
    save({"a": np.float32(1.5), "b": np.int64(3), "c": np.bool_(True)}, buf)
    buf.seek(0)
    assert _same(load(buf), {"a": 1.5, "b": 3, "c": True})


def test_parameters_and_non_contiguous_tensors_save_their_values(tmp_path):
    t = chainrule.randn(3, 4, requires_grad=True)
    view = t.detach().T
    got = _roundtrip({"p": t, "v": view}, tmp_path)
    assert not got["p"].requires_grad
    assert np.array_equal(got["p"].numpy(), t.detach().numpy())
    assert np.array_equal(got["v"].numpy(), view.numpy())
    got["v"].add_(1)  # loaded tensors are writable


# --------------------------------------------------------------------------- bad objects (rows)
class Custom:
    pass


UNSAVABLE = [
    ({"fn": lambda x: x}, "obj['fn']", "function"),
    ({"a": [1, {"b": Custom()}]}, "obj['a'][1]['b']", "Custom"),
    ({"opt": {"groups": [{"params": {1, 2}}]}}, "obj['opt']['groups'][0]['params']", "set"),
    ({"k": {Custom(): 1}}, "obj['k']", "key of type Custom"),
    ({"b": b"bytes"}, "obj['b']", "bytes"),
]


@pytest.mark.parametrize("obj,where,what", UNSAVABLE)
def test_unsavable_objects_name_their_path(obj, where, what, tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError) as info:
        save(obj, path)
    assert where in str(info.value) and what in str(info.value)
    assert os.listdir(tmp_path) == []  # nothing written, no temporary left behind


def test_cycles_are_refused(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(TypeError, match="contains itself"):
        save({"x": loop}, tmp_path / "x.safetensors")


# ----------------------------------------------------------------------------- bad files (rows)
def _good_bytes() -> bytes:
    buf = io.BytesIO()
    save({"weight": chainrule.arange(64.0), "step": 3}, buf)
    return buf.getvalue()


def _flip_last_byte(raw: bytes) -> bytes:
    return raw[:-1] + bytes([raw[-1] ^ 0xFF])


def _foreign_dtype(raw: bytes) -> bytes:
    buf = io.BytesIO(safetensors.numpy.save({"counts": np.arange(3, dtype=np.uint16)}))
    return buf.getvalue()


def _header_garbage(raw: bytes) -> bytes:
    n = int.from_bytes(raw[:8], "little")
    return raw[:8] + b"[" + raw[9 : 8 + n] + raw[8 + n :]


def _with_metadata(structure: str):
    def damage(raw: bytes) -> bytes:
        tensors = {"weight": np.zeros(2, np.float32)}
        return safetensors.numpy.save(tensors, metadata={"__chainrule__": structure})

    return damage


BAD_FILES = {
    "empty": (lambda raw: b"", ["0 bytes"]),
    "truncated in the length": (lambda raw: raw[:5], ["truncated"]),
    "truncated in the header": (lambda raw: raw[:40], ["truncated", "header"]),
    "truncated in the data": (lambda raw: raw[:-10], ["truncated", "'weight'"]),
    "bit flip in the data": (_flip_last_byte, ["corrupted", "'weight'", "checksum"]),
    "header not json": (_header_garbage, ["corrupted", "JSON"]),
    "text file": (lambda raw: b"just some text, not a checkpoint at all", ["not a safetensors"]),
    "unsupported dtype": (_foreign_dtype, ["'counts'", "U16", "does not support"]),
    "structure names a missing tensor": (
        _with_metadata('{"format": 1, "object": {"dict": {"w": {"tensor": "bias"}}}}'),
        ["corrupted", "'bias'", "no data"],
    ),
    "newer format": (_with_metadata('{"format": 99, "object": 1}'), ["format 99", "upgrade"]),
    "metadata not json": (_with_metadata("{oops"), ["corrupted", "metadata"]),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_give_clear_errors(name, tmp_path):
    damage, words = BAD_FILES[name]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(damage(_good_bytes()))
    with pytest.raises(CheckpointError) as info:
        load(path)
    msg = str(info.value)
    assert str(path) in msg
    for w in words:
        assert w in msg
    # no parser traceback chained underneath
    e = info.value
    assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)


def test_missing_file_and_pickle_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "nope.safetensors")
    pt = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, pt)
    with pytest.raises(CheckpointError, match="torch.save.*never unpickles"):
        load(pt)


def test_map_location(tmp_path):
    got = _roundtrip({"w": chainrule.ones(2)}, tmp_path)
    assert load(tmp_path / "ckpt.safetensors", map_location="cpu")["w"].device.type == "cpu"
    assert _same(load(tmp_path / "ckpt.safetensors", map_location={"cpu": "cpu"}), got)
    with pytest.raises(TypeError, match="map_location"):
        load(tmp_path / "ckpt.safetensors", map_location=lambda s, loc: s)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    save({"v": 1}, path)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save({"v": 2}, path)
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert load(path) == {"v": 1}


# -------------------------------------------------------------------------- crash during save
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import chainrule
    from chainrule.serialization import save
    path = sys.argv[1]
    big = np.zeros(6_000_000, np.float32)  # 24 MB per checkpoint
    step = 0
    while True:
        step += 1
        big[:] = step
        save({"step": step, "weight": chainrule.from_numpy(big)}, path)
        print(step, flush=True)
    """
)


def test_killed_writer_leaves_the_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    landed = False
    for _attempt in range(10):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout.readline().strip() != ""  # one checkpoint is complete
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                temps = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
                if temps:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    # the kill landed mid-write if the temporary file is still there
                    landed = (tmp_path / temps[0]).exists()
                    break
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        if landed:
            break
        for n in os.listdir(tmp_path):
            os.unlink(tmp_path / n)
    assert landed, "the writer was never killed mid-write"
    ckpt = load(path)
    step = ckpt["step"]
    assert step >= 1
    assert ckpt["weight"].shape == (6_000_000,)
    assert np.all(ckpt["weight"].numpy() == step)
    save({"step": step + 1}, path)  # a stale temporary file does not get in the way
    assert load(path) == {"step": step + 1}


# ---------------------------------------------------------------------- interchange with torch
def _torch_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))


def _chainrule_forward(sd, x):
    h = chainrule.relu(x @ sd["0.weight"].T + sd["0.bias"])
    return h @ sd["2.weight"].T + sd["2.bias"]


def test_chainrule_state_dict_loads_into_torch(tmp_path):
    chainrule.manual_seed(0)
    sd = {
        "0.weight": chainrule.randn(5, 3),
        "0.bias": chainrule.randn(5),
        "2.weight": chainrule.randn(2, 5),
        "2.bias": chainrule.randn(2),
    }
    path = tmp_path / "model.safetensors"
    save(sd, path)
    loaded = safetensors.torch.load_file(str(path))
    assert set(loaded) == set(sd)
    model = _torch_mlp()
    model.load_state_dict(loaded, strict=True)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    ours = _chainrule_forward(sd, chainrule.tensor(x)).numpy()
    theirs = model(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_torch_safetensors_file_loads_into_chainrule(tmp_path):
    model = _torch_mlp()
    path = tmp_path / "torch.safetensors"
    sd = model.state_dict()
    sd["extra_bf16"] = torch.randn(3).to(torch.bfloat16)
    safetensors.torch.save_file(sd, str(path))
    ours = load(path)
    assert set(ours) == set(sd)
    for k, v in sd.items():
        assert np.array_equal(np.asarray(ours[k].float()), v.float().numpy()), k
    assert ours["extra_bf16"].dtype == chainrule.bfloat16
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(
        _chainrule_forward(ours, chainrule.tensor(x)).numpy(),
        model(torch.tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


# --------------------------------------------------------------------------------- exact resume
RESUME_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import chainrule
    import chainrule.nn as nn
    import chainrule.optim as optim
    from chainrule.optim import lr_scheduler
    from chainrule.serialization import load, save

    OPTIMIZERS = {
        "adam": lambda p: optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=1e-3),
        "sgd": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        "adamw": lambda p: optim.AdamW(p, lr=3e-3),
    }
    SCHEDULERS = {
        "adam": lambda o: lr_scheduler.StepLR(o, step_size=4, gamma=0.5),
        "sgd": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=9),
        "adamw": lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=20),
    }


    def build(kind, seed):
        chainrule.manual_seed(seed)
        model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 1))
        opt = OPTIMIZERS[kind](model.parameters())
        return model, opt, SCHEDULERS[kind](opt)


    def train(model, opt, sched, start, stop):
        for step in range(start, stop):
            rng = np.random.default_rng(step)  # the data of a step depends only on the step
            x = chainrule.tensor(rng.standard_normal((8, 4)), dtype=chainrule.float32)
            y = chainrule.tensor(rng.standard_normal((8, 1)), dtype=chainrule.float32)
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
            sched.step()


    def params(model):
        return [p.detach().numpy().copy() for p in model.parameters()]


    def save_after(kind, n, path):
        model, opt, sched = build(kind, 0)
        train(model, opt, sched, 0, n)
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "rng": chainrule.get_rng_state(),
            "step": n,
        }
        save(state, path)


    def resume(kind, m, path):
        model, opt, sched = build(kind, 12345)  # other weights and RNG until the state loads
        ckpt = load(path)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        chainrule.set_rng_state(ckpt["rng"])
        train(model, opt, sched, ckpt["step"], ckpt["step"] + m)
        return params(model)


    def uninterrupted(kind, n, m):
        model, opt, sched = build(kind, 0)
        train(model, opt, sched, 0, n + m)
        return params(model)


    if __name__ == "__main__":
        kind, n, m, path, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
        if out == "-":
            save_after(kind, n, path)
        else:
            np.savez(out, *resume(kind, m, path))
    """
)


def _resume_module(tmp_path):
    import importlib.util

    script = tmp_path / "resume_script.py"
    script.write_text(RESUME_SCRIPT)
    spec = importlib.util.spec_from_file_location("resume_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, script


@pytest.mark.parametrize("kind", ["adam", "sgd", "adamw"])
def test_resume_is_exact(kind, tmp_path):
    r, _ = _resume_module(tmp_path)
    path = tmp_path / "ckpt.safetensors"
    r.save_after(kind, 7, path)
    resumed = r.resume(kind, 6, path)
    reference = r.uninterrupted(kind, 7, 6)
    assert all(np.array_equal(a, b) for a, b in zip(resumed, reference))
    r.save_after(kind, 7, path)  # and the check has teeth: without the RNG state it differs
    ckpt = load(path)
    ckpt["rng"] = chainrule.Generator().manual_seed(1).get_state()
    save(ckpt, path)
    assert not all(np.array_equal(a, b) for a, b in zip(r.resume(kind, 6, path), reference))


def test_resume_in_a_fresh_process_is_exact(tmp_path):
    r, script = _resume_module(tmp_path)
    path, out = tmp_path / "ckpt.safetensors", tmp_path / "resumed.npz"
    for target in ("-", str(out)):  # save in one process, resume in another
        subprocess.run(
            [sys.executable, str(script), "adam", "5", "8", str(path), target],
            check=True,
            timeout=120,
        )
    resumed = np.load(out)
    reference = r.uninterrupted("adam", 5, 8)
    assert all(np.array_equal(resumed[f"arr_{i}"], p) for i, p in enumerate(reference))


# ------------------------------------------------------------------------ whole-object saves
import chainrule.nn as cnn  # noqa: E402
from chainrule import serialization  # noqa: E402


class UserNet(cnn.Module):
    def __init__(self):
        super().__init__()
        self.fc = cnn.Linear(3, 2)
        self.act = chainrule.nn.functional.relu  # a chainrule function, saved by name

    def forward(self, x):
        return self.act(self.fc(x))


def _file_roundtrip(obj, tmp_path, **load_kwargs):
    path = tmp_path / "obj.safetensors"
    save(obj, path)
    return load(path, **load_kwargs)


def test_whole_model_roundtrip_keeps_classes_parameters_and_mode(tmp_path):
    model = cnn.Sequential(cnn.Linear(3, 4), cnn.Tanh(), cnn.BatchNorm1d(4))
    model(chainrule.randn(5, 3))  # running stats move
    model.eval()
    got = _file_roundtrip(model, tmp_path)
    assert type(got) is cnn.Sequential and type(got[2]) is cnn.BatchNorm1d
    assert not got.training and not got[0].training
    p = next(got.parameters())
    assert type(p) is cnn.Parameter and p.requires_grad
    x = chainrule.randn(2, 3)
    assert np.array_equal(got(x).detach().numpy(), model(x).detach().numpy())
    assert _same(got.state_dict(), model.state_dict())


def test_model_and_optimizer_share_parameters_and_resume_exactly(tmp_path):
    chainrule.manual_seed(0)
    model = cnn.Linear(3, 2)
    opt = chainrule.optim.AdamW(model.parameters(), lr=0.1)
    x = chainrule.randn(4, 3)
    for _ in range(2):
        opt.zero_grad()
        model(x).square().sum().backward()
        opt.step()
    sched = chainrule.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    got = _file_roundtrip({"model": model, "opt": opt, "sched": sched, "epoch": 2}, tmp_path)
    m2, o2, s2 = got["model"], got["opt"], got["sched"]
    assert got["epoch"] == 2 and type(o2) is chainrule.optim.AdamW
    assert o2.param_groups[0]["params"][0] is m2.weight  # one object, as before saving
    assert type(s2) is chainrule.optim.lr_scheduler.StepLR and s2.optimizer is o2
    for m, o, s in ((model, opt, sched), (m2, o2, s2)):
        for _ in range(2):
            o.zero_grad()
            m(x).square().sum().backward()
            o.step()
            s.step()
    assert o2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.025
    assert np.array_equal(m2.weight.detach().numpy(), model.weight.detach().numpy())


def test_tied_weights_stay_tied(tmp_path):
    a, b = cnn.Linear(2, 2), cnn.Linear(2, 2)
    b.weight = a.weight
    got = _file_roundtrip(cnn.Sequential(a, b), tmp_path)
    assert got[0].weight is got[1].weight


def test_user_classes_need_the_allow_list(tmp_path):
    path = tmp_path / "net.safetensors"
    save(UserNet(), path)
    assert serialization.get_unsafe_globals_in_checkpoint(path) == [f"{__name__}.UserNet"]
    with pytest.raises(serialization.UnsafeGlobalError) as info:
        load(path)
    assert "UserNet" in str(info.value) and "add_safe_globals" in str(info.value)
    with serialization.safe_globals([UserNet]):
        net = load(path)
    assert type(net) is UserNet and net.act is chainrule.nn.functional.relu
    assert UserNet not in serialization.get_safe_globals()  # the block's allowance ended
    serialization.add_safe_globals([UserNet])
    try:
        assert type(load(path)) is UserNet
    finally:
        serialization.clear_safe_globals()


def test_a_crafted_file_cannot_name_an_outside_function(tmp_path):
    structure = {"object": "os:system", "id": 0, "state": {"dict": {}}}
    header = {"format": 2, "object": structure, "crc32": {}}
    path = tmp_path / "evil.safetensors"
    safetensors.numpy.save_file(
        {"x": np.zeros(1)}, path, metadata={"__chainrule__": __import__("json").dumps(header)}
    )
    with pytest.raises(serialization.UnsafeGlobalError, match="os.system.*add_safe_globals"):
        load(path)
    before = set(sys.modules)
    structure["object"] = "antigravity:fly"  # never imported: a module import could run code
    header["object"] = structure
    safetensors.numpy.save_file(
        {"x": np.zeros(1)}, path, metadata={"__chainrule__": __import__("json").dumps(header)}
    )
    with pytest.raises(serialization.UnsafeGlobalError):
        load(path)
    assert "antigravity" not in sys.modules and set(sys.modules) == before


def test_weights_only_false_warns_once_and_reads_the_safe_format(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "_warned_weights_only", False)
    save({"w": chainrule.ones(2)}, tmp_path / "w.safetensors")
    with pytest.warns(UserWarning, match="never unpickles"):
        load(tmp_path / "w.safetensors", weights_only=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(tmp_path / "w.safetensors", weights_only=False)


def test_whole_objects_through_an_open_file_and_plain_files_stay_format_1(tmp_path):
    buf = io.BytesIO()
    save(cnn.Linear(2, 3), buf)
    buf.seek(0)
    assert type(load(buf)) is cnn.Linear
    save({"w": chainrule.ones(1)}, tmp_path / "plain.safetensors")
    with open(tmp_path / "plain.safetensors", "rb") as f:
        meta = safetensors.safe_open(f.name, "np").metadata()
    assert __import__("json").loads(meta["__chainrule__"])["format"] == 1


def test_saved_file_gets_the_usual_permissions(tmp_path):
    """A checkpoint is readable as any new file is (0o666 less the umask), not owner-only."""
    import os

    umask = os.umask(0o022)
    try:
        path = tmp_path / "ckpt.safetensors"
        chainrule.save({"w": chainrule.ones(2)}, str(path))
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)
