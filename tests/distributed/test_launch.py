"""`chainrule run -n N script.py` (chainrule.launch.main) starts N ranks with one BLAS thread."""

import os
import subprocess
import sys

from .mpirun import ROOT, SCRIPTS, requires_mpi

pytestmark = requires_mpi


def test_launch_runs_the_script_on_n_ranks():
    env = dict(os.environ, OMP_NUM_THREADS="8", PYTHONPATH=ROOT)
    script = os.path.join(SCRIPTS, "hello.py")
    result = subprocess.run([sys.executable, "-m", "chainrule.launch", "-n", "3", script, "--x",
                             "1"], env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.splitlines())
    assert lines == [f"rank {r} of 3 local {r} threads 1 args ['--x', '1']" for r in range(3)]
