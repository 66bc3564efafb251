"""Accounts, sessions and throttling against a guesser, a stolen cookie and a lost token (issue 17)."""
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from core.db import session, utcnow
from orgs import accounts as services
from tests.helpers import PASSWORD, csrf_token, login, statements_sent


def _cookie(client) -> str:
    return client.get_cookie("session", domain="jt.test").value


def _thief(app, cookie: str):
    other = app.test_client()
    other.set_cookie("session", cookie, domain="jt.test")
    return other


def _admin_post(client, path: str, user):
    return client.post(path, data={"csrf_token": csrf_token(client, f"/admin/users/{user.id}")})


def _security_events(app, kind: str) -> list:
    with app.extensions["db_engine"].connect() as c:
        return list(c.execute(text("SELECT kind, status, path, user_id, detail FROM security_events "
                                   "WHERE kind = :k ORDER BY id"), {"k": kind}))


# ---- sessions ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["logout", "password", "deactivation", "everywhere"])
def test_a_stolen_session_cookie_stops_working(app, client, make_user, tree, how):
    user = make_user("director", tree["a"])
    assert login(client, user.login).status_code == 302
    thief = _thief(app, _cookie(client))
    assert thief.get("/").status_code == 200                       # the copy works as long as the session lives
    if how == "logout":
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    elif how == "password":
        token = csrf_token(client, "/account/password")
        resp = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                      "new": "Новый-пароль-2026", "repeat": "Новый-пароль-2026"})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        assert client.get("/").status_code == 200                 # this browser stays logged in
    elif how == "deactivation":
        admin = make_user("admin", tree["region"])
        services.deactivate(user, actor=admin)
    else:
        client.post("/account/sessions/end-all", data={"csrf_token": csrf_token(client, "/account")})
    resp = thief.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_idle_and_absolute_limits_end_a_session(app, client, make_user, tree):
    from orgs.models.users import UserSession
    user = make_user("director", tree["a"])
    login(client, user.login)
    record = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    record.last_seen_at = utcnow() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    assert client.get("/").status_code == 302
    login(client, user.login)
    record = session.scalars(select(UserSession).where(UserSession.user_id == user.id,
                                                       UserSession.revoked_at.is_(None))
                             .order_by(UserSession.id)).all()[-1]            # the newest: this login's
    record.expires_at = utcnow() - timedelta(seconds=1)             # busy, but past the absolute limit
    assert client.get("/").status_code == 302


def test_the_profile_lists_sessions_and_ends_one(app, client, make_user, tree):
    user = make_user("director", tree["a"])
    other = app.test_client()
    login(other, user.login)
    login(client, user.login)
    page = client.get("/account").get_data(as_text=True)
    assert "этот сеанс" in page and page.count("Завершить") == 1
    session_id = re.search(r'/account/sessions/(\d+)/end', page).group(1)
    client.post(f"/account/sessions/{session_id}/end", data={"csrf_token": csrf_token(client, "/account")})
    assert other.get("/").status_code == 302 and client.get("/").status_code == 200


# ---- passwords ------------------------------------------------------------------------------------------------

def test_password_change_checks_the_current_one_strength_and_the_common_list(client, make_user, tree):
    user = make_user("director", tree["a"])
    login(client, user.login)

    def change(current, new, repeat=None):
        return client.post("/account/password", data={"csrf_token": csrf_token(client, "/account/password"),
                                                      "current": current, "new": new, "repeat": repeat or new})
    assert "Текущий пароль введён неверно" in change("не тот", "Другой-пароль-99").get_data(as_text=True)
    assert "распространённых" in change(PASSWORD, "password123").get_data(as_text=True)
    assert "распространённых" in change(PASSWORD, "qwerty123456").get_data(as_text=True)
    assert "не совпадают" in change(PASSWORD, "Другой-пароль-99", "Другой-пароль-98").get_data(as_text=True)
    assert "не короче" in change(PASSWORD, "a1").get_data(as_text=True)
    assert change(PASSWORD, "Другой-пароль-99").status_code == 302
    assert services.authenticate(user.login, "Другой-пароль-99").user is user


def test_an_administrators_password_must_be_changed_at_first_login(client, make_user, tree, logged_in):
    admin = make_user("admin", tree["region"])
    logged_in(admin)
    token = csrf_token(client, "/admin/users")
    resp = client.post("/admin/users", data={"csrf_token": token, "login": "new-teacher", "full_name": "Новый Учитель",
                                             "password": "Выданный-пароль-1", "role": "class_teacher",
                                             "organisation_id": tree["a"].id})
    assert resp.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert login(client, "new-teacher", "Выданный-пароль-1").status_code == 302
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/password")
    assert "Пароль задал администратор" in client.get("/account/password").get_data(as_text=True)
    token = csrf_token(client, "/account/password")
    client.post("/account/password", data={"csrf_token": token, "current": "Выданный-пароль-1",
                                           "new": "Свой-пароль-2026", "repeat": "Свой-пароль-2026"})
    assert client.get("/").status_code == 200


def test_deactivation_and_force_reset_end_sessions_and_revoke_tokens(app, client, make_user, tree, logged_in):
    user = make_user("director", tree["a"])
    _, bearer = services.issue_token(user, "api")
    h = {"Authorization": f"Bearer {bearer}"}
    assert client.get("/api/v1/me", headers=h).status_code == 200
    victim = app.test_client()
    login(victim, user.login)
    admin = make_user("admin", tree["region"])
    logged_in(admin)
    page = _admin_post(client, f"/admin/users/{user.id}/reset", user)
    temporary = re.search(r'id="temporary-password">([^<]+)<', page.get_data(as_text=True)).group(1)
    assert victim.get("/").status_code == 302 and client.get("/api/v1/me", headers=h).status_code == 401
    assert services.authenticate(user.login, PASSWORD).user is None
    assert services.authenticate(user.login, temporary).user is user and user.must_change_password
    _admin_post(client, f"/admin/users/{user.id}/deactivate", user)
    assert not user.active and services.authenticate(user.login, temporary).user is None


def test_a_reset_link_by_e_mail_works_once(app, client, make_user, tree, monkeypatch):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    from core import db
    from web.embedded import free_ports

    class Inbox(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)
    inbox = Inbox()
    port = free_ports(1)[0]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}")
        user = make_user("director", tree["a"])
        user.email = "director@school.example"
        token = csrf_token(client, "/login/forgot")
        for typed in ("nobody", user.login):                      # the same answer either way
            page = client.post("/login/forgot", data={"csrf_token": token, "login": typed}).get_data(as_text=True)
            assert "Если такой пользователь есть" in page
        db.commit()
        assert len(inbox.messages) == 1
    finally:
        controller.stop()
    body = inbox.messages[0].get_payload(decode=True).decode()
    link = re.search(r"http://jt\.test(/login/reset/\S+)", body).group(1)
    form = {"csrf_token": csrf_token(client, link), "new": "Сброшенный-пароль-5", "repeat": "Сброшенный-пароль-5"}
    assert client.post(link, data=form).status_code == 302
    assert services.authenticate(user.login, "Сброшенный-пароль-5").user is user
    assert client.get(link).status_code == 404                    # used once


def test_a_password_is_not_sent_over_plain_smtp(app, monkeypatch):
    from core.mail import MailConfigError, send_mail
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://robot:secret@127.0.0.1:25")
    with app.app_context(), pytest.raises(MailConfigError, match="in the clear"):
        send_mail("a@b.ru", "x", "y")


# ---- tokens ----------------------------------------------------------------------------------------------------

def test_tokens_expire_carry_a_scope_and_record_their_use(client, make_user, tree):
    user = make_user("director", tree["a"])
    tok, bearer = services.issue_token(user, "read-only", scope="read")
    h = {"Authorization": f"Bearer {bearer}"}
    assert client.get("/api/v1/me", headers=h).status_code == 200
    assert tok.last_used_at is not None
    refused = client.post("/api/v1/sheets/class-teachers", headers=h, json={})
    assert refused.status_code == 403 and "только для чтения" in refused.json["message"]
    tok.expires_at = utcnow() - timedelta(seconds=1)
    assert client.get("/api/v1/me", headers=h).status_code == 401


# ---- throttling ------------------------------------------------------------------------------------------------

def test_twenty_parallel_wrong_passwords_count_twenty(app, db, monkeypatch):
    """Each guess in its own session and connection, released at once by a barrier: the atomic counters
    (the address's and the user's) miss none."""
    from sqlalchemy import create_engine

    from core.db import AppSession
    from core.db import session as scoped
    from orgs.passwords import hash_password
    engine = create_engine(app.extensions["db_engine"].url, pool_size=45)   # two connections per guess
    monkeypatch.setitem(app.extensions, "db_engine", engine)
    with engine.begin() as c:                                     # a committed user the threads can all see
        uid = c.execute(text("INSERT INTO users (login, full_name, password_hash, active, failed_logins, created_at, "
                             "must_change_password) VALUES ('burst', 'Burst', :h, true, 0, now(), false) "
                             "RETURNING id"), {"h": hash_password(PASSWORD)}).scalar_one()
    barrier = threading.Barrier(20)
    results = []

    def guess(i):
        with app.test_request_context("/login", environ_base={"REMOTE_ADDR": "10.9.9.9"}):
            scoped.registry.set(AppSession(bind=engine))
            barrier.wait()
            results.append(services.authenticate("burst", f"wrong-{i}", ip="10.9.9.9").user)
            scoped.commit()
            scoped.remove()
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with engine.connect() as c:
            failures = c.execute(text("SELECT failures FROM login_throttle WHERE key = 'ip:10.9.9.9'")).scalar_one()
            counted = c.execute(text("SELECT failed_logins FROM users WHERE id = :u"), {"u": uid}).scalar_one()
    finally:   # the test's own committed rows go (the append-only trigger is lifted for this cleanup only)
        with engine.begin() as c:
            c.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            c.execute(text("DELETE FROM audit_log WHERE actor_id = :u"), {"u": uid})
            c.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
            c.execute(text("DELETE FROM users WHERE id = :u"), {"u": uid})
        engine.dispose()
    assert results == [None] * 20
    assert failures == 20
    # the first LOGIN_IP_FREE_FAILURES reached the password check for sure; the others may have been told to
    # wait first (still counted above); each that reached it counted on the user, none lost
    assert app.config["LOGIN_IP_FREE_FAILURES"] <= counted <= 20


def test_spraying_from_one_address_is_slowed_not_the_account(app, client, make_user, tree):
    victims = [make_user("director", tree["a"]) for _ in range(3)]
    free = app.config["LOGIN_IP_FREE_FAILURES"]
    answers = [services.authenticate(victims[i % 3].login, "Spring2026!", ip="10.1.1.1").error for i in range(free)]
    assert answers == [services.WRONG] * free
    refused = services.authenticate(victims[0].login, "Spring2026!", ip="10.1.1.1")
    assert refused.user is None and "с этого адреса" in refused.error
    # even the right password waits from that address …
    assert services.authenticate(victims[1].login, PASSWORD, ip="10.1.1.1").user is None
    # … but the account is not locked: its owner logs in from elsewhere
    assert services.authenticate(victims[1].login, PASSWORD, ip="10.2.2.2").user is victims[1]
    # and the wait doubles with each further failure
    from orgs import throttle
    first = throttle.waiting("10.1.1.1").seconds
    throttle.record_failure("10.1.1.1")
    assert throttle.waiting("10.1.1.1").seconds >= 2 * first - 1


def test_administrators_above_an_account_are_told_of_a_run_of_wrong_passwords(app, make_user, tree):
    from assignments.notifications import inbox
    victim = make_user("director", tree["a"])
    regional, municipal, elsewhere = (make_user("admin", tree[k]) for k in ("region", "m1", "m2"))
    for n in range(services.FAILED_LOGINS_NOTICE + 2):        # one notice per run, not one per guess
        assert services.authenticate(victim.login, f"guess-{n}", ip=f"10.9.9.{n}").user is None
    for admin in (regional, municipal):
        (entry,) = inbox(admin.id)
        assert victim.login in entry.text and entry.url == f"/admin/users/{victim.id}"
    assert inbox(elsewhere.id) == [] and inbox(victim.id) == []
    assert services.authenticate(victim.login, PASSWORD, ip="10.9.9.99").user is victim   # a new run starts
    for n in range(services.FAILED_LOGINS_NOTICE - 1):
        services.authenticate(victim.login, "again", ip=f"10.9.8.{n}")
    assert len(inbox(regional.id)) == 1                                          # under the threshold: quiet


def test_unknown_wrong_and_throttled_logins_answer_alike(app, make_user, tree):
    user = make_user("director", tree["a"])
    assert services.authenticate("nobody-at-all", "x", ip="10.3.3.3").error == \
        services.authenticate(user.login, "x", ip="10.3.3.4").error == services.WRONG
    for _ in range(app.config["LOGIN_IP_FREE_FAILURES"] + 1):
        services.authenticate("someone", "x", ip="10.3.3.5")
    known = services.authenticate(user.login, "x", ip="10.3.3.5").error
    unknown = services.authenticate("nobody-at-all", "x", ip="10.3.3.5").error
    assert re.sub(r"\d+", "N", known) == re.sub(r"\d+", "N", unknown)      # same text whatever the login


# ---- the refusals are kept ---------------------------------------------------------------------------------------

def test_refusals_are_logged_in_their_own_transaction(app, client, make_user, tree, logged_in):
    user = make_user("director", tree["a"])
    logged_in(user)
    assert client.get("/admin/users").status_code == 403          # the request's transaction rolls back
    (event,) = _security_events(app, "forbidden")
    assert event.status == 403 and event.path == "/admin/users" and event.user_id == user.id
    assert client.post("/account", data={"name": "без CSRF"}).status_code == 400
    assert _security_events(app, "csrf")
    login(app.test_client(), user.login, "неверный-пароль-1")
    (failed,) = _security_events(app, "login_failed")
    assert failed.user_id == user.id and "неверный" not in str(failed.detail)


def test_every_grant_is_loaded_with_the_session_in_one_query(app, db, client, tree, make_user):
    """The session, its user and all the user's grants come in one joined query before each page; a user with
    several grants must keep all of them (a joined collection cut to its first row would drop rights)."""
    from flask import g

    from orgs.models.users import Role
    user = make_user("director", tree["a"])
    services.grant(user, Role.municipal_official, tree["m1"])
    services.grant(user, Role.archivist, tree["region"])
    ids = {"a": tree["a"].id, "m1": tree["m1"].id, "region": tree["region"].id}
    db.expunge_all()
    assert login(client, user.login).status_code == 302
    with statements_sent(app) as statements, client:
        assert client.get("/assignments/inbox").status_code == 200
        grants = {(gr.role, gr.organisation_id) for gr in g.user.grants}
    assert grants == {(Role.director, ids["a"]), (Role.municipal_official, ids["m1"]),
                      (Role.archivist, ids["region"])}
    assert not any("FROM role_grants" in s and "user_sessions" not in s for s in statements), \
        "grants were loaded by a query of their own"
