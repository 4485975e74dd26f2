"""``GET /api/stream``: server-sent events of incident changes, polled from the event table.

Each event: ``id: <event id>``, ``event: incident``, ``data: {id, event, status, type, lon, lat,
grid_code, overdue, at}``. A client resumes with ``Last-Event-ID`` (EventSource does it by itself)
or ``?last_id=``; without either it gets only what happens from now on. ``?once=1`` sends what is
pending and ends; the stream also ends after ``SSE_MAX_SECONDS`` (the browser reconnects).
"""

from __future__ import annotations

import json
import time

from flask import Response, current_app, request, stream_with_context

from gridmap.store import Event
from web.api import bp, datum, store
from web.auth import require_user
from web.errors import ApiError
from web.schema import StreamQuery, parse_query


def _event_text(event: Event) -> str:
    lon, lat = datum().to_display(event.lon, event.lat)
    data = {
        "id": event.incident_id,
        "event": event.event,
        "status": event.status,
        "current_status": event.current_status,
        "type": event.type,
        "lon": round(lon, 7),
        "lat": round(lat, 7),
        "grid_code": event.grid_code,
        "overdue": event.overdue,
        "at": event.at,
    }
    payload = json.dumps(data, ensure_ascii=False)
    return f"id: {event.event_id}\nevent: incident\ndata: {payload}\n\n"


def _start_id() -> int:
    text = request.headers.get("Last-Event-ID") or request.args.get("last_id")
    if text is None or text == "":
        return store().last_event_id()
    try:
        value = int(text)
    except ValueError:
        raise ApiError(
            400, "last_id / Last-Event-ID must be an event id", field="last_id"
        ) from None
    if not 0 <= value < 2**63:
        raise ApiError(400, "last_id must be an event id >= 0", field="last_id")
    return value


@bp.get("/stream")
def stream():
    """Live incident events as text/event-stream."""
    require_user("viewer")
    last_id = _start_id()
    args = parse_query(StreamQuery)
    once = args.once
    cfg = current_app.config
    poll = float(cfg["SSE_POLL_SECONDS"])
    keepalive = float(cfg["SSE_KEEPALIVE_SECONDS"])
    limit = cfg["SSE_MAX_SECONDS"] if args.max_seconds is None else args.max_seconds
    limit = min(limit, float(cfg["SSE_MAX_SECONDS"]))

    def generate():
        nonlocal last_id
        started = last_beat = time.monotonic()
        yield "retry: 1000\n: connected\n\n"
        while True:
            events = store().events_since(last_id)
            for event in events:
                last_id = event.event_id
                yield _event_text(event)
            if once:
                return
            now = time.monotonic()
            if now - started >= limit:
                return
            if now - last_beat >= keepalive:
                last_beat = now
                yield ": keep-alive\n\n"
            if not events:
                time.sleep(poll)

    return Response(
        stream_with_context(generate()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
