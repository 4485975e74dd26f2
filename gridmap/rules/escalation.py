"""Escalation (督办) and follow-up (回访): the loop's last two rules.

An open incident whose current step passes its deadline escalates one level
(community → street → district → city), once per deadline; at the city it stays there (the
escalation is still recorded: it is the overdue notice). Closing needs a follow-up record, by
phone or visit; an unsatisfied one sends the incident back as rework instead of closing it.

>>> next_level(0), next_level(3)
(1, 3)
>>> parse_follow_up({"method": "phone", "satisfied": False}).outcome
'return'
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("community", "street", "district", "city")
LEVEL_NAMES = {"community": "社区", "street": "街道", "district": "区县", "city": "全市"}
FOLLOW_UP_METHODS = {"phone": "电话回访", "visit": "上门回访"}
MAX_FOLLOW_UP_NOTE = 4000


class LoopRuleError(ValueError):
    """A request the loop's rules refuse (``field`` names the part at fault)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def next_level(level: int) -> int:
    """The level one above ``level`` (the city is the top)."""
    return min(level + 1, len(LEVELS) - 1)


def level_name(level: int) -> str:
    return LEVEL_NAMES[LEVELS[max(0, min(level, len(LEVELS) - 1))]]


@dataclass(frozen=True)
class FollowUpIn:
    """A follow-up as given with a ``close``."""

    method: str
    satisfied: bool
    note: str

    @property
    def outcome(self) -> str:
        """The action the follow-up leads to: ``close`` when satisfied, else ``return``."""
        return "close" if self.satisfied else "return"


def parse_follow_up(value: object) -> FollowUpIn:
    """Check a follow-up record ``{"method": "phone"|"visit", "satisfied": bool, "note"}``."""
    if value is None:
        raise LoopRuleError(
            "closing requires a follow-up record: follow_up {method: phone|visit, satisfied}",
            "follow_up",
        )
    if not isinstance(value, dict):
        raise LoopRuleError("follow_up must be an object {method, satisfied, note}", "follow_up")
    method = value.get("method")
    if method not in FOLLOW_UP_METHODS:
        raise LoopRuleError(
            f"follow_up.method must be one of {', '.join(FOLLOW_UP_METHODS)}", "follow_up.method"
        )
    satisfied = value.get("satisfied")
    if not isinstance(satisfied, bool):
        raise LoopRuleError("follow_up.satisfied must be true or false", "follow_up.satisfied")
    note = value.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_FOLLOW_UP_NOTE:
        raise LoopRuleError(
            f"follow_up.note must be text of at most {MAX_FOLLOW_UP_NOTE} characters",
            "follow_up.note",
        )
    return FollowUpIn(method, satisfied, note.strip())
