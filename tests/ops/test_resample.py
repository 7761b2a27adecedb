"""Op-table rows: F.interpolate (nearest, nearest-exact, linear, bilinear, trilinear),
pixel_shuffle/unshuffle and cosine_similarity; layer rows for Upsample, PixelShuffle,
CosineSimilarity and PairwiseDistance."""

import pytest

import chainrule
from tests.nn.modcheck import ModuleCase, run_module_case
from tests.nn.modcheck import params as module_params
from tests.opcheck import OpCase, params, run_case


def _interp(**kw):
    return lambda m, x: m.nn.functional.interpolate(x, **kw)


CASES = [
    OpCase("nearest_x2", _interp(scale_factor=2), shapes=[(1, 2, 3, 4)]),
    OpCase("nearest_size", _interp(size=(5, 3)), shapes=[(2, 1, 3, 4)]),
    OpCase("nearest_frac", _interp(scale_factor=1.5), shapes=[(1, 1, 3, 5)]),
    OpCase("nearest_down", _interp(scale_factor=0.5), shapes=[(1, 2, 6, 4)]),
    OpCase("nearest_exact", _interp(size=(7, 2), mode="nearest-exact"), shapes=[(1, 1, 3, 5)]),
    OpCase("nearest_1d", _interp(size=7), shapes=[(2, 3, 4)]),
    OpCase("linear_1d", _interp(scale_factor=1.7, mode="linear"), shapes=[(2, 2, 5)]),
    OpCase(
        "linear_1d_corners", _interp(size=9, mode="linear", align_corners=True), shapes=[(1, 2, 4)]
    ),
    OpCase("bilinear_up", _interp(size=(5, 7), mode="bilinear"), shapes=[(1, 2, 3, 4)]),
    OpCase(
        "bilinear_corners",
        _interp(size=(5, 7), mode="bilinear", align_corners=True),
        shapes=[(2, 1, 3, 4)],
    ),
    OpCase(
        "bilinear_scale", _interp(scale_factor=(1.5, 0.75), mode="bilinear"), shapes=[(1, 1, 4, 4)]
    ),
    OpCase("bilinear_down", _interp(size=(2, 3), mode="bilinear"), shapes=[(1, 1, 5, 7)]),
    OpCase(
        "bilinear_recompute",
        _interp(scale_factor=2.5, mode="bilinear", recompute_scale_factor=True),
        shapes=[(1, 1, 3, 2)],
    ),
    OpCase("trilinear", _interp(size=(3, 4, 2), mode="trilinear"), shapes=[(1, 1, 2, 3, 3)]),
    OpCase(
        "pixel_shuffle",
        lambda m, x: m.nn.functional.pixel_shuffle(x, 2),
        shapes=[(2, 8, 2, 3), (4, 3, 2)],
    ),
    OpCase(
        "pixel_unshuffle", lambda m, x: m.nn.functional.pixel_unshuffle(x, 2), shapes=[(1, 2, 4, 6)]
    ),
    OpCase(
        "cosine_similarity",
        lambda m, a, b: m.nn.functional.cosine_similarity(a, b),
        shapes=[((3, 4), (3, 4)), ((2, 4, 3), (1, 4, 1))],
    ),
    OpCase(
        "cosine_similarity_dim",
        lambda m, a, b: m.nn.functional.cosine_similarity(a, b, -1),
        shapes=[((3, 5), (5,))],
    ),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_resample(case, sig, device):
    run_case(case, sig, device)


MODULES = [
    ModuleCase("upsample_nearest", lambda nn: nn.Upsample(scale_factor=2), inputs=[(1, 2, 3, 3)]),
    ModuleCase(
        "upsample_bilinear",
        lambda nn: nn.Upsample(size=(4, 5), mode="bilinear", align_corners=False),
        inputs=[(2, 1, 3, 3)],
    ),
    ModuleCase(
        "upsampling_bilinear2d",
        lambda nn: nn.UpsamplingBilinear2d(scale_factor=2),
        inputs=[(1, 1, 2, 3)],
    ),
    ModuleCase(
        "upsampling_nearest2d",
        lambda nn: nn.UpsamplingNearest2d(size=(3, 4)),
        inputs=[(1, 1, 2, 3)],
    ),
    ModuleCase("pixel_shuffle", lambda nn: nn.PixelShuffle(3), inputs=[(1, 9, 2, 2)]),
    ModuleCase("pixel_unshuffle", lambda nn: nn.PixelUnshuffle(2), inputs=[(1, 1, 4, 2)]),
    ModuleCase("cosine_similarity", lambda nn: nn.CosineSimilarity(dim=0), inputs=[(4, 2), (4, 2)]),
    ModuleCase(
        "pairwise_distance",
        lambda nn: nn.PairwiseDistance(p=1.5, keepdim=True),
        inputs=[(3, 4), (3, 4)],
    ),
]


@pytest.mark.parametrize("case,dtype,mode", module_params(MODULES))
def test_resample_modules(case, dtype, mode):
    run_module_case(case, dtype, mode)


def test_reprs_match_torch():
    nn = chainrule.nn
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"


def test_interpolate_errors():
    F = chainrule.nn.functional
    x = chainrule.ones(1, 1, 2, 2)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="bicubic mode needs 4D"):
        F.interpolate(chainrule.ones(1, 1, 3), scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="align_corners option"):
        F.interpolate(x, scale_factor=2, mode="area", align_corners=False)
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(x, scale_factor=2, mode="bicubic", antialias=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D"):
        F.interpolate(chainrule.ones(1, 1, 3), scale_factor=2, mode="bilinear")
