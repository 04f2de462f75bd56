"""How many CPUs a grade may use: a container's CPU quota caps what the host's cores suggest, so a
batch's default --jobs and a one-off grade's reference children do not outnumber them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader import cpus

AFFINITY = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _v2(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cpu.max").write_text(text)
    return root


def _v1(root: Path, quota: str, period: str) -> Path:
    (root / "cpu").mkdir(parents=True)
    (root / "cpu" / "cpu.cfs_quota_us").write_text(quota)
    (root / "cpu" / "cpu.cfs_period_us").write_text(period)
    return root


def test_a_quota_of_one_cpu_caps_the_count_at_one_on_either_cgroup_version(tmp_path: Path) -> None:
    assert cpus.usable(_v2(tmp_path / "v2", "100000 100000\n")) == 1
    assert cpus.usable(_v1(tmp_path / "v1", "50000\n", "100000\n")) == 1  # half a CPU is still one process


@pytest.mark.skipif(AFFINITY < 2, reason="this host gives the process a single CPU")
def test_a_fractional_quota_is_rounded_up_and_never_exceeds_the_affinity(tmp_path: Path) -> None:
    assert cpus.usable(_v2(tmp_path / "a", "150000 100000")) == 2
    assert cpus.usable(_v2(tmp_path / "b", f"{100000 * (AFFINITY + 8)} 100000")) == AFFINITY


def test_no_quota_leaves_the_affinity(tmp_path: Path) -> None:
    assert cpus.usable(_v2(tmp_path / "max", "max 100000\n")) == AFFINITY
    assert cpus.usable(_v1(tmp_path / "unlimited", "-1\n", "100000\n")) == AFFINITY
    assert cpus.usable(tmp_path / "no-cgroup-files") == AFFINITY
    assert cpus.usable(_v2(tmp_path / "garbled", "")) == AFFINITY
