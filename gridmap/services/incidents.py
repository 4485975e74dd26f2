"""Take a workflow action on an incident: the one use case behind every door that moves one.

The rules are :mod:`gridmap.rules.workflow`'s (legal moves, who may take them: role, own grids,
own department) and :mod:`gridmap.rules.escalation`'s (a close carries a follow-up; unsatisfied,
the incident goes back as rework); the store records the move atomically and refuses it when
someone else moved the incident first.
"""

from __future__ import annotations

from datetime import datetime

from gridmap.rules.escalation import FOLLOW_UP_METHODS, LoopRuleError, parse_follow_up
from gridmap.rules.workflow import (
    NEEDS_DEPARTMENT,
    NEEDS_FOLLOW_UP,
    IllegalTransition,
    actions_from,
    allowed_actions,
    iso,
    utc_now,
)
from gridmap.services.reporting import Reporter
from gridmap.store import Incident, NotFound, Store


class ActionError(ValueError):
    """Why an action was not taken. ``kind``: ``not_found`` (no such incident), ``illegal``
    (its state forbids the action, or it just changed), ``forbidden`` (the caller's role, grids
    or department do not allow it), ``invalid`` (a bad department or follow-up)."""

    def __init__(self, kind: str, message: str, field: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field


def act(
    store: Store,
    incident_id: int,
    action: str,
    actor: Reporter,
    note: str = "",
    department: str | None = None,
    follow_up: object = None,
    at: datetime | None = None,
) -> Incident:
    """Take ``action`` on an incident as ``actor``; returns the incident as it now is.

    A dispatch names its department (``department``, else the subclass's when that department
    exists); a close carries ``follow_up`` {method, satisfied, note} — unsatisfied, the incident
    is returned for rework instead. ``actor.department`` (when it has one) is the department a
    department's token acts for.
    """
    moment = at or utc_now()
    try:
        record = store.incident(incident_id, now=moment)
    except NotFound as error:
        raise ActionError("not_found", str(error), field="id") from None
    legal = actions_from(record.status)
    if action not in legal:
        raise ActionError(
            "illegal",
            f"cannot {action!r} an incident that is {record.status}; "
            f"allowed: {', '.join(legal) or 'none'}",
            field="action",
        )
    loop = store.incident_loops([incident_id])[incident_id]
    permitted = allowed_actions(
        record.status,
        actor.role,
        record.grid_code,
        actor.grids,
        loop.department,
        getattr(actor, "department", None),
    )
    if action not in permitted:
        raise ActionError(
            "forbidden", f"role {actor.role} may not {action!r} this incident", field="action"
        )
    try:
        target = _department_for(store, department, record.type, action)
        record_follow_up = None
        if action in NEEDS_FOLLOW_UP:
            record_follow_up = parse_follow_up(follow_up)
        elif follow_up is not None:
            raise LoopRuleError("follow_up is given only with close", "follow_up")
    except LoopRuleError as error:
        raise ActionError("invalid", error.message, field=error.field) from None
    try:
        with store.transaction():
            if record_follow_up is not None:
                store.add_follow_up(
                    incident_id,
                    record_follow_up.method,
                    record_follow_up.satisfied,
                    record_follow_up.note,
                    actor.name,
                    iso(moment),
                )
                action = record_follow_up.outcome
                if action == "return" and not note:
                    note = f"{FOLLOW_UP_METHODS[record_follow_up.method]}不满意，退回重办"
            result = store.transition(incident_id, action, actor.name, note, at=moment)
            if action in NEEDS_DEPARTMENT:
                store.set_department(incident_id, target.code if target else None)
            elif action == "decline":
                store.set_department(incident_id, None)
        return result
    except IllegalTransition as error:  # someone else moved it first
        raise ActionError("illegal", str(error), field="action") from None
    except NotFound as error:
        raise ActionError("not_found", str(error), field="id") from None


def _department_for(store: Store, given: object, incident_type: str, action: str):
    """The department a dispatch goes to (None: no department known for it)."""
    if action not in NEEDS_DEPARTMENT:
        if given is not None:
            raise LoopRuleError("department is given only with dispatch", "department")
        return None
    if given is not None:
        found = store.department(given) if isinstance(given, str) and given else None
        if found is None:
            raise LoopRuleError(f"unknown department {given!r}", "department")
        return found
    taxonomy = store.taxonomy()
    if incident_type in taxonomy:
        return store.department(taxonomy.subclass(incident_type).department)
    return None
