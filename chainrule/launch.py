"""``chainrule run -n 4 train.py``: start a script on N ranks through MPICH's ``mpiexec``.

A thin wrapper: it finds the ``mpiexec`` that the MPICH wheel installed next to this Python
(or the one on PATH), sets one BLAS/OpenMP thread per rank (N ranks with N threads each on N
cores would oversubscribe the cores N times), and runs
``mpiexec -n N [-f HOSTFILE] -genv OMP_NUM_THREADS 1 ... python train.py ARGS``.
Plain ``mpiexec -n 4 python train.py`` works just as well; then set the thread variables
yourself. ``python -m chainrule.launch -n 4 train.py`` is the same command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence

__all__ = ["THREAD_VARIABLES", "build_command", "build_parser", "find_mpiexec", "main", "run",
           "run_from_args"]  # fmt: skip

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def find_mpiexec() -> str | None:
    """The MPICH wheel's mpiexec (beside this interpreter), else the first mpiexec on PATH."""
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(folder, "mpiexec")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("mpiexec")


def build_command(
    nprocs: int,
    script: str,
    args: Sequence[str] = (),
    *,
    hostfile: str | None = None,
    threads_per_rank: int = 1,
    mpiexec: str | None = None,
    python: str | None = None,
    module: bool = False,
) -> list[str]:
    """The mpiexec command line that ``run`` executes (module: ``script`` is a module name)."""
    mpiexec = mpiexec or find_mpiexec()
    if mpiexec is None:
        raise RuntimeError(
            "no mpiexec found: install the `distributed` extra (pip install "
            "'chainrule[distributed]'), which brings MPICH's mpiexec, or put an MPI's mpiexec "
            "on PATH"
        )
    cmd = [mpiexec, "-n", str(nprocs)]
    if hostfile:
        cmd += ["-f", hostfile]
    for name in THREAD_VARIABLES:
        cmd += ["-genv", name, str(threads_per_rank)]
    cmd += [python or sys.executable]
    cmd += ["-m", script] if module else [script]
    return cmd + list(args)


def run(
    nprocs: int,
    script: str,
    args: Sequence[str] = (),
    *,
    hostfile: str | None = None,
    threads_per_rank: int = 1,
    module: bool = False,
) -> int:
    """Run ``script`` (with ``args``) on ``nprocs`` ranks; returns mpiexec's exit status
    (non-zero when any rank failed)."""
    cmd = build_command(nprocs, script, args, hostfile=hostfile,
                        threads_per_rank=threads_per_rank, module=module)  # fmt: skip
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads_per_rank)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:  # mpiexec forwards the interrupt to the ranks and ends them
        return 130


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The arguments of ``chainrule run`` (added to ``parser`` when given: a sub-command)."""
    if parser is None:
        parser = argparse.ArgumentParser(
            prog="chainrule run",
            description="Run a training script on N processes (MPI ranks) through mpiexec.",
        )
    parser.add_argument("-n", "--nproc", type=int, required=True, metavar="N",
                        help="number of ranks (processes)")  # fmt: skip
    parser.add_argument("-f", "--hostfile", default=None, metavar="FILE",
                        help="MPICH hostfile, one `host[:slots]` per line")  # fmt: skip
    parser.add_argument("--threads-per-rank", type=int, default=1, metavar="T",
                        help="BLAS/OpenMP threads per rank (default 1)")  # fmt: skip
    parser.add_argument("-m", dest="module", action="store_true",
                        help="run SCRIPT as a module (python -m SCRIPT)")  # fmt: skip
    parser.add_argument("script", help="the Python script (or module with -m)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    return parser


def run_from_args(ns: argparse.Namespace) -> int:
    """Run what ``build_parser`` parsed (the ``func`` of the ``chainrule run`` sub-command)."""
    if ns.nproc < 1:
        raise SystemExit("chainrule run: -n must be at least 1")
    return run(ns.nproc, ns.script, ns.args, hostfile=ns.hostfile,
               threads_per_rank=ns.threads_per_rank, module=ns.module)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chainrule.launch -n N script.py ARGS``: parse argv and run. Returns the exit
    status for ``sys.exit``."""
    return run_from_args(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
