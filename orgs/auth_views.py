"""Login (password, then the second factor), logout, the user's own password, sessions, second factor and
API tokens, and the password reset by e-mail."""
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from core import audit
from core.db import session
from orgs import accounts as services
from orgs import second_factor, sessions
from orgs.models.users import ApiToken, UserSession

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    login = StringField("Логин", validators=[DataRequired("Введите логин."), Length(max=100)])
    password = PasswordField("Пароль", validators=[DataRequired("Введите пароль."), Length(max=500)])


class TokenForm(FlaskForm):
    name = StringField("Название токена", validators=[DataRequired("Введите название."), Length(max=200)])
    scope = SelectField("Права", choices=[SelectChoice("read", "только чтение"),
                                          SelectChoice("write", "чтение и изменение")], default="read")


class PasswordForm(FlaskForm):
    current = PasswordField("Текущий пароль", validators=[DataRequired("Введите текущий пароль."), Length(max=500)])
    new = PasswordField("Новый пароль", validators=[DataRequired("Введите новый пароль."), Length(max=500)])
    repeat = PasswordField("Новый пароль ещё раз", validators=[DataRequired("Повторите пароль."), Length(max=500)])


class ResetForm(FlaskForm):
    new = PasswordField("Новый пароль", validators=[DataRequired("Введите новый пароль."), Length(max=500)])
    repeat = PasswordField("Новый пароль ещё раз", validators=[DataRequired("Повторите пароль."), Length(max=500)])


class ForgotForm(FlaskForm):
    login = StringField("Логин или адрес эл. почты", validators=[DataRequired("Введите логин."), Length(max=300)])


class CodeForm(FlaskForm):
    code = StringField("Код", validators=[DataRequired("Введите код."), Length(max=20)])


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
        result = services.authenticate(form.login.data, form.password.data, ip=request.remote_addr)
        if result.user:
            record = sessions.start(result.user, second_factor_done=not second_factor.needed(result.user))
            if record.second_factor_at is None:
                return redirect(url_for("auth.second_factor", next=request.args.get("next")))
            return redirect(_safe_next(request.args.get("next")))
        error = result.error
    return render_template("auth/login.html", form=form, error=error,
                           can_reset=bool(current_app.config.get("SMTP_URL")))


@bp.route("/login/second-factor", methods=["GET", "POST"], endpoint="second_factor")
def second_factor_page():
    """The code from the authenticator app (or a recovery code); first time: set the app up."""
    from orgs import throttle
    user, record = g.pending_user, g.user_session
    if user is None or record is None:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    setting_up = user.totp_enabled_at is None
    if setting_up and not user.totp_secret:      # kept across reloads: the QR code may be scanned already
        second_factor.begin_setup(user)
    error, codes = None, None
    if form.validate_on_submit():
        wait = throttle.waiting(request.remote_addr)
        if wait is not None:
            error = wait.message
        elif setting_up:
            codes = second_factor.confirm_setup(user, form.code.data)
            error = None if codes else "Код не подошёл. Проверьте время на телефоне и введите новый код."
        elif second_factor.verify(user, form.code.data):
            codes = []
        else:
            error = "Код не подошёл."
        if codes is None:
            throttle.record_failure(request.remote_addr)
            from core.security_log import log_event
            log_event("second_factor_failed", user_id=user.id)
        else:
            record.second_factor_at = record.last_seen_at
            audit.record("login.second_factor", user, actor=user)
            if codes:
                return render_template("auth/recovery_codes.html", codes=codes,
                                       next=_safe_next(request.args.get("next")))
            return redirect(_safe_next(request.args.get("next")))
    uri = _uri_of_pending(user) if setting_up else None
    return render_template("auth/second_factor.html", form=form, error=error, setting_up=setting_up, uri=uri,
                           qr=second_factor.qr_svg(uri) if uri else None,
                           secret=second_factor.pending_secret(user) if setting_up else None)


def _uri_of_pending(user) -> str | None:
    import pyotp
    secret = second_factor.pending_secret(user)
    return pyotp.TOTP(secret).provisioning_uri(name=user.login, issuer_name=second_factor.ISSUER) if secret else None


@bp.route("/logout", methods=["POST"])
def logout():
    record = g.user_session
    audit.record("logout", g.user or g.pending_user)
    if record is not None:
        sessions.end(record, "logout")
    from flask import session as http_session
    http_session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
def account():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        _, new_token = services.issue_token(g.user, form.name.data, scope=form.scope.data)
        form.name.data = ""
    tokens = [t for t in session.query(ApiToken).filter_by(user_id=g.user.id).order_by(ApiToken.id)]
    return render_template("auth/account.html", form=form, tokens=tokens, new_token=new_token,
                           live_sessions=sessions.live(g.user), this_session=g.user_session,
                           second_factor_required=second_factor.required(g.user))


@bp.route("/account/digest", methods=["POST"])
def digest_setting():
    """The user's own choice: the daily e-mail digest of their inbox and tasks, or the inbox only."""
    on = request.form.get("email_digest") == "1"
    if g.user.email_digest != on:
        audit.record("user.email_digest", g.user, actor=g.user, before={"email_digest": g.user.email_digest},
                     after={"email_digest": on})
        g.user.email_digest = on
    flash("Ежедневное письмо " + ("включено." if on else "отключено: уведомления — только на сайте."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            services.change_password(g.user, form.current.data, form.new.data, form.repeat.data,
                                     keep=g.user_session)
        except services.PasswordError as exc:
            error = str(exc)
        else:   # a new session id here too: a copy of this browser's cookie dies with the old password
            sessions.end(g.user_session, "password")
            sessions.start(g.user, second_factor_done=True)
            flash("Пароль изменён. Вход на других устройствах завершён.", "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/password.html", form=form, error=error,
                           forced=g.user.must_change_password), 400 if error else 200


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
def end_session(session_id: int):
    record = session.get(UserSession, session_id)
    if record is None or record.user_id != g.user.id:
        abort(404)
    sessions.end(record, "ended by user")
    audit.record("session.end", g.user, session_id=record.id)
    flash("Сеанс завершён.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/sessions/end-all", methods=["POST"])
def end_all_sessions():
    """«Выйти на всех устройствах»: every session ends, this one too."""
    ended = sessions.end_all(g.user, "logout everywhere")
    audit.record("session.end_all", g.user, sessions_ended=ended)
    from flask import session as http_session
    http_session.clear()
    flash("Выполнен выход на всех устройствах.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/second-factor/recovery-codes", methods=["POST"])
def new_recovery_codes():
    if g.user.totp_enabled_at is None:
        abort(400)
    codes = second_factor.new_recovery_codes(g.user)
    audit.record("user.recovery_codes", g.user)
    return render_template("auth/recovery_codes.html", codes=codes, next=url_for("auth.account"))


@bp.route("/account/second-factor/disable", methods=["POST"])
def disable_second_factor():
    if second_factor.required(g.user):
        flash("Для ваших ролей второй фактор обязателен: отключить его нельзя.", "error")
        return redirect(url_for("auth.account")), 303
    second_factor.disable(g.user, actor=g.user)
    flash("Второй фактор отключён.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/second-factor/enable", methods=["POST"])
def enable_second_factor():
    """Optional for this user: set it up at once (the next page is the set-up page)."""
    g.user_session.second_factor_at = None
    second_factor.begin_setup(g.user)
    return redirect(url_for("auth.second_factor", next=url_for("auth.account")))


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    tok = session.get(ApiToken, token_id)
    if tok is None or tok.user_id != g.user.id:
        abort(404)
    services.revoke_token(tok, actor=g.user)
    flash("Токен отозван.", "success")
    return redirect(url_for("auth.account"))


SENT = "Если такой пользователь есть и у него указан адрес эл. почты, письмо со ссылкой отправлено."


@bp.route("/login/forgot", methods=["GET", "POST"])
def forgot():
    if not current_app.config.get("SMTP_URL"):
        return render_template("auth/forgot.html", form=None, sent=None)
    form = ForgotForm()
    sent = None
    if form.validate_on_submit():
        services.request_reset(form.login.data)
        sent = SENT
    return render_template("auth/forgot.html", form=form, sent=sent)


@bp.route("/login/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    record = services.reset_for(token)
    if record is None:
        return render_template("auth/reset.html", form=None), 404
    form = ResetForm()
    error = None
    if form.validate_on_submit():
        try:
            services.complete_reset(record, form.new.data, form.repeat.data)
        except services.PasswordError as exc:
            error = str(exc)
        else:
            flash("Пароль задан. Войдите с новым паролем.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, error=error), 400 if error else 200
