"""The eval scripts' tune/report split: deterministic, disjoint, about half each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from eval.splits import in_split, split_of


def test_the_split_is_a_disjoint_cover_of_about_half_each() -> None:
    ids = [f"article-{k}" for k in range(2000)]
    tune = {i for i in ids if in_split(i, "tune")}
    report = {i for i in ids if in_split(i, "report")}
    assert tune.isdisjoint(report) and tune | report == set(ids)
    assert all(in_split(i, "all") for i in ids)
    assert 900 < len(tune) < 1100


def test_the_split_does_not_depend_on_the_process() -> None:
    # Python's own hash() of a str changes with every process (PYTHONHASHSEED): the split must not.
    code = "from eval.splits import split_of; print(''.join(split_of(f'doc{k}')[0] for k in range(64)))"
    root = Path(__file__).resolve().parents[1]
    runs = {subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert runs == {"".join(split_of(f"doc{k}")[0] for k in range(64)) + "\n"}
