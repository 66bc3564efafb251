"""The start page: what needs this user now (web/work.py), then their roles and the sections."""
from flask import Blueprint, g, render_template

from web.work import work_for

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    grants = sorted(g.user.grants, key=lambda gr: (gr.role.value, gr.organisation.path))
    return render_template("home/index.html", grants=grants, sections=work_for(g.user))
