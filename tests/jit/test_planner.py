"""Memory planning: values live at the same time never share bytes; dead values hand their ranges on."""

from __future__ import annotations

import numpy as np
import pytest

from grilly.core.backend.vulkan.jit.planner import ALIGN, overlapping, plan


@pytest.mark.parametrize("seed", range(6))
def test_random_lifetimes_never_alias(seed):
    rng = np.random.default_rng(seed)
    n = 200
    firsts = rng.integers(-1, 150, n)
    intervals = [(int(rng.choice([0, 4, 100, 256, 1000, 4096])), int(f), int(f + rng.integers(0, 40)))
                 for f in firsts]
    offsets, total = plan(intervals)
    assert not overlapping(intervals, offsets)
    assert all(o % ALIGN == 0 for o in offsets)
    assert all(o + max(nb, 1) <= total for (nb, _, _), o in zip(intervals, offsets))


def test_a_chain_reuses_two_ranges():
    intervals = [(1000, t, t + 1) for t in range(50)]  # each value is read by the next command only
    offsets, total = plan(intervals)
    assert not overlapping(intervals, offsets)
    assert total == 2 * 1024


def test_overlapping_reports_a_bad_plan():
    intervals = [(100, 0, 5), (100, 3, 8)]
    assert overlapping(intervals, [0, 0]) == [(0, 1)]
    assert overlapping(intervals, [0, 256]) == []
