"""OGC API - Features (placeholder until the module is written)."""

from flask import Blueprint

bp = Blueprint("ogc", __name__, url_prefix="/ogc")
