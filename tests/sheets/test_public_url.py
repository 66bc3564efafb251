"""The verification link printed in a signed sheet comes from PUBLIC_URL only: never from a Host header."""
import pytest

from sheets.services import SheetFlowError, verify_url


def test_link_comes_from_public_url_not_the_host_header(app, client, monkeypatch):
    from sheets.models import SummarySheet
    sheet = SummarySheet(document_id="SV-TEST-1", class_label="5А", school_year="2025/2026", version=1)
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert verify_url(sheet) == "http://jt.test/verify/SV-TEST-1"
        monkeypatch.setitem(app.config, "PUBLIC_URL", None)
        with pytest.raises(SheetFlowError, match="PUBLIC_URL"):
            verify_url(sheet)


def test_forged_host_is_refused(client):
    assert client.get("/verify/SV-X", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/login").status_code == 200
