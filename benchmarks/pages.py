"""The hand-written page read every comparison measures against.

Kept apart from ``cases.py`` so a process can run it without importing
sqlmodel_crud_utils (case 0, ``import_cost.py``).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from .models import BenchHero

AGE, TEXT, PAGE, SIZE = 30, "man", 3, 20


def hand_page() -> Any:
    """``age > 30 AND name ILIKE '%man%'``, newest first, page 3 of 20."""
    return (
        select(BenchHero)
        .where(BenchHero.age > AGE, col(BenchHero.name).icontains(TEXT, autoescape=True))
        .order_by(col(BenchHero.age).desc())
        .limit(SIZE)
        .offset((PAGE - 1) * SIZE)
    )
