"""``GET /api/meta``: every rule and label the browser needs, from their one home on the server.

The page keeps no copy of a state name, a legal move, a role, a KPI formula or a limit: it reads
them here (any signed-in caller).
"""

from __future__ import annotations

from flask import jsonify

from gridmap.rules import kpi, labels, workflow
from gridmap.rules import photos as photo_rules
from web import schema
from web.api import CLUSTER_ABOVE, HEAT_MAX_CELLS, bp
from web.auth import requires


def meta() -> dict:
    """The answer of ``GET /api/meta`` (also used by tests and the OpenAPI document)."""
    return {
        "labels": {group: dict(names) for group, names in labels.ALL.items()},
        "states": list(workflow.STATES),
        "open_states": list(workflow.OPEN_STATES),
        "final_states": sorted(workflow.FINAL_STATES),
        "actions": {
            action: {"from": list(sources), "to": target}
            for action, (sources, target) in workflow.ACTIONS.items()
        },
        "field_actions": sorted(workflow.FIELD_ACTIONS),
        "roles": list(workflow.ROLES),
        "incident_types": [
            {"code": code, "handling_hours": workflow.HANDLING_HOURS[code]}
            for code in workflow.INCIDENT_TYPES
        ],
        "kpi": kpi.INDICATORS,
        "evaluation": kpi.EVALUATION,  # 考核 indicators (GET /api/evaluation)
        "photos": photo_rules.limits(),  # what a photo upload may be (field)
        "limits": {
            **schema.limits(),
            "cluster_above": CLUSTER_ABOVE,
            "heat_max_cells": HEAT_MAX_CELLS,
            "step_hours": dict(workflow.DEFAULT_STEP_HOURS),
        },
    }


@bp.get("/meta")
@requires("viewer")
def meta_view():
    """States, legal moves, roles, labels, KPI formulas and limits (see :func:`meta`)."""
    return jsonify(meta())
