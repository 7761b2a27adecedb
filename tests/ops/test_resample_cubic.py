"""Op-table rows for F.interpolate's bicubic (A = -0.75, with and without align_corners, up and
down, taps clamped at the border) and area (adaptive average pooling, 1-D to 3-D) modes:
gradcheck, gradgradcheck, and values and gradients against torch."""

import pytest

from tests.opcheck import OpCase, params, run_case


def _interp(**kw):
    return lambda m, x: m.nn.functional.interpolate(x, **kw)


CASES = [
    OpCase("bicubic_up", _interp(scale_factor=2, mode="bicubic"), shapes=[(1, 2, 3, 4)]),
    OpCase("bicubic_size", _interp(size=(5, 3), mode="bicubic"), shapes=[(2, 1, 4, 4)]),
    OpCase(
        "bicubic_align_corners",
        _interp(size=(6, 5), mode="bicubic", align_corners=True),
        shapes=[(1, 1, 3, 4)],
    ),
    OpCase("bicubic_down", _interp(scale_factor=0.6, mode="bicubic"), shapes=[(1, 2, 5, 7)]),
    OpCase(
        "bicubic_recompute",
        _interp(scale_factor=1.7, mode="bicubic", recompute_scale_factor=True),
        shapes=[(1, 1, 3, 3)],
    ),
    OpCase("area_down", _interp(size=(2, 3), mode="area"), shapes=[(1, 2, 5, 7)]),
    OpCase("area_up", _interp(scale_factor=2, mode="area"), shapes=[(1, 1, 2, 3)]),
    OpCase("area_1d", _interp(size=4, mode="area"), shapes=[(2, 2, 7)]),
    OpCase("area_3d", _interp(size=(2, 2, 3), mode="area"), shapes=[(1, 1, 3, 4, 5)]),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_interpolate_op(case, sig, device):
    run_case(case, sig, device)
