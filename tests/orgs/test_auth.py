from core.audit import AuditEntry
from core.db import session
from tests.helpers import PASSWORD, csrf_token, login


def test_login_logout(client, make_user, tree):
    user = make_user("director", tree["a"])
    assert client.get("/").status_code == 302           # anonymous: sent to the login page
    resp = login(client, user.login)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert user.full_name in page and "Директор школы" in page
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/")}).status_code == 302
    assert client.get("/").status_code == 302
    actions = [e.action for e in session.query(AuditEntry).filter_by(actor_id=user.id)]
    assert "login" in actions and "logout" in actions


def test_password_is_argon2_hashed(make_user):
    user = make_user()
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_wrong_password_is_refused_without_saying_which_part(client, make_user):
    user = make_user()
    for name, pw in ((user.login, "wrong-password-1"), ("nobody-here", PASSWORD)):
        page = login(client, name, pw)
        assert page.status_code == 200 and "Неверный логин или пароль." in page.get_data(as_text=True)


def test_csrf_token_is_required_on_forms(client, make_user, logged_in, tree):
    user = make_user("admin", tree["region"])
    assert client.post("/login", data={"login": user.login, "password": PASSWORD}).status_code == 400
    logged_in(user)
    resp = client.post("/account", data={"name": "без токена CSRF"})
    assert resp.status_code == 400
    resp = client.post("/account", data={"name": "с токеном", "csrf_token": csrf_token(client, "/account")})
    assert resp.status_code == 200 and "jt_" in resp.get_data(as_text=True)


def test_session_cookie_flags(client, make_user):
    user = make_user()
    resp = login(client, user.login)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_cookie_is_set_at_login_and_not_resent_with_every_page(client, make_user, tree):
    """It carries only the session id and lives as long as the session may (SESSION_ABSOLUTE_HOURS); the
    server-side record ends it earlier (idle, logout), so pages need not sign and send it again."""
    user = make_user("director", tree["a"])
    resp = login(client, user.login)
    assert "Expires=" in resp.headers["Set-Cookie"]
    client.get("/assignments/inbox")          # the first page's forms put the CSRF secret into the session
    for path in ("/assignments/inbox", "/assignments/my", "/"):
        page = client.get(path)
        assert page.status_code == 200 and "Set-Cookie" not in page.headers, path


def test_login_redirects_only_within_the_site(client, make_user):
    user = make_user()
    for target, expected in (("/orgs", "/orgs"), ("https://evil.example/", "/"), ("//evil.example", "/"),
                             ("/\\evil.example", "/")):
        resp = client.post(f"/login?next={target}", data={"login": user.login, "password": PASSWORD,
                                                            "csrf_token": csrf_token(client)})
        assert resp.headers["Location"] == expected


def test_password_change_ends_other_sessions(client, make_user, tree):
    from orgs import accounts as services
    user = make_user("director", tree["a"])
    login(client, user.login)
    assert client.get("/").status_code == 200
    services.set_password(user, "another-pass-77")
    assert client.get("/").status_code == 302
