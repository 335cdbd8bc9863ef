"""The runnable examples in the docstrings of grilly.functional, grilly.nn, grilly.optim and the checkpoint
module run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import grilly.functional
import grilly.nn
import grilly.optim


def _modules():
    names = ["grilly.utils.checkpoint"]
    for pkg in (grilly.functional, grilly.nn, grilly.optim):
        names.append(pkg.__name__)
        names += [f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
