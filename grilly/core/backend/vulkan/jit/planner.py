"""Memory planning: place a program's values in one arena so that values whose lifetimes overlap never share
bytes, while a value that is dead by the time another is born can hand it its range.

Lifetimes are inclusive command ranges ``[first, last]``. A greedy linear scan in birth order reuses freed
ranges (same size first, else the smallest larger one) and grows the arena otherwise.

>>> plan([(100, 0, 1), (100, 2, 3), (300, 1, 2)])
([0, 0, 256], 768)
"""

from __future__ import annotations

import bisect
import heapq

ALIGN = 256


def _round(n: int) -> int:
    return max((n + ALIGN - 1) // ALIGN * ALIGN, ALIGN)


def plan(intervals: list[tuple[int, int, int]]) -> tuple[list[int], int]:
    """Offsets for ``(nbytes, first, last)`` intervals, and the arena size."""
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][1], -intervals[i][0]))
    offsets = [0] * len(intervals)
    active: list[tuple[int, int]] = []  # (last, index) of placed values
    free: list[tuple[int, int]] = []  # (size, offset) of released ranges, sorted
    chunk = [0] * len(intervals)  # the size of the range each value holds
    top = 0
    for i in order:
        nbytes, first, _ = intervals[i]
        while active and active[0][0] < first:
            _, j = heapq.heappop(active)
            bisect.insort(free, (chunk[j], offsets[j]))
        need = _round(nbytes)
        k = bisect.bisect_left(free, (need, -1))
        if k < len(free):
            chunk[i], offsets[i] = free.pop(k)
        else:
            chunk[i], offsets[i] = need, top
            top += need
        heapq.heappush(active, (intervals[i][2], i))
    return offsets, top


def overlapping(intervals, offsets) -> list[tuple[int, int]]:
    """Pairs of values that are live at the same time and share bytes (empty for a correct plan).

    >>> overlapping([(100, 0, 5), (100, 3, 8)], [0, 0])
    [(0, 1)]
    """
    bad = []
    for a in range(len(intervals)):
        for b in range(a + 1, len(intervals)):
            (na, fa, la), (nb, fb, lb) = intervals[a], intervals[b]
            live = fa <= lb and fb <= la
            share = offsets[a] < offsets[b] + max(nb, 1) and offsets[b] < offsets[a] + max(na, 1)
            if live and share:
                bad.append((a, b))
    return bad
