"""Every collective checked against NumPy on the gathered inputs, on 2 and 3 ranks."""

import pytest

from .mpirun import mpirun, passed, requires_mpi

pytestmark = requires_mpi


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_match_numpy(n):
    out = passed(mpirun(n, "collectives.py"))
    assert "PASS" in out and f"on {n} ranks" in out


def test_new_group_collectives_ranks_and_ddp_on_3_ranks():
    out = passed(mpirun(3, "groups.py"))
    assert "PASS groups on 3 ranks" in out
