"""Generated from app.url_map: no endpoint without an access rule.

Every rule except the explicit public allow-list must send an anonymous visitor to the login page
(pages) or answer 401 (API). A logged-in user who holds no role anywhere must never get 200 from an
endpoint that is not on the short list of personal/scoped pages, and must never cause a 5xx.
Path arguments are filled with ids of existing rows (the fixture tree, the user, the user's token)
so a 403 is a real access decision, not just "not found".
"""
import re

import pytest
from sqlalchemy import text

from tests.helpers import csrf_token

PUBLIC = {"static", "auth.login", "auth.forgot", "auth.reset",
          "api.openapi", "health.healthz", "health.readyz", "public_verify.verify",
          "assignments.feed",
          "observability.metrics_view"}  # its own check: metrics token or a loopback client
# Pages any logged-in user may open: their own account/tasks/inbox, and index pages whose content is
# filtered by app.auth.access.scope_condition (empty for a user without roles).
SELF_SERVICE = {
    "home.index", "auth.account", "auth.logout", "auth.revoke_token",  # own tokens only
    "auth.change_password", "auth.end_session", "auth.end_all_sessions", "auth.second_factor",   # own account
    "auth.new_recovery_codes", "auth.disable_second_factor", "auth.enable_second_factor",
    "auth.digest_setting", "assignments.my_control",                  # own e-mail setting, own controls
    "orgs_api.me",
    "assignments.my_tasks", "assignments.inbox", "assignments.inbox_read", "assignments.calendar",
    "assignments.feed_token", "assignments.index", "assignments.dashboard",
    "ordinances.index", "sheets.index", "transitions.index", "reports.index", "orgs.orgs",
    "archive.index", "archive.verify",
    "ordinances_api.ordinances", "orgs_api.organisations", "sheets_api.index", "assignment_api.assignments",
    "assignment_api.occurrences", "transitions_api.campaigns", "reports_api.report_forms",
    "archive_api.records", "archive_api.verify",
}

ARG_TABLES = {
    "assignment_id": "assignments", "occ_id": "occurrences", "evidence_id": "occurrence_evidence",
    "item_id": "plan_items", "ordinance_id": "ordinances", "executor_id": "plan_item_executors",
    "sheet_id": "summary_sheets", "batch_id": "sheet_batches", "record_id": "archive_records",
    "act_id": "archive_disposal_acts", "hold_id": "archive_holds", "report_id": "archive_validation_reports",
    "campaign_id": "transition_campaigns", "stage_id": "transition_stage_defs", "form_id": "report_forms",
    "submission_id": "report_submissions", "statement_id": "transition_readiness_statements",
    "grant_id": "role_grants",
}


def _rules(app):
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def _args(db, rule, ids):
    values = {}
    for name in rule.arguments:
        if name in ids:
            values[name] = ids[name]
        elif name in ARG_TABLES:
            values[name] = db.scalar(text(f"SELECT min(id) FROM {ARG_TABLES[name]}")) or 1  # nosec B608 # fixed table names
        elif name == "filename":
            values[name] = "style.css"
        elif name in ("period_key", "key", "token", "document_id"):
            values[name] = "x"
        else:
            values[name] = 1
    return values


def _path(app, rule, values):
    with app.test_request_context():
        from flask import url_for
        return url_for(rule.endpoint, **values, _external=False)


@pytest.fixture
def ids(db, tree, make_user):
    """Real rows for the path arguments: an ordinance in force with its plan assigned to a school, a
    transition campaign with its stages, a user and the user's token."""
    import datetime as dt
    from pathlib import Path

    from assignments import services as assignment_services
    from ordinances import services as ordinance_services
    from ordinances.models.ordinances import OrdinanceStatus
    from ordinances.parsing.parser import parse_file
    from orgs import accounts as services
    from transitions import services as transition_services
    official = make_user("regional_official", tree["region"])
    seed = next((Path(__file__).resolve().parents[1] / "data" / "seeds").glob("001_*.txt"))
    order = ordinance_services.create_from_parsed(parse_file(seed), issuer=tree["region"], actor=official)
    ordinance_services.set_status(order, OrdinanceStatus.in_force, actor=official)
    assignment_services.create_assignment(next(i for i in order.plan.items if i.number == "2.1"), tree["region"],
                                          [tree["a"]],
                                          horizon=(dt.date(2010, 9, 1), dt.date(2011, 8, 31)))
    transition_services.create_campaign(region=tree["region"], title="Кампания", target_date=dt.date(2026, 9, 1),
                                        reply_deadline=dt.date(2026, 6, 3), actor=official)
    user = make_user()
    _, _ = services.issue_token(user, "t")
    db.flush()
    tok = db.scalar(text("SELECT min(id) FROM api_tokens WHERE user_id = :u"), {"u": user.id})
    return {"user": user, "org_id": tree["a"].id, "municipality_id": tree["m1"].id, "school_id": tree["a"].id,
            "target_id": tree["a"].id, "user_id": user.id, "token_id": tok}


def test_public_allow_list_matches_the_auth_module(app):
    from orgs.auth import PUBLIC_ENDPOINTS
    assert PUBLIC_ENDPOINTS <= PUBLIC, PUBLIC_ENDPOINTS - PUBLIC


def test_every_endpoint_needs_login(app, client, db, ids):
    token = csrf_token(client)  # anonymous session: POSTs reach the login check, not just CSRF
    checked = 0
    for rule in _rules(app):
        if rule.endpoint in PUBLIC:
            continue
        path = _path(app, rule, _args(db, rule, ids))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            kwargs = {"data": {"csrf_token": token}} if method != "GET" and not path.startswith("/api/") else {}
            resp = client.open(path, method=method, **kwargs)
            checked += 1
            if path.startswith("/api/"):
                assert resp.status_code == 401, (rule.endpoint, method, resp.status_code)
            else:
                assert resp.status_code == 302, (rule.endpoint, method, resp.status_code)
                assert resp.headers["Location"].split("?")[0].endswith("/login"), (rule.endpoint, method)
    assert checked > 100


def test_a_user_without_roles_gets_nothing(app, client, db, ids, logged_in):
    from orgs import accounts as services
    user = ids["user"]
    logged_in(user)
    token = csrf_token(client, "/account")
    _, bearer = services.issue_token(user, "api")
    leaked = []
    for rule in _rules(app):
        if rule.endpoint in PUBLIC or rule.endpoint in SELF_SERVICE:
            continue
        path = _path(app, rule, _args(db, rule, ids))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if path.startswith("/api/"):
                resp = client.open(path, method=method, json={},
                                   headers={"Authorization": f"Bearer {bearer}"})
            else:
                resp = client.open(path, method=method, data={"csrf_token": token} if method != "GET" else None)
            assert resp.status_code < 500, (rule.endpoint, method, resp.status_code)
            if resp.status_code < 300 or (resp.status_code in (301, 302, 303) and method != "GET"
                                          and "/login" not in resp.headers.get("Location", "")):
                leaked.append((rule.endpoint, method, resp.status_code))
    assert not leaked, leaked


def test_self_service_pages_show_nothing_of_the_tree(app, client, db, ids, tree, logged_in):
    logged_in(ids["user"])
    for endpoint in ("ordinances.index", "sheets.index", "transitions.index", "orgs.orgs", "archive.index",
                     "assignments.index", "assignments.dashboard"):
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        resp = client.get(_path(app, rule, {}))
        assert resp.status_code in (200, 403, 404), (endpoint, resp.status_code)
        body = resp.get_data(as_text=True)
        for org in ("Школа А", "Школа Б", "Первый район"):
            assert org not in body, (endpoint, org)


def test_csrf_is_required_on_every_form_post(app, client, db, ids, logged_in):
    logged_in(ids["user"])
    posts = 0
    for rule in _rules(app):
        if "POST" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        resp = client.post(_path(app, rule, _args(db, rule, ids)), data={})
        posts += 1
        assert resp.status_code == 400, (rule.endpoint, resp.status_code)
        assert "Форма устарела" in resp.get_data(as_text=True), rule.endpoint
    assert posts > 40


def test_session_cookie_changes_at_login_and_a_planted_cookie_gains_nothing(client, db, make_user):
    from tests.helpers import login
    user = make_user()
    client.get("/login")
    before = client.get_cookie("session", domain="jt.test")
    assert before is not None
    assert login(client, user.login).status_code == 302
    after = client.get_cookie("session", domain="jt.test")
    assert after.value != before.value
    # The pre-login cookie (e.g. planted by an attacker) is still anonymous.
    from flask.testing import FlaskClient  # noqa: F401
    client.set_cookie("session", before.value, domain="jt.test")
    assert client.get("/account").status_code == 302


def test_secure_headers(client, db, make_user, logged_in):
    resp = client.get("/login")
    h = resp.headers
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    csp = h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert re.search(r"script-src 'self' 'nonce-[\w-]+'", csp) and "unsafe-inline" not in csp.split("style-src")[0]
    assert "Strict-Transport-Security" not in h
    secure = client.get("/login", base_url="https://jt.test")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    api = client.get("/api/v1/me")
    assert api.headers["X-Content-Type-Options"] == "nosniff"


def test_inline_scripts_carry_the_nonce():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "templates"
    bare = [str(p) for p in root.rglob("*.html")
            for tag in re.findall(r"<script\b[^>]*>", p.read_text(encoding="utf-8"))
            if "src=" not in tag and "csp_nonce()" not in tag]
    assert not bare, bare
    handlers = [str(p) for p in root.rglob("*.html") if re.search(r"\son[a-z]+=\"", p.read_text(encoding="utf-8"))]
    assert not handlers, handlers


def test_russian_error_pages(client, db, make_user, logged_in):
    logged_in(make_user())
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and "Страница не найдена" in resp.get_data(as_text=True)
    resp = client.get("/orgs/import")
    assert resp.status_code == 403 and "Доступ запрещён" in resp.get_data(as_text=True)
    resp = client.put("/orgs")
    assert resp.status_code == 405 and "Метод не поддерживается" in resp.get_data(as_text=True)
    for page in ("/no-such-page", "/orgs/import"):
        assert "Not Found" not in client.get(page).get_data(as_text=True)
    api = client.get("/api/v1/no-such")
    assert api.status_code in (401, 404) and api.is_json
