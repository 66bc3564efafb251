"""Pages of the assignments: assign a plan item, the assignment, dashboards (region → municipality → one
organisation), "my tasks", the calendar, one occurrence with its workflow, evidence downloads, the inbox, the
personal iCalendar feed and XLSX export of every table. Thin: the work is in assignment_services / dashboards."""
import datetime as dt
import hashlib
import secrets
from calendar import Calendar, monthrange
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import func, or_, select
from sqlalchemy.orm import load_only, selectinload

from assignments import dashboards as dash
from assignments import notifications
from assignments import services as svc
from assignments.loaders import get_assignment, get_occurrence, visible_targets
from assignments.models import (
    Assignment,
    AssignmentTarget,
    FeedToken,
    Occurrence,
    OccurrenceEvidence,
    OccurrenceKind,
    OccurrenceStatus,
)
from core.db import session, utcnow
from core.files import FileCorrupt
from core.tabular import xlsx_response
from ordinances.models.ordinances import Ordinance, OrdinanceStatus, PlanItem
from orgs.access import can, has_any, require, scope_condition, scopes
from orgs.auth_views import is_same_site
from orgs.models.organisations import Organisation, OrgKind, subtree
from orgs.services import tree_order

bp = Blueprint("assignments", __name__)
PER_PAGE = 100
MONTHS = ["Январь", "Февраль", "Март", "Апрель", "Май", "Июнь", "Июль", "Август", "Сентябрь", "Октябрь",
          "Ноябрь", "Декабрь"]


_STATUS_TAGS = {s: Markup('<span class="st st-{}">{}</span>').format(s.value, s.label) for s in OccurrenceStatus}


@bp.app_template_filter("status_tag")
def status_tag(status: OccurrenceStatus) -> Markup:
    """The coloured status label, made once per status: the lists show it on every row."""
    return _STATUS_TAGS[status]


@bp.app_context_processor
def _inbox_count():
    def unread():
        # asked by the menu and again by some pages: counted once per request (after the view's changes)
        if "unread_count" not in g:
            user = g.get("user")
            g.unread_count = notifications.unread_count(user.id) if user is not None else 0
        return g.unread_count
    def may_assign():
        user = g.get("user")
        return user is not None and any(o.kind in (OrgKind.region, OrgKind.municipality)
                                        for o in scopes(user, "assignment.manage"))
    return {"assignments_unread": unread, "assignments_may_assign": may_assign}


# ---- helpers ---------------------------------------------------------------------------------------------

def _required_date(name: str, label: str) -> dt.date:
    day = _date(name, required_label=label)
    if day is None:                      # _date raises for a missing required date
        raise svc.AssignmentError(f"Не заполнено поле «{label}».")
    return day


def _date(name: str, default=None, *, required_label: str | None = None) -> dt.date | None:
    raw = (request.values.get(name) or "").strip()
    if not raw:
        if required_label:
            raise svc.AssignmentError(f"Не заполнено поле «{required_label}».")
        return default
    try:
        return dt.date.fromisoformat(raw) if "-" in raw else dt.datetime.strptime(raw, "%d.%m.%Y").date()
    except ValueError:
        raise svc.AssignmentError(f"Неверная дата «{raw}» в поле «{required_label or name}»: нужен формат "
                                  "ДД.ММ.ГГГГ.") from None


def _ints(name: str) -> list[int]:
    out = []
    for v in request.form.getlist(name):
        if v.strip():
            if not v.strip().isdigit():
                abort(400)
            out.append(int(v))
    return out


def _period() -> tuple[int, dt.date, dt.date]:
    """The school year chosen with ?year=YYYY (its first year); the current one by default."""
    today = svc.today()
    year = request.args.get("year", type=int) or svc.school_year(today)[0].year
    if not 2000 <= year <= 2100:
        abort(400)
    return year, dt.date(year, 9, 1), dt.date(year + 1, 8, 31)


def _year_options() -> list[int]:
    today = svc.today()
    lo, hi = session.execute(select(func.min(Assignment.horizon_start), func.max(Assignment.horizon_end))).one()
    first = min(svc.school_year(lo)[0].year if lo else today.year, svc.school_year(today)[0].year)
    last = max(svc.school_year(hi)[0].year if hi else today.year, svc.school_year(today)[0].year)
    return list(range(last, first - 1, -1))


def _ordinance_filter() -> tuple[int | None, list[int] | None]:
    oid = request.args.get("ordinance", type=int)
    return oid, (dash.assignments_of_ordinance(oid) if oid else None)


def _ordinance_options() -> list[Ordinance]:
    """Documents the user may read that have assignments, for the dashboards' filter."""
    from ordinances.loaders import visible_condition
    # only what the option's label needs: not the documents' full text on every dashboard
    return list(session.scalars(select(Ordinance).options(load_only(Ordinance.kind, Ordinance.date, Ordinance.number))
                                .join(Organisation, Ordinance.issuer_id == Organisation.id)
                                .where(visible_condition(g.user),
                                       Ordinance.id.in_(select(Assignment.ordinance_id).distinct()))
                                .order_by(Ordinance.date.desc().nulls_last())))


def _want_xlsx() -> bool:
    return request.args.get("format") == "xlsx"


def _own_orgs(user, action: str = "assignment.submit") -> list[int]:
    """Organisations the user answers for directly (a director's school, an МОУО's municipality)."""
    roles = set(notifications.roles_with(action))
    return sorted({gr.organisation_id for gr in user.grants if gr.role.value in roles})


# ---- assigning ---------------------------------------------------------------------------------------------

def _assigners() -> list[Organisation]:
    return sorted([o for o in scopes(g.user, "assignment.manage") if o.kind in (OrgKind.region, OrgKind.municipality)],
                  key=lambda o: o.path)


@bp.route("/assignments/new/<int:item_id>", methods=["GET", "POST"])
def new(item_id: int):
    from ordinances.loaders import get_visible
    item = session.get(PlanItem, item_id) or abort(404)
    ordinance = svc.ordinance_of(item)
    get_visible(ordinance.id)
    assigners = _assigners()
    if not assigners:
        abort(403)
    assigner = next((o for o in assigners if o.id == request.values.get("assigner_id", type=int)), assigners[0])
    require("assignment.manage", assigner)
    error = None
    if request.method == "POST":
        try:
            orgs = svc.resolve_targets(assigner, org_ids=_ints("org_ids"), kinds=request.form.getlist("kinds"),
                                       municipality_ids=_ints("municipality_ids"))
            horizon = (_required_date("horizon_start", "Сроки с"), _required_date("horizon_end", "по"))
            a = svc.create_assignment(item, assigner, orgs, actor=g.user, rule=request.form.get("rule", "plan"),
                                      dates=svc.parse_dates(request.form.get("dates", "")), horizon=horizon,
                                      appointment_due=_date("appointment_due"), note=request.form.get("note"))
        except svc.AssignmentError as exc:
            error = str(exc)
        else:
            flash(f"Поручение дано: организаций {len(orgs)}.", "success")
            return redirect(url_for("assignments.show", assignment_id=a.id))
    start, end = svc.default_horizon()
    orgs = tree_order(list(session.scalars(select(Organisation).where(subtree(assigner),
                                                                      Organisation.id != assigner.id))))
    defaults = {"rule": "plan" if item.deadline_kind.value in ("once", "recurring") else "quarterly",
                "horizon_start": start.isoformat(), "horizon_end": end.isoformat(),
                "appointment_due": (svc.today() + dt.timedelta(days=14)).isoformat()}
    form = {**defaults, **request.form.to_dict()} if request.method == "POST" else defaults
    return render_template("assignments/new.html", item=item, ordinance=ordinance, assigners=assigners,
                           assigner=assigner, orgs=orgs, depth0=assigner.path.count("/"), rules=svc.RULES,
                           form=form, error=error, kinds=[OrgKind.municipality, OrgKind.school, OrgKind.institute,
                                                          OrgKind.computer_centre, OrgKind.methodical_centre],
                           chosen={"org_ids": set(_ints("org_ids")) if request.method == "POST" else set(),
                                   "kinds": set(request.form.getlist("kinds")),
                                   "municipality_ids": (set(_ints("municipality_ids")) if request.method == "POST"
                                                        else set())},
                           existing=session.scalars(select(Assignment).where(Assignment.plan_item_id == item.id,
                                                                             Assignment.parent_id.is_(None))).all()), \
        400 if error else 200


@bp.route("/assignments")
def index():
    if not has_any(g.user, "assignment.view"):
        abort(403)
    scope = scope_condition(g.user, "assignment.view")
    in_scope = select(Organisation.id).where(scope)
    stmt = select(Assignment).where(or_(
        Assignment.assigner_id.in_(in_scope),
        Assignment.id.in_(select(AssignmentTarget.assignment_id).where(AssignmentTarget.org_id.in_(in_scope)))))
    if ordinance_id := request.args.get("ordinance", type=int):
        stmt = stmt.where(Assignment.ordinance_id == ordinance_id)
    if item_id := request.args.get("item", type=int):
        stmt = stmt.where(Assignment.plan_item_id == item_id)
    rows = session.scalars(stmt.order_by(Assignment.id.desc()).limit(500)).all()
    if _want_xlsx():
        return xlsx_response("porucheniya.xlsx", ["№", "Документ", "№ п.п", "Мероприятие", "Кто поручил", "Сроки",
                                                  "Организаций"],
                             ([a.id, a.ordinance.label, a.plan_item.number or "", a.plan_item.title,
                               a.assigner.display_name, a.rule_text, len(a.active_targets)] for a in rows))
    return render_template("assignments/index.html", rows=rows)


@bp.route("/assignments/<int:assignment_id>")
def show(assignment_id: int):
    a = get_assignment(assignment_id)
    if _want_xlsx():
        counts = dash.assignment_dashboard(a.id, today=svc.today())
        rows = []
        for t in visible_targets(a):
            c = counts.get(t.org_id, dash.Counts())
            rows.append([t.org.display_name, t.responsible_name or "", *next(dash.xlsx_rows([dash.Row(t.org_id, "",
                                                                                                      c)]))[1:]])
        return xlsx_response(f"poruchenie-{a.id}.xlsx", ["Организация", "Ответственный"] + dash.HEADERS[1:], rows)
    return _render_show(a)


def _render_show(a: Assignment, status: int = 200, error: str | None = None):
    today = svc.today()
    targets = visible_targets(a)
    counts = dash.assignment_dashboard(a.id, today=today)
    children = {c.assigner_id: c for c in a.children}
    manage = svc.may_manage(g.user, a)
    orgs = tree_order(list(session.scalars(select(Organisation).where(
        subtree(a.assigner), Organisation.id != a.assigner_id)))) if manage else []
    cascade_schools = {}
    for t in targets:
        if svc.may_cascade(g.user, t) and t.org_id not in children:
            cascade_schools[t.id] = session.scalars(select(Organisation).where(
                subtree(t.org), Organisation.kind == OrgKind.school)
                .order_by(Organisation.name)).all()
    dates = svc.due_dates(a)
    return render_template("assignments/assignment.html", a=a, targets=targets, counts=counts, children=children,
                           manage=manage, orgs=orgs, depth0=a.assigner.path.count("/"), rules=svc.RULES,
                           active_ids={t.org_id for t in a.targets if t.active}, cascade_schools=cascade_schools,
                           today=today, dates=dates[:60], n_dates=len(dates), error=error), status


def _manageable(assignment_id: int) -> Assignment:
    a = session.get(Assignment, assignment_id) or abort(404)
    require("assignment.manage", a.assigner)
    return a


def _error_page(a: Assignment, message: str):
    return _render_show(a, 400, error=message)


@bp.route("/assignments/<int:assignment_id>/targets", methods=["POST"])
def targets(assignment_id: int):
    a = _manageable(assignment_id)
    try:
        orgs = svc.resolve_targets(a.assigner, org_ids=_ints("org_ids"), kinds=request.form.getlist("kinds"),
                                   municipality_ids=_ints("municipality_ids"))
        r = svc.set_targets(a, orgs, actor=g.user)
    except svc.AssignmentError as exc:
        return _error_page(a, str(exc))
    flash(f"Состав изменён: добавлено сроков {r.inserted}, удалено неначатых {r.deleted}.", "success")
    return redirect(url_for("assignments.show", assignment_id=a.id))


@bp.route("/assignments/<int:assignment_id>/rule", methods=["POST"])
def rule(assignment_id: int):
    a = _manageable(assignment_id)
    try:
        horizon = (_required_date("horizon_start", "Сроки с"), _required_date("horizon_end", "по"))
        r = svc.change_rule(a, rule=request.form.get("rule", "plan"), dates=svc.parse_dates(request.form.get("dates",
                                                                                                             "")),
                            horizon=horizon, appointment_due=_date("appointment_due"), actor=g.user)
    except svc.AssignmentError as exc:
        return _error_page(a, str(exc))
    flash(f"Сроки пересчитаны: добавлено {r.inserted}, удалено неначатых {r.deleted}; начатые сохранены.", "success")
    return redirect(url_for("assignments.show", assignment_id=a.id))


@bp.route("/assignments/<int:assignment_id>/cascade/<int:target_id>", methods=["POST"])
def cascade(assignment_id: int, target_id: int):
    a = session.get(Assignment, assignment_id) or abort(404)
    target = session.get(AssignmentTarget, target_id)
    if target is None or target.assignment_id != a.id:
        abort(404)
    if not svc.may_cascade(g.user, target):
        abort(403)
    try:
        schools = svc.resolve_targets(target.org, org_ids=_ints("org_ids"))
        child = svc.cascade(target, schools, actor=g.user, appointment_due=_date("appointment_due"))
    except svc.AssignmentError as exc:
        return _error_page(a, str(exc))
    flash(f"Поручение передано школам: {len(schools)}.", "success")
    return redirect(url_for("assignments.show", assignment_id=child.id))


@bp.route("/assignments/<int:assignment_id>/responsible/<int:target_id>", methods=["POST"])
def responsible(assignment_id: int, target_id: int):
    a = _manageable(assignment_id)
    target = session.get(AssignmentTarget, target_id)
    if target is None or target.assignment_id != a.id:
        abort(404)
    try:
        svc.set_responsible(target, name=request.form.get("name", ""), position=request.form.get("position"),
                            actor=g.user)
    except svc.AssignmentError as exc:
        return _error_page(a, str(exc))
    flash("Ответственный указан.", "success")
    return redirect(url_for("assignments.show", assignment_id=a.id))


# ---- dashboards ------------------------------------------------------------------------------------------

@bp.route("/assignments/dashboard")
def dashboard():
    roots = sorted(scopes(g.user, "assignment.view"), key=lambda o: o.path.count("/"))
    if not roots:
        abort(403)
    top = roots[0]
    if top.kind is OrgKind.region:
        return redirect(url_for("assignments.region", org_id=top.id, **request.args))
    if top.kind is OrgKind.municipality:
        return redirect(url_for("assignments.municipality", org_id=top.id, **request.args))
    return redirect(url_for("assignments.org", org_id=top.id, **request.args))


@bp.route("/assignments/dashboard/region/<int:org_id>")
def region(org_id: int):
    region = session.get(Organisation, org_id) or abort(404)
    if region.kind is not OrgKind.region:
        abort(404)
    require("assignment.view", region)
    year, start, end = _period()
    oid, aids = _ordinance_filter()
    today = svc.today()
    rows, total = dash.region_dashboard(region, start=start, end=end, today=today, assignment_ids=aids)
    if _want_xlsx():
        return xlsx_response(f"ispolnenie-region-{year}.xlsx", ["Муниципалитет"] + dash.HEADERS[1:],
                             dash.xlsx_rows(rows, total), title=f"{year}-{year + 1}")
    return render_template("assignments/dashboard.html", level="region", org=region, rows=rows, total=total,
                           year=year, years=_year_options(), ordinance_id=oid, ordinances=_ordinance_options(),
                           today=today, first_header="Муниципалитет", crumbs=[])


@bp.route("/assignments/dashboard/municipality/<int:org_id>")
def municipality(org_id: int):
    muni = session.get(Organisation, org_id) or abort(404)
    if muni.kind is not OrgKind.municipality:
        abort(404)
    require("assignment.view", muni)
    year, start, end = _period()
    oid, aids = _ordinance_filter()
    today = svc.today()
    rows, total = dash.municipality_dashboard(muni, start=start, end=end, today=today, assignment_ids=aids)
    if _want_xlsx():
        return xlsx_response(f"ispolnenie-{muni.code}-{year}.xlsx", dash.HEADERS, dash.xlsx_rows(rows, total),
                             title=f"{year}-{year + 1}")
    crumbs = [(o.display_name, url_for("assignments.region", org_id=o.id, year=year))
              for o in muni.ancestors() if o.kind is OrgKind.region and can(g.user, "assignment.view", o)]
    return render_template("assignments/dashboard.html", level="municipality", org=muni, rows=rows, total=total,
                           year=year, years=_year_options(), ordinance_id=oid, ordinances=_ordinance_options(),
                           today=today, first_header="Организация", crumbs=crumbs)


@bp.route("/assignments/dashboard/org/<int:org_id>")
def org(org_id: int):
    org = session.get(Organisation, org_id) or abort(404)
    require("assignment.view", org)
    year, start, end = _period()
    oid, aids = _ordinance_filter()
    today = svc.today()
    status = request.args.get("status") or None
    if status and status not in dash.STATUS_FILTERS:
        abort(400)
    stmt = dash.occurrence_filter(org_ids=[org.id], start=start, end=end, today=today, status=status,
                                  assignment_ids=aids)
    if _want_xlsx():
        return xlsx_response(f"ispolnenie-{org.code}-{year}.xlsx", OCC_HEADERS,
                             (_occ_row(o, today) for o in session.scalars(dash.with_details(stmt))),
                             title=f"{year}-{year + 1}")
    page = max(1, request.args.get("page", 1, type=int))
    total_rows = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = dash.occurrence_rows(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE), today=today)
    counts = dash.org_counts(org, start=start, end=end, today=today, assignment_ids=aids)
    crumbs = [(o.display_name, url_for("assignments.region" if o.kind is OrgKind.region else "assignments.municipality",
                                       org_id=o.id, year=year))
              for o in org.ancestors() if o.kind in (OrgKind.region, OrgKind.municipality)
              and can(g.user, "assignment.view", o)]
    return render_template("assignments/org.html", org=org, items=items, counts=counts, year=year,
                           years=_year_options(), ordinance_id=oid, ordinances=_ordinance_options(), status=status,
                           statuses=dash.STATUS_FILTERS, page=page,
                           pages=max(1, -(-(total_rows or 0) // PER_PAGE)), total_rows=total_rows, crumbs=crumbs)


OCC_HEADERS = ["Организация", "№ п.п", "Мероприятие", "Вид", "Срок", "Срок по плану", "Состояние", "Представлено",
               "Принято", "Ответственный"]


def _occ_row(o: Occurrence, today: dt.date) -> list:
    from core.filters import ru_datetime
    item = o.assignment.plan_item
    return [o.org.display_name, item.number or "", item.title, o.kind.label, o.due_date, o.planned_date,
            o.effective_status(today).label, ru_datetime(o.submitted_at) if o.submitted_at else "",
            ru_datetime(o.completed_at) if o.status is OccurrenceStatus.accepted else "",
            o.target.responsible_name or ""]


# ---- the controller's view ---------------------------------------------------------------------------------

@bp.route("/assignments/control/<int:ordinance_id>")
def control(ordinance_id: int):
    """What the order's controllers watch: each one's duties (by part, where the order splits control) with
    how their assignments stand. For the controllers themselves and for whoever sees the order's assignments."""
    from ordinances.control import duties_by_controller
    o = session.get(Ordinance, ordinance_id) or abort(404)
    mine = [c for c in o.controllers if c.user_id == g.user.id]
    if not mine and not can(g.user, "assignment.view", o.issuer):
        abort(403)
    duties = duties_by_controller(o)
    counts = dash.item_counts(o.id, today=svc.today())
    order = sorted(o.controllers, key=lambda c: (c.user_id != g.user.id, c.position))
    return render_template("assignments/control.html", o=o, controllers=order, duties=duties, counts=counts,
                           mine={c.id for c in mine}, empty=dash.Counts())


@bp.route("/assignments/control")
def my_control():
    """The orders in force whose execution the user controls."""
    from ordinances.models.ordinances import Controller
    rows = session.execute(select(Ordinance, Controller).join(Controller, Controller.ordinance_id == Ordinance.id)
                           .where(Controller.user_id == g.user.id, Ordinance.status == OrdinanceStatus.in_force)
                           .order_by(Ordinance.date.desc().nulls_last())).all()
    return render_template("assignments/control_list.html", rows=rows)


# ---- my tasks, calendar, feed ---------------------------------------------------------------------------

@bp.route("/assignments/my")
def my_tasks():
    today = svc.today()
    own = _own_orgs(g.user)
    stmt = dash.occurrence_filter(org_ids=own, today=today, status="open")
    if _want_xlsx():
        return xlsx_response("moi-zadachi.xlsx", OCC_HEADERS,
                             (_occ_row(o, today) for o in session.scalars(dash.with_details(stmt))))
    page = max(1, request.args.get("page", 1, type=int))
    total_rows = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) if own else 0
    tasks = dash.occurrence_rows(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE), today=today) if own else []
    review, review_total = [], 0
    below = dash.below_condition(g.user)
    if below is not None:
        rstmt = select(Occurrence).join(Organisation, Organisation.id == Occurrence.org_id) \
            .where(Occurrence.status == OccurrenceStatus.submitted, below)
        review_total = session.scalar(select(func.count()).select_from(rstmt.subquery()))
        review = session.scalars(rstmt.order_by(Occurrence.submitted_at, Occurrence.id).limit(PER_PAGE).options(
            selectinload(Occurrence.org), selectinload(Occurrence.assignment).selectinload(Assignment.plan_item))).all()
    has_feed = session.scalar(select(FeedToken.id).where(FeedToken.user_id == g.user.id)) is not None
    return render_template("assignments/my.html", tasks=tasks, total_rows=total_rows, page=page,
                           pages=max(1, -(-total_rows // PER_PAGE)), review=review, review_total=review_total,
                           has_feed=has_feed, own=own)


@bp.route("/assignments/calendar")
def calendar():
    if not has_any(g.user, "assignment.view"):
        abort(403)
    today = svc.today()
    raw = request.args.get("month") or f"{today:%Y-%m}"
    try:
        year, month = (int(x) for x in raw.split("-"))
        first = dt.date(year, month, 1)
    except ValueError:
        abort(400)
    last = dt.date(year, month, monthrange(year, month)[1])
    rows = dash.calendar_counts(scope=scope_condition(g.user, "assignment.view"), start=first, end=last, today=today)
    by_day: dict[dt.date, list] = {}
    for r in rows:
        by_day.setdefault(r.due_date, []).append(r)
    weeks = Calendar(firstweekday=0).monthdatescalendar(year, month)
    prev_m = (first - dt.timedelta(days=1)).strftime("%Y-%m")
    next_m = (last + dt.timedelta(days=1)).strftime("%Y-%m")
    return render_template("assignments/calendar.html", weeks=weeks, by_day=by_day, month=month, year=year,
                           month_name=MONTHS[month - 1], prev_m=prev_m, next_m=next_m, today=today)


def _feed_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@bp.route("/assignments/feed-token", methods=["POST"])
def feed_token():
    """A new secret feed URL (the old one stops working); shown once, only its hash is kept."""
    plain = secrets.token_urlsafe(32)
    existing = session.scalar(select(FeedToken).where(FeedToken.user_id == g.user.id))
    if existing is None:
        session.add(FeedToken(user_id=g.user.id, token_sha256=_feed_digest(plain)))
    else:
        existing.token_sha256, existing.created_at, existing.last_used_at = _feed_digest(plain), utcnow(), None
    session.flush()
    from core import audit
    audit.record("feed.token", g.user, actor=g.user)
    url = url_for("assignments.feed", token=plain, _external=True)
    flash(f"Адрес календаря (сохраните его: он показывается один раз): {url}", "success")
    return redirect(url_for("assignments.my_tasks"))


@bp.route("/feed/<token>.ics")
def feed(token: str):
    """The personal iCalendar feed: public URL, the secret token in it is the credential."""
    from icalendar import Calendar as ICal
    from icalendar import Event, Todo

    from orgs.models.users import User
    ft = session.scalar(select(FeedToken).where(FeedToken.token_sha256 == _feed_digest(token)))
    user = session.get(User, ft.user_id) if ft else None
    if ft is None or user is None or not user.active:
        abort(404)
    ft.last_used_at = utcnow()
    today = svc.today()
    cal = ICal()
    cal.add("prodid", "-//Электронные журналы//Поручения//RU")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Поручения — {user.full_name}"[:250])
    stamp = dt.datetime.now(dt.timezone.utc)
    host = request.host
    own = _own_orgs(user)
    lo, hi = today - dt.timedelta(days=60), today + dt.timedelta(days=400)
    if own:
        for o in session.scalars(dash.occurrence_query(org_ids=own, start=lo, end=hi, today=today).limit(2000)):
            todo = Todo()
            todo.add("uid", f"occurrence-{o.id}@{host}")
            todo.add("dtstamp", stamp)
            item = o.assignment.plan_item
            todo.add("summary", f"{o.org.display_name}: {item.number + ' ' if item.number else ''}{item.title}"[:500])
            todo.add("due", o.due_date)
            todo.add("status", "COMPLETED" if o.status is OccurrenceStatus.accepted else "NEEDS-ACTION")
            todo.add("description", f"Состояние: {o.effective_status(today).label}")
            todo.add("url", url_for("assignments.occurrence", occ_id=o.id, _external=True))
            cal.add_component(todo)
    else:
        for r in dash.calendar_counts(scope=scope_condition(user, "assignment.view"), start=lo, end=hi, today=today):
            ev = Event()
            ev.add("uid", f"assignment-{r.assignment_id}-{r.kind.value}-{r.due_date:%Y%m%d}@{host}")
            ev.add("dtstamp", stamp)
            ev.add("dtstart", r.due_date)
            ev.add("summary", ("Назначить ответственного: " if r.kind is OccurrenceKind.appointment else "")
                   + f"{r.number + ' ' if r.number else ''}{r.title}"[:400]
                   + f" — выполнено {r.done} из {r.total}")
            ev.add("url", url_for("assignments.show", assignment_id=r.assignment_id, _external=True))
            cal.add_component(ev)
    return Response(cal.to_ical(), mimetype="text/calendar",
                    headers={"Content-Disposition": 'inline; filename="porucheniya.ics"',
                             "Cache-Control": "private, no-store"})


# ---- one occurrence ------------------------------------------------------------------------------------------

def _render_occurrence(occ: Occurrence, status: int = 200, **extra):
    today = svc.today()
    waiting, total = svc.open_children(occ)
    children = session.scalars(select(Occurrence).where(Occurrence.parent_id == occ.id).order_by(Occurrence.org_id)
                               .options(selectinload(Occurrence.org))).all() if total else []
    return render_template("assignments/occurrence.html", occ=occ, today=today, status=occ.effective_status(today),
                           can_submit=svc.may_submit(g.user, occ) and occ.status.is_open,
                           can_review=svc.may_review(g.user, occ) and occ.status is OccurrenceStatus.submitted,
                           can_accept=svc.may_accept(g.user, occ),
                           can_extend=svc.may_extend(g.user, occ) and occ.status.is_open,
                           waiting=waiting, total=total, children=children, form=request.form, **extra), status


@bp.route("/assignments/occurrences/<int:occ_id>")
def occurrence(occ_id: int):
    return _render_occurrence(get_occurrence(occ_id))


def _uploads() -> list[svc.Upload]:
    out = []
    for f in request.files.getlist("files"):
        if f and f.filename:
            out.append(svc.Upload(f.filename, f.read(svc.EVIDENCE_MAX_BYTES + 1),
                                  f.mimetype or "application/octet-stream"))
    return out


@bp.route("/assignments/occurrences/<int:occ_id>/submit", methods=["POST"])
def submit(occ_id: int):
    occ = get_occurrence(occ_id, for_update=True)
    if not svc.may_submit(g.user, occ):
        abort(403)
    responsible = None
    if occ.kind is OccurrenceKind.appointment:
        responsible = {"name": request.form.get("responsible_name", ""),
                       "position": request.form.get("responsible_position")}
    try:
        svc.submit(occ, actor=g.user, text=request.form.get("text"), link=request.form.get("link"), files=_uploads(),
                   responsible=responsible, close_reason=request.form.get("close_reason"))
    except svc.AssignmentError as exc:
        return _render_occurrence(occ, 400, error=str(exc))
    flash("Отчёт отправлен на проверку.", "success")
    return redirect(url_for("assignments.occurrence", occ_id=occ.id))


@bp.route("/assignments/occurrences/<int:occ_id>/accept", methods=["POST"])
def accept(occ_id: int):
    occ = get_occurrence(occ_id, for_update=True)
    if not svc.may_review(g.user, occ):
        abort(403)
    try:
        svc.accept(occ, actor=g.user)
    except svc.AssignmentError as exc:
        return _render_occurrence(occ, 400, error=str(exc))
    flash("Принято.", "success")
    target = request.form.get("next")
    return redirect(target if target and is_same_site(target) else url_for("assignments.occurrence", occ_id=occ.id))


@bp.route("/assignments/occurrences/<int:occ_id>/return", methods=["POST"])
def return_(occ_id: int):
    occ = get_occurrence(occ_id, for_update=True)
    if not svc.may_review(g.user, occ):
        abort(403)
    try:
        svc.return_(occ, actor=g.user, comment=request.form.get("comment", ""))
    except svc.AssignmentError as exc:
        return _render_occurrence(occ, 400, error=str(exc))
    flash("Возвращено на доработку.", "success")
    return redirect(url_for("assignments.occurrence", occ_id=occ.id))


@bp.route("/assignments/occurrences/<int:occ_id>/extend", methods=["POST"])
def extend(occ_id: int):
    occ = get_occurrence(occ_id, for_update=True)
    if not svc.may_extend(g.user, occ):
        abort(403)
    try:
        svc.extend(occ, actor=g.user, new_due=_required_date("new_due", "Новый срок"),
                   reason=request.form.get("reason", ""))
    except svc.AssignmentError as exc:
        return _render_occurrence(occ, 400, error=str(exc))
    flash(f"Срок продлён до {occ.due_date:%d.%m.%Y}.", "success")
    return redirect(url_for("assignments.occurrence", occ_id=occ.id))


@bp.route("/assignments/evidence/<int:evidence_id>")
def evidence(evidence_id: int):
    ev = session.get(OccurrenceEvidence, evidence_id) or abort(404)
    get_occurrence(ev.occurrence_id)
    try:
        data = svc.read_evidence(ev)
    except FileCorrupt:
        abort(500)              # the store does not hold what was uploaded: an integrity failure, not the user's
    return Response(data, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(ev.filename or 'файл')}",
                             "X-Content-Type-Options": "nosniff"})


# ---- inbox -----------------------------------------------------------------------------------------------

@bp.route("/assignments/inbox")
def inbox():
    return render_template("assignments/inbox.html", rows=notifications.inbox(g.user.id))


@bp.route("/assignments/inbox/read", methods=["POST"])
def inbox_read():
    ids = _ints("ids") or None
    n = notifications.mark_read(g.user.id, ids)
    flash(f"Отмечено прочитанными: {n}.", "success")
    return redirect(url_for("assignments.inbox"))
