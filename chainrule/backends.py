"""``chainrule.backends``: the switches scripts flip (cudnn, TF32, mps, opt_einsum).

They are plain settable flags: chainrule runs NumPy/CuPy code that has no cuDNN autotuner and no
TF32 path, so they change nothing; they exist so that ``torch.backends.cudnn.benchmark = True``
and friends run, and read back what was set.
"""

from __future__ import annotations

from types import SimpleNamespace

from . import backend

__all__ = ["cpu", "cuda", "cudnn", "mps", "mkldnn", "opt_einsum"]


class _Flags(SimpleNamespace):
    """A namespace of flags with the given defaults; unknown names are set like any attribute."""

    def __repr__(self):
        return f"<chainrule.backends flags {vars(self)}>"


class _Matmul(_Flags):
    pass


def _cudnn_available() -> bool:
    return backend.cuda_available()


def _false() -> bool:
    return False


def _true() -> bool:
    return True


def _cuda_built() -> bool:
    return backend.cuda_available()


def _no_version():
    return None


cudnn = _Flags(
    enabled=True,
    benchmark=False,
    deterministic=False,
    allow_tf32=True,
    is_available=_cudnn_available,
    version=_no_version,
)
cuda = _Flags(
    matmul=_Matmul(
        allow_tf32=False,
        allow_fp16_reduced_precision_reduction=True,
        allow_bf16_reduced_precision_reduction=True,
    ),  # fmt: skip
    is_built=_cuda_built,
    is_flash_attention_available=_false,
    flash_sdp_enabled=_false,
    mem_efficient_sdp_enabled=_false,
    math_sdp_enabled=_true,
)
mps = _Flags(is_available=_false, is_built=_false)
mkldnn = _Flags(enabled=True, is_available=_false)
opt_einsum = _Flags(enabled=True, strategy="auto", is_available=_false)


def _capability() -> str:
    return "DEFAULT"


cpu = _Flags(get_cpu_capability=_capability)
