"""SyncBatchNorm on 2 and 3 ranks with uneven batches equals BatchNorm on the global batch."""

import pytest

from .mpirun import mpirun, passed, requires_mpi

pytestmark = requires_mpi


@pytest.mark.parametrize("n", [2, 3])
def test_sync_batchnorm_matches_batchnorm_on_the_global_batch(n):
    assert f"PASS on {n} ranks" in passed(mpirun(n, "sync_bn.py"))
