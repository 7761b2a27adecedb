"""torch.finfo / torch.iinfo limits, against torch's."""

import pytest

import chainrule

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_finfo_matches_torch(name):
    ours, theirs = chainrule.finfo(getattr(chainrule, name)), torch.finfo(getattr(torch, name))
    for attr in ("eps", "max", "min", "tiny", "bits"):
        assert float(getattr(ours, attr)) == float(getattr(theirs, attr)), attr
    # resolution is 10**-digits, stored in the dtype itself here (a Python float in torch)
    assert float(ours.resolution) == pytest.approx(theirs.resolution, rel=1e-3)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    ours, theirs = chainrule.iinfo(getattr(chainrule, name)), torch.iinfo(getattr(torch, name))
    assert (ours.min, ours.max, ours.bits) == (theirs.min, theirs.max, theirs.bits)


def test_finfo_of_an_integer_dtype_says_so():
    with pytest.raises(TypeError, match="floating point"):
        chainrule.finfo(chainrule.int32)
