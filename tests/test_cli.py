"""The `chainrule` command: help for every command, `python -m chainrule`, the console script."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule
from chainrule.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: chainrule" in out and "demo" in out and "explain" in out


@pytest.mark.parametrize(
    "argv, words",
    [
        ([], ["demo", "explain", "chainrule demo"]),
        (["demo"], ["--epochs", "--batch-size", "--lr", "--optimizer", "adamw", "--seed",
                    "--out", "--device", "--dataset", "--data", "--resume", "(default: 8)"]),
        (["explain"], ["neuron", "vanishing"]),
        (["explain", "neuron"], ["--x", "--w", "--y", "--lr", "(default: 0.5)"]),
        (["explain", "vanishing"], ["--depth", "--width", "--out", "vanishing.png"]),
    ],
)  # fmt: skip
def test_every_help_explains_its_options(capsys, argv, words):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in words:
        assert word in out, word
    assert "limit-batches" not in out and "stop-after" not in out  # test-only options stay hidden


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"chainrule {chainrule.__version__}"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--epochs", "0"], "expected a positive integer, got 0"),
        (["demo", "--optimizer", "lion"], "invalid choice: 'lion'"),
        (["explain"], "required: TOPIC"),
        (["explain", "gravity"], "invalid choice: 'gravity'"),
    ],
)
def test_bad_arguments_are_explained(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_data_without_mnist_is_refused():
    with pytest.raises(SystemExit, match="--data DIR is for --dataset mnist"):
        main(["demo", "--data", "somewhere"])


def test_python_dash_m_chainrule():
    out = subprocess.run(
        [sys.executable, "-m", "chainrule", "explain", "neuron"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "w <- w - lr * dL/dw = 0.5 - 0.1 * (-12) = 1.7" in out.stdout


def test_console_script_is_installed():
    exe = shutil.which("chainrule", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("chainrule is not installed in this environment (pip install -e .)")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "usage: chainrule" in out.stdout


def test_run_starts_ranks_through_mpiexec(tmp_path):
    pytest.importorskip("mpi4py")
    from chainrule.launch import find_mpiexec

    if find_mpiexec() is None:
        pytest.skip("no mpiexec")
    script = tmp_path / "hello.py"
    # each rank writes a file of its own: the ranks' stdout is merged by mpiexec, which may
    # interleave two lines written at the same moment
    script.write_text(
        "import sys\n"
        "import chainrule.distributed as dist\n"
        "dist.init_process_group('mpi')\n"
        "r, n = dist.get_rank(), dist.get_world_size()\n"
        "open(f'{sys.argv[1]}/rank{r}.txt', 'w').write(f'rank {r} of {n}')\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "chainrule", "run", "-n", "2", str(script), str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    ranks = sorted(p.read_text() for p in tmp_path.glob("rank*.txt"))
    assert ranks == ["rank 0 of 2", "rank 1 of 2"], out.stdout + out.stderr
