"""The runnable examples in the docstrings of every grilly module run and print what they say, on the default
backend."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import grilly


def _modules():
    return sorted(m.name for m in pkgutil.walk_packages(grilly.__path__, "grilly."))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # a module of an optional extra that is not installed
        pytest.skip(f"{name}: {e}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
