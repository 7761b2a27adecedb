"""bench/memory.py: its measurements see a step's arrays, and its section lands where
bench/run.py keeps it."""

import mmap
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
memory = pytest.importorskip("memory")


def test_traced_peak_counts_a_steps_temporary_arrays():
    def step():
        a = np.ones(1 << 18, np.float32)  # 1 MiB, freed before the step returns
        return float(a.sum())

    assert memory._traced_numpy(step) >= 1 << 20


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_rss_peak_sees_memory_freed_within_the_step():
    def step():
        # fresh pages from the OS (a NumPy array might reuse heap memory that is resident
        # already: chainrule asks glibc to keep freed arrays), touched, then unmapped
        with mmap.mmap(-1, 16 << 20) as pages:
            for offset in range(0, 16 << 20, 4096):
                pages[offset] = 1
            return sum(pages[::4096])

    peak, value = memory._rss_step(step)
    assert value == 4096 and peak >= 12 << 20


def test_section_goes_below_the_notes_marker_and_is_replaced_on_rerun(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# table\n\n{memory.NOTES_MARKER}\n\n## notes\nkept\n")
    memory.write_section("first\n", path)
    memory.write_section("second\n", path)
    text = path.read_text()
    assert text.count(memory.START) == 1 and "first" not in text
    head, tail = text.split(memory.NOTES_MARKER)
    assert memory.START not in head
    assert "second" in tail and tail.index(memory.END) < tail.index("## notes")
    assert "kept" in tail
