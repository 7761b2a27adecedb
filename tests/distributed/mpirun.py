"""Run a script of tests/distributed/scripts on N MPI ranks, as CI does (2 cores, N = 2, 3)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from chainrule.launch import THREAD_VARIABLES, find_mpiexec

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPIEXEC = find_mpiexec()
HAVE_MPI = MPIEXEC is not None and importlib.util.find_spec("mpi4py") is not None

requires_mpi = pytest.mark.skipif(
    not HAVE_MPI, reason="needs mpi4py and mpiexec: pip install 'chainrule[distributed]'"
)


def mpirun(n: int, script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """mpiexec -n N python scripts/SCRIPT ARGS, one BLAS thread per rank; output captured."""
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = "1"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [MPIEXEC, "-n", str(n), sys.executable, os.path.join(SCRIPTS, script), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def passed(result: subprocess.CompletedProcess) -> str:
    """The stdout of a run that must have succeeded (else fail with both streams)."""
    if result.returncode != 0:
        pytest.fail(
            f"exit status {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n"
            f"{result.stderr}"
        )
    return result.stdout
