"""The upload page: every error listed with file, row and field; nothing written unless the whole file is good."""
import io

from sqlalchemy import func, select

from core.db import session
from orgs.models.organisations import Organisation
from tests.helpers import csrf_token


def _upload(client, content: bytes, name: str):
    return client.post("/orgs/import", data={"csrf_token": csrf_token(client, "/orgs/import"),
                                             "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_upload_with_a_bad_row_writes_nothing(client, make_user, logged_in, tree):
    logged_in(make_user("admin", tree["region"]))
    before = session.scalar(select(func.count(Organisation.id)))
    csv = (f"code;name;kind;parent_code\n"
           f"NEW-1;МБОУ «СОШ № 77»;школа;{tree['m1'].code}\n"
           f"NEW-2;МБОУ «СОШ № 78»;шкла;{tree['m1'].code}\n").encode("cp1251")
    resp = _upload(client, csv, "schools.csv")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "schools.csv, строка 3, поле «kind» («шкла»)" in page
    assert session.scalar(select(func.count(Organisation.id))) == before

    good = csv.replace("шкла".encode("cp1251"), "школа".encode("cp1251"))
    resp = _upload(client, good, "schools.csv")
    assert resp.status_code == 302
    assert session.scalar(select(func.count(Organisation.id))) == before + 2
    assert "создано 2" in client.get("/orgs").get_data(as_text=True)


def test_only_region_administrators_may_upload(client, make_user, logged_in, tree):
    logged_in(make_user("admin", tree["m1"]))
    assert client.get("/orgs/import").status_code == 403
