"""The API's own description: /api/v1/openapi.json (public)."""
import json
from pathlib import Path

from flask import Blueprint, jsonify

from core.api import json_errors

bp = json_errors(Blueprint("api", __name__, url_prefix="/api/v1"))
OPENAPI_PATH = Path(__file__).with_name("openapi.json")


@bp.route("/openapi.json")
def openapi():
    return jsonify(json.loads(OPENAPI_PATH.read_text()))
