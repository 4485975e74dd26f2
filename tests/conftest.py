"""Shared fixtures: a tiny published city (see ``webcity.py``), its app, a client and tokens.

Every web, store and workflow test module uses these by name; pytest finds them here.
"""

from __future__ import annotations

import pytest
from webcity import publish_city

ROLE_GRIDS = {"field": ("330402001001",)}  # field staff work in community 330402001001


@pytest.fixture
def city_store(tmp_path):
    from gridmap.store import open_store

    store = open_store(tmp_path / "city.sqlite")
    publish_city(store)
    yield store
    store.close()


@pytest.fixture
def app(tmp_path, city_store):
    from web import create_app

    app = create_app({"DB": city_store.path, "TESTING": True, "SSE_POLL_SECONDS": 0.05})
    yield app


@pytest.fixture
def tokens(city_store):
    """role -> token, plus 'field_other' (a field token for another community)."""
    out = {}
    for role in ("viewer", "field", "dispatcher", "planner", "admin"):
        out[role] = city_store.create_token(role, f"{role}-user", ROLE_GRIDS.get(role, ()))
    out["field_other"] = city_store.create_token("field", "other-field", ("330402002002",))
    return out


@pytest.fixture
def client(app):
    return app.test_client()
