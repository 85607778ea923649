"""Benchmarks of sqlmodel-crud-utils against hand-written SQLAlchemy.

Run with ``make bench`` or ``python -m benchmarks [--quick]``; see
``docs/performance.md``. Every timed row is a paired ratio to a baseline
measured in the same run. Add a case with the `case` decorator in
``benchmarks/cases.py``.
"""
