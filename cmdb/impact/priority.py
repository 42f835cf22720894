"""Priority from impact level and urgency; the matrix is configuration."""

from __future__ import annotations

from collections.abc import Mapping

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


class PriorityMatrix:
    """Maps (impact level 1-4, urgency 1-3) to a priority P1-P5.

    The default is P(impact + urgency - 1), clamped to P1-P5; ``overrides``
    replaces single cells, keyed "LEVEL,URGENCY" (e.g. {"2,1": "P1"}).
    """

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._cells: dict[tuple[int, int], str] = {
            (level, urgency): PRIORITIES[min(max(level + urgency - 1, 1), 5) - 1]
            for level in range(1, 5)
            for urgency in range(1, 4)
        }
        for cell, priority in (overrides or {}).items():
            level, urgency = _parse_cell(cell)
            if priority not in PRIORITIES:
                raise ValueError(f"invalid priority {priority!r} for cell {cell!r}; use one of P1-P5")
            self._cells[(level, urgency)] = priority

    def priority(self, impact_level: int, urgency: int) -> str:
        return self._cells[(impact_level, urgency)]


def _parse_cell(cell: str) -> tuple[int, int]:
    try:
        level_text, urgency_text = cell.split(",")
        level, urgency = int(level_text), int(urgency_text)
    except ValueError:
        raise ValueError(
            f"invalid priority matrix cell {cell!r}; write LEVEL,URGENCY such as '2,1'"
        ) from None
    if not (1 <= level <= 4 and 1 <= urgency <= 3):
        raise ValueError(f"invalid priority matrix cell {cell!r}; impact level is 1-4 and urgency 1-3")
    return level, urgency
