"""Take a workflow action on an incident: the one use case behind every door that moves one.

The rules are :mod:`gridmap.rules.workflow`'s (legal moves, who may take them); the store records
the move atomically and refuses it when someone else moved the incident first.
"""

from __future__ import annotations

from gridmap.rules.workflow import IllegalTransition, actions_from, allowed_actions
from gridmap.services.reporting import Reporter
from gridmap.store import Incident, NotFound, Store


class ActionError(ValueError):
    """Why an action was not taken. ``kind``: ``not_found`` (no such incident), ``illegal``
    (its state forbids the action, or it just changed), ``forbidden`` (the caller's role or
    grids do not allow it)."""

    def __init__(self, kind: str, message: str, field: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field


def act(store: Store, incident_id: int, action: str, actor: Reporter, note: str = "") -> Incident:
    """Take ``action`` on an incident as ``actor``; returns the incident as it now is."""
    try:
        record = store.incident(incident_id)
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
    if action not in allowed_actions(record.status, actor.role, record.grid_code, actor.grids):
        raise ActionError(
            "forbidden", f"role {actor.role} may not {action!r} this incident", field="action"
        )
    try:
        return store.transition(incident_id, action, actor.name, note)
    except IllegalTransition as error:  # someone else moved it first
        raise ActionError("illegal", str(error), field="action") from None
    except NotFound as error:
        raise ActionError("not_found", str(error), field="id") from None
