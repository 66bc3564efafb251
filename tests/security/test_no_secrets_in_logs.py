"""A representative run with every logger at DEBUG: logins (right and wrong), API tokens, a marks import
with pupils' names (good and bad), a signing attempt with a passphrase, ordinance parsing, errors.
Nothing of the pupils' names, passwords, passphrases or tokens may reach the logs."""
import io
import logging

from tests.helpers import PASSWORD, csrf_token, login

PUPILS = ["Шешерина Ярослава Тимуровна", "Гарипов Ильнур Ринатович", "Ёлкина Анастасия Павловна"]
PASSPHRASE = "kluch-ot-kvartiry-314159"
WRONG_PASSWORD = "wrong-parol-271828"


def _marks_csv(bad: bool = False) -> bytes:
    lines = ["класс;ученик;предмет;период;отметка"]
    for p in PUPILS:
        lines.append(f"7А;{p};Алгебра;Год;{'семь' if bad else '5'}")
    return "\n".join(lines).encode("utf-8")


def test_a_full_flow_logs_no_personal_data_or_secrets(app, client, db, tree, make_user, caplog):
    from orgs import accounts as services
    caplog.set_level(logging.DEBUG)              # the root logger: every logger propagates here
    saved = {name: logging.getLogger(name).level for name in list(logging.root.manager.loggerDict)}
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        director = make_user("director", tree["a"], login="director-logs")
        # wrong then right password
        client.post("/login", data={"login": director.login, "password": WRONG_PASSWORD,
                                    "csrf_token": csrf_token(client)})
        assert login(client, director.login).status_code == 302
        # a marks import with an error naming a pupil, then a good one
        for bad in (True, False):
            resp = client.post("/sheets/import", content_type="multipart/form-data",
                               data={"csrf_token": csrf_token(client, "/sheets/import"), "school_id": tree["a"].id,
                                     "school_year": "2025/2026",
                                     "file": (io.BytesIO(_marks_csv(bad)), "отметки.csv")})
            assert resp.status_code == (400 if bad else 302), resp.get_data(as_text=True)[:500]
        from sheets.models import SummarySheet
        sheet = db.query(SummarySheet).filter_by(school_id=tree["a"].id).first()
        assert sheet is not None
        # a signing attempt with a passphrase and a key that is not a key
        client.post(f"/sheets/{sheet.id}/sign", content_type="multipart/form-data",
                    data={"csrf_token": csrf_token(client, "/sheets"), "role": "director", "passphrase": PASSPHRASE,
                          "key": (io.BytesIO(b"not a pkcs12"), "key.p12")})
        # an API token, used and misused
        _, token = services.issue_token(director, "logs")
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}x"})
        client.post("/api/v1/sheets/marks", headers={"Authorization": f"Bearer {token}"},
                    json={"school_id": tree["a"].id, "school_year": "2025/2026",
                          "records": [{"класс": "7А", "ученик": p, "предмет": "Алгебра", "период": "Год",
                                       "отметка": "x"} for p in PUPILS]})
        client.get("/no-such-page")
        text = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    assert len(caplog.records) > 5, "nothing was logged: the test would prove nothing"
    for secret in [PASSWORD, WRONG_PASSWORD, PASSPHRASE, token, token[:20]] + PUPILS + \
                  [p.split()[0] for p in PUPILS]:
        assert secret not in text, f"{secret!r} found in the logs"
