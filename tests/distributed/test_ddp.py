"""DistributedDataParallel on 2 and 3 ranks: equal to one process on the global batch, the
errors that name parameters, abort on a failing rank, checkpoint and resume on other counts."""

import time

import pytest

from .mpirun import mpirun, passed, requires_mpi

pytestmark = requires_mpi


@pytest.mark.parametrize("n", [2, 3])
def test_ddp_equals_single_process_on_the_concatenated_batch(n):
    out = passed(mpirun(n, "ddp_train.py"))
    for variant in ("plain", "buckets", "no_sync", "unused", "allreduce_hook", "fp16", "bf16"):
        assert f"{variant}: max diff" in out
    assert "PASS" in out


def test_parameter_without_gradient_is_named():
    out = passed(mpirun(2, "unused.py"))
    assert "'spare.weight', 'spare.bias'" in out
    assert "find_unused_parameters=True" in out


def test_different_models_are_reported():
    out = passed(mpirun(3, "mismatch.py"))
    assert "parameter 'head.weight' is (4, 16) float64 on rank 1 but (3, 16)" in out
    assert "rank 1 lacks parameter 'fc2.bias'" in out
    assert "rank 2 has parameter 'spare.weight'" in out


def test_a_raising_rank_ends_the_job_within_10_seconds():
    start = time.monotonic()
    result = mpirun(2, "crash.py", timeout=30)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert "rank 1 of 2 raised" in result.stderr
    assert "ValueError: boom on rank 1" in result.stderr


@pytest.mark.parametrize("before, after", [(2, 3), (3, 2)])
def test_checkpoint_from_rank_0_resumes_on_another_number_of_ranks(tmp_path, before, after):
    path = str(tmp_path / "ckpt.safetensors")
    passed(mpirun(before, "checkpoint.py", "save", path, "4"))
    out = passed(mpirun(after, "checkpoint.py", "resume", path, "4", "6"))
    assert f"PASS resumed on {after} ranks" in out
