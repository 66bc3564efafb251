"""Helpers shared by the tests (fixtures live in conftest.py)."""
import re

PASSWORD = "correct-horse-42"


def csrf_token(client, path="/login") -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client, user_login: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post("/login", data={"login": user_login, "password": password, "csrf_token": token})


