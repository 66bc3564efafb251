"""Login, logout and the user's own API tokens."""
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask import session as http_session
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core.db import session
from orgs import accounts as services
from orgs.models.users import ApiToken

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    login = StringField("Логин", validators=[DataRequired("Введите логин."), Length(max=100)])
    password = PasswordField("Пароль", validators=[DataRequired("Введите пароль."), Length(max=500)])


class TokenForm(FlaskForm):
    name = StringField("Название токена", validators=[DataRequired("Введите название."), Length(max=200)])


def is_same_site(target: str | None) -> bool:
    """A relative path on this site, so a `next` parameter cannot redirect elsewhere
    ("//host" and "/\\host" are other hosts to a browser)."""
    if not target:
        return False
    return target.startswith("/") and not target.startswith(("//", "/\\")) and not urlsplit(target).netloc


def _safe_next(target: str | None) -> str:
    return target if target and is_same_site(target) else url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = services.authenticate(form.login.data, form.password.data)
        if result.user:
            http_session.clear()
            http_session.permanent = True
            http_session["uid"] = result.user.id
            http_session["pw"] = result.user.password_hash[-16:]
            return redirect(_safe_next(request.args.get("next")))
        error = result.error
    return render_template("auth/login.html", form=form, error=error)


@bp.route("/logout", methods=["POST"])
def logout():
    from core import audit
    audit.record("logout", g.user)
    http_session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
def account():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        _, new_token = services.issue_token(g.user, form.name.data)
        form.name.data = ""
    tokens = [t for t in session.query(ApiToken).filter_by(user_id=g.user.id).order_by(ApiToken.id)]
    return render_template("auth/account.html", form=form, tokens=tokens, new_token=new_token)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    tok = session.get(ApiToken, token_id)
    if tok is None or tok.user_id != g.user.id:
        abort(404)
    services.revoke_token(tok, actor=g.user)
    flash("Токен отозван.", "success")
    return redirect(url_for("auth.account"))
