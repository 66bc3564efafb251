"""TOTP second factor: required for archivists and administrators, one-time codes, recovery codes."""
import re
import time

import pyotp
import pytest

from tests.helpers import csrf_token, login


@pytest.fixture(autouse=True)
def required_roles(app, monkeypatch):
    monkeypatch.setitem(app.config, "SECOND_FACTOR_ROLES", "admin,archivist")


def _code(client, code):
    return client.post("/login/second-factor", data={"csrf_token": csrf_token(client, "/login/second-factor"),
                                                     "code": code})


def test_an_archivist_must_set_up_and_then_pass_totp(app, client, make_user, tree):
    archivist = make_user("archivist", tree["region"])
    resp = login(client, archivist.login)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login/second-factor")
    assert client.get("/archive").headers["Location"].startswith("/login/second-factor")   # nothing else yet
    assert client.get("/api/v1/me").status_code == 401
    page = client.get("/login/second-factor").get_data(as_text=True)
    assert "Настройка второго фактора" in page and "data:image/svg+xml;base64," in page
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    totp = pyotp.TOTP(secret)
    assert "Код не подошёл" in _code(client, "000000" if totp.now() != "000000" else "111111").get_data(as_text=True)
    done = _code(client, totp.now()).get_data(as_text=True)
    codes = re.findall(r"<li>(\d{5}-\d{5})</li>", done)
    assert len(codes) == 10
    assert client.get("/archive").status_code == 200
    assert archivist.totp_secret and secret not in archivist.totp_secret        # stored encrypted

    # the next login asks for a code; the one already used is refused (no replay), the next step's works
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, archivist.login)
    used = totp.now()
    assert "Код не подошёл" in _code(client, used).get_data(as_text=True)
    assert _code(client, totp.at(time.time() + totp.interval)).status_code == 302
    assert client.get("/archive").status_code == 200

    # a recovery code works once
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, archivist.login)
    assert _code(client, codes[0]).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, archivist.login)
    assert "Код не подошёл" in _code(client, codes[0]).get_data(as_text=True)
    assert len(archivist.recovery_codes) == 9


def test_required_totp_cannot_be_switched_off_and_optional_totp_can(app, client, make_user, tree, logged_in):
    director = make_user("director", tree["a"])
    assert login(client, director.login).headers["Location"] == "/"          # not required for a director
    client.post("/account/second-factor/enable", data={"csrf_token": csrf_token(client, "/account")})
    page = client.get("/login/second-factor").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    _code(client, pyotp.TOTP(secret).now())
    assert director.totp_enabled_at is not None
    client.post("/account/second-factor/disable", data={"csrf_token": csrf_token(client, "/account")})
    assert director.totp_enabled_at is None
    admin = make_user("admin", tree["region"])
    other = app.test_client()
    login(other, admin.login)
    page = other.get("/login/second-factor").get_data(as_text=True)
    _code(other, pyotp.TOTP(re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)).now())
    resp = other.post("/account/second-factor/disable", data={"csrf_token": csrf_token(other, "/account")})
    assert resp.status_code == 303 and admin.totp_enabled_at is not None
