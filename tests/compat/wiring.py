"""What ``chainrule/__init__.py`` and ``chainrule/ops/__init__.py`` must export for issue 10.

``install()`` adds any of these that are missing (so that the idiom table runs before the lead
wires them); ``missing()`` lists them, and test_idioms.py::test_chainrule_exports_the_namespaces
fails until the package itself provides every one.
"""

import chainrule
from chainrule import (
    _runtime,
    accelerator,
    amp,
    backends,
    cuda,
    distributions,
    fft,
    linalg,
    onnx,
    special,
)
from chainrule.ops import tensor_methods

MODULES = {
    "accelerator": accelerator,
    "amp": amp,
    "backends": backends,
    "cuda": cuda,
    "distributions": distributions,
    "fft": fft,
    "linalg": linalg,
    "onnx": onnx,
    "special": special,
}
TOP_LEVEL = {name: getattr(_runtime, name) for name in _runtime.__all__}
TOP_LEVEL.update({name: getattr(tensor_methods, name) for name in tensor_methods.__all__})
TOP_LEVEL["autocast"] = amp.autocast
for _name in ("is_autocast_enabled", "get_autocast_dtype", "set_autocast_enabled",
              "set_autocast_dtype", "is_autocast_cpu_enabled", "get_autocast_cpu_dtype",
              "get_autocast_gpu_dtype", "clear_autocast_cache"):  # fmt: skip
    TOP_LEVEL[_name] = getattr(amp, _name)
TOP_LEVEL["lu_unpack"] = linalg.lu_unpack
METHODS = ["new_zeros", "new_ones", "new_full", "new_empty", "new_tensor", "t_", "real", "imag"]


def missing() -> list[str]:
    names = [n for n in {**MODULES, **TOP_LEVEL} if n not in vars(chainrule)]
    return names + [f"Tensor.{n}" for n in METHODS if not hasattr(chainrule.Tensor, n)]


def install() -> None:
    for name, value in {**MODULES, **TOP_LEVEL}.items():
        if name not in vars(chainrule):
            setattr(chainrule, name, value)
    if tensor_methods not in chainrule.ops.FAMILIES:
        for entry in tensor_methods.METHODS:
            name, fn = (entry, getattr(tensor_methods, entry)) if isinstance(entry, str) else entry
            if not hasattr(chainrule.Tensor, name):
                setattr(chainrule.Tensor, name, fn)
