"""Administration: users, their roles on organisations, and the audit log."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional

from core import audit
from core.db import session
from orgs import accounts as services
from orgs.access import can, has_any, require, scope_condition, scopes
from orgs.models.organisations import Organisation
from orgs.models.users import ROLE_LABELS, Role, RoleGrant, User
from orgs.passwords import check_strength

bp = Blueprint("admin", __name__, url_prefix="/admin")


class UserForm(FlaskForm):
    login = StringField("Логин", validators=[DataRequired("Введите логин."), Length(max=100)])
    full_name = StringField("ФИО", validators=[DataRequired("Введите ФИО."), Length(max=300)])
    position = StringField("Должность", validators=[Optional(), Length(max=300)])
    email = StringField("Эл. почта", validators=[Optional(), Email("Неверный адрес."), Length(max=300)])
    password = PasswordField("Пароль", validators=[DataRequired("Введите пароль."), Length(max=500)])
    role = SelectField("Роль", choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in Role])
    organisation_id = SelectField("Организация", coerce=int)


class ProfileForm(FlaskForm):
    """As in the person's qualified certificate: signing is refused when they differ."""
    surname = StringField("Фамилия", validators=[Optional(), Length(max=100)])
    given_name = StringField("Имя", validators=[Optional(), Length(max=100)])
    patronymic = StringField("Отчество", validators=[Optional(), Length(max=100)])
    snils = StringField("СНИЛС", validators=[Optional(), Length(max=20)])
    inn = StringField("ИНН", validators=[Optional(), Length(max=20)])


class GrantForm(FlaskForm):
    role = SelectField("Роль", choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in Role])
    organisation_id = SelectField("Организация", coerce=int)


def _manageable_orgs() -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(scope_condition(g.user, "user.manage"))
                                .order_by(Organisation.path)))


def _visible_user(user: User) -> bool:
    """An administrator sees users holding at least one role inside its scope (or none at all)."""
    return not user.grants or any(can(g.user, "user.manage", gr.organisation) for gr in user.grants)


@bp.route("/users", methods=["GET", "POST"])
def users():
    if not has_any(g.user, "user.manage"):
        abort(403)
    orgs = _manageable_orgs()
    form = UserForm()
    form.organisation_id.choices = [SelectChoice(o.id, o.display_name) for o in orgs]
    if form.validate_on_submit():
        weak = check_strength(form.password.data)
        login = services.normalise_login(form.login.data)
        if weak:
            form.password.errors.append(weak)
        elif session.scalar(select(User.id).where(User.login == login)):
            form.login.errors.append("Такой логин уже есть.")
        else:
            org = session.get(Organisation, form.organisation_id.data)
            require("user.manage", org)
            user = services.create_user(login, form.full_name.data, form.password.data, email=form.email.data or None,
                                        position=form.position.data or None, actor=g.user)
            services.grant(user, Role(form.role.data), org, actor=g.user)
            flash(f"Пользователь {user.login} создан.", "success")
            return redirect(url_for("admin.users"))
    all_users = session.scalars(select(User).order_by(User.login)).all()
    shown = [u for u in all_users if _visible_user(u)]
    return render_template("admin/users.html", users=shown, form=form), 400 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int):
    if not has_any(g.user, "user.manage"):
        abort(403)
    user = session.get(User, user_id) or abort(404)
    if not _visible_user(user):
        abort(403)
    form = GrantForm()
    form.organisation_id.choices = [SelectChoice(o.id, o.display_name) for o in _manageable_orgs()]
    if form.validate_on_submit():
        org = session.get(Organisation, form.organisation_id.data) or abort(404)
        require("user.manage", org)
        services.grant(user, Role(form.role.data), org, actor=g.user)
        flash("Роль назначена.", "success")
        return redirect(url_for("admin.user", user_id=user.id))
    return render_template("admin/user.html", user=user, form=form, profile=ProfileForm(obj=user))


@bp.route("/users/<int:user_id>/profile", methods=["POST"])
def user_profile(user_id: int):
    user = session.get(User, user_id) or abort(404)
    if not has_any(g.user, "user.manage") or not _visible_user(user):
        abort(403)
    profile = ProfileForm()
    if not profile.validate_on_submit():
        abort(400)
    try:
        changed = services.set_signer_profile(user, actor=g.user, **{n: profile[n].data for n in
                                                                     services.PROFILE_FIELDS})
    except services.ProfileError as exc:
        flash(str(exc), "error")
        grant = GrantForm()
        grant.organisation_id.choices = [SelectChoice(o.id, o.display_name) for o in _manageable_orgs()]
        return render_template("admin/user.html", user=user, form=grant, profile=profile), 400
    flash("Данные для проверки сертификата сохранены." if changed else "Изменений нет.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


def _managed_user(user_id: int) -> User:
    user = session.get(User, user_id) or abort(404)
    if not has_any(g.user, "user.manage") or not _visible_user(user):
        abort(403)
    if user.id == g.user.id:
        abort(400, "Свою учётную запись так не меняют: пароль меняется в профиле.")
    return user


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
def user_deactivate(user_id: int):
    services.deactivate(_managed_user(user_id), actor=g.user)
    flash("Учётная запись отключена, сеансы завершены, токены отозваны.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
def user_reactivate(user_id: int):
    services.reactivate(_managed_user(user_id), actor=g.user)
    flash("Учётная запись включена.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/reset", methods=["POST"])
def user_reset(user_id: int):
    user = _managed_user(user_id)
    temporary = services.force_reset(user, actor=g.user)
    if temporary is None:
        flash(f"Сеансы завершены, токены отозваны; ссылка для нового пароля отправлена на {user.email}.", "success")
        return redirect(url_for("admin.user", user_id=user_id))
    grant = GrantForm()
    grant.organisation_id.choices = [SelectChoice(o.id, o.display_name) for o in _manageable_orgs()]
    return render_template("admin/user.html", user=user, form=grant, profile=ProfileForm(obj=user),
                           temporary_password=temporary)


@bp.route("/users/<int:user_id>/second-factor/reset", methods=["POST"])
def user_second_factor_reset(user_id: int):
    """The phone is lost and so are the recovery codes: the user sets TOTP up again at the next login."""
    from orgs import second_factor, sessions
    user = _managed_user(user_id)
    second_factor.disable(user, actor=g.user)
    sessions.end_all(user, "second factor reset")
    flash("Второй фактор сброшен: при следующем входе пользователь настроит его заново.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/grants/<int:grant_id>/revoke", methods=["POST"])
def revoke_grant(user_id: int, grant_id: int):
    gr = session.get(RoleGrant, grant_id)
    if gr is None or gr.user_id != user_id:
        abort(404)
    require("user.manage", gr.organisation)
    services.revoke(gr, actor=g.user)
    flash("Роль отозвана.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/audit")
def audit_log():
    # Entries are not tied to one organisation: only holders of audit.view on a whole region read them.
    if not any(o.parent_id is None for o in scopes(g.user, "audit.view")):
        abort(403)
    page = max(1, request.args.get("page", 1, type=int))
    stmt = select(audit.AuditEntry).order_by(audit.AuditEntry.id.desc())
    if action := request.args.get("action"):
        stmt = stmt.where(audit.AuditEntry.action.startswith(action, autoescape=True))
    entries = session.scalars(stmt.offset((page - 1) * 100).limit(101)).all()
    return render_template("admin/audit.html", entries=entries[:100], page=page, has_next=len(entries) > 100,
                           action=action or "")

