"""Every primitive against an independent NumPy formula: each table row, each dtype it supports, scalar, empty
and odd shapes (and a many-workgroup size on Vulkan), eager and under ``grilly.jit`` (the same test)."""

from __future__ import annotations

import cases_elementwise
import cases_misc
import cases_reduce
import cases_structural
import numpy as np
import pytest
from core_helpers import check_case

import grilly

TABLES = (cases_elementwise, cases_structural, cases_reduce, cases_misc)
ROWS = [(c, np.dtype(d)) for t in TABLES for c in t.CASES for d in c.dtypes]
WRAPS = [pytest.param(lambda f: f, id="eager"), pytest.param(grilly.jit, id="jit")]


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("case,dtype", ROWS, ids=[f"{c.name}-{d}" for c, d in ROWS])
def test_primitive_matches_numpy(case, dtype, wrap, rng):
    check_case(case, dtype, wrap, rng)
