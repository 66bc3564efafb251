"""The start page: what this user can do, by role."""
from flask import Blueprint, g, render_template

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    grants = sorted(g.user.grants, key=lambda gr: (gr.role.value, gr.organisation.path))
    return render_template("home/index.html", grants=grants)
