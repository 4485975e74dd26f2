"""Shared fixtures: a tiny published city (see ``webcity.py``), its app, a client and tokens.

Every web, store and workflow test module uses these by name; pytest finds them here.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# CI explores a fixed set of examples (the same on every run), so a red build names a change, not
# a lucky draw; a developer's run keeps drawing new ones. A counterexample found either way is
# kept as an explicit @example or a strict xfail next to its property.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# The store backends (SQLite, PostgreSQL + PostGIS): `store_url` and friends; see backends.py.
pytest_plugins = ("backends",)
pytest.register_assert_rewrite("backends")

from backends import release_store  # noqa: E402
from webcity import publish_city  # noqa: E402

ROLE_GRIDS = {"field": ("330402001001",)}  # field staff work in community 330402001001


@pytest.fixture
def city_store(store_url):
    """The tiny city published into a fresh store of each backend (tests run once per backend)."""
    from gridmap.store import open_store

    store = open_store(store_url)
    publish_city(store)
    yield store
    release_store(store)


@pytest.fixture
def app(store_url, city_store):
    from web import create_app

    app = create_app({"DB": store_url, "TESTING": True, "SSE_POLL_SECONDS": 0.05})
    yield app
    release_store(app.extensions["gridmap_store"])


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


# -- planner (issue 9): a small sample city, partitioned once per run ------------------------------


@pytest.fixture(scope="session")
def plan_city(tmp_path_factory):
    """`gridmap sample --households 8000 --seed 3` (2 communities) and its partition with the
    default options: the files, the frames and the result the planner tests publish and re-plan."""
    from gridmap import io
    from gridmap.partition import PartitionConfig, partition
    from gridmap.sample import build_city

    folder = tmp_path_factory.mktemp("plan-city")
    build_city(folder, households=8000, seed=3)
    frames = {
        "boundaries": io.read_boundaries(folder / "boundaries.gpkg"),
        "addresses": io.read_addresses(folder / "addresses.csv"),
        "barriers": io.read_barriers(folder / "barriers.gpkg"),
        "sites": io.read_sites(folder / "sites.gpkg"),
    }
    result = partition(**frames, config=PartitionConfig(workers=1))
    assert result.ok
    return {"folder": folder, "frames": frames, "result": result}


def publish_plan_city(store, plan_city, note: str = "样例城市") -> dict:
    """Publish the partitioned sample city as the store's current version."""
    from gridmap.services.versions import publish

    frames, result = plan_city["frames"], plan_city["result"]
    return publish(
        store,
        result.grids,
        frames["boundaries"],
        frames["addresses"],
        frames["barriers"],
        micro_grids=result.micro_grids,
        note=note,
        published_by="seed",
    )
