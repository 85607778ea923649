"""Repository-wide pytest hooks (both the test suite and the doctest run load this).

SQLAlchemy 2.1 registers the source of every generated ``__init__`` in
``linecache`` and removes the entry from a weakref finalizer when the class is
collected. Doctests define mapped classes whose globals are cleared after each
example, and every doctest starts with ``linecache.checkcache()``, which on
Python < 3.13 fails with ``KeyError`` when a collection runs that finalizer
while it walks the cache. The cyclic collector therefore pauses while a
doctest runs and catches up between doctests.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from _pytest.doctest import DoctestItem


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Run a doctest with the cyclic garbage collector paused."""
    if not isinstance(item, DoctestItem) or not gc.isenabled():
        return (yield)
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()
