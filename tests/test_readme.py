"""The README's example runs as written, and its two commands are the ones CI relies on."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert re.match(r"loss \d+\.\d{4}", out.stdout)
    assert (tmp_path / "model.safetensors").exists()


def test_readme_names_the_demo_and_the_test_command():
    text = README.read_text()
    assert "chainrule demo" in text
    assert 'pip install -e ".[dev]" && .venv/bin/python -m pytest -q' in text
