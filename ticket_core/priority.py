"""Priority matrix of SPEC §5: priority = criticality + severity − 1.

Criticality: 1 high, 2 medium, 3 low (per application or component, catalogue data).
Severity: 1 blocking, 2 major, 3 minor. Priorities 1–2 are "critical", 3–5 "normal";
each class has its own business-time clock to be handled or escalated.
"""

from __future__ import annotations

from ticket_core.exceptions import InvalidValue


def priority(criticality: int, severity: int) -> int:
    for name, value in (("criticality", criticality), ("severity", severity)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3:
            raise InvalidValue(f"{name} must be 1, 2 or 3, not {value!r}", field=name)
    return criticality + severity - 1


def is_critical(prio: int) -> bool:
    return prio <= 2
