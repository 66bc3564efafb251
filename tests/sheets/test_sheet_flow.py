"""The sheet as its users live it: import, render, teacher signs, director signs (one or in a batch),
download, correct by a new version. Every signature made here is validated against the test PKI."""
import io
from types import SimpleNamespace

import pytest

from core.db import session
from sheets import services
from sheets.models import BatchStatus, SheetBatch, SheetStatus, SummarySheet
from tests.helpers import assign_teacher, csrf_token
from tests.sheets import pki as test_pki
from tests.sheets.helpers import assert_all_valid, reports
from tests.sheets.sample import make_sheet

YEAR = "2025/2026"


def class_marks(name: str, seed: int = 1, pupils: int = 12, subjects: int = 6):
    """What the marks import hands over for one class (sheets.marks_import.ClassMarks' shape)."""
    s = make_sheet(pupils=pupils, subjects=subjects, seed=seed)
    return SimpleNamespace(class_name=name, display_name=name, periods=s.periods, subjects=s.subjects,
                           pupils=s.pupils, council_date=s.council_date, council_protocol=s.council_protocol)


def _sheets(school, *names):
    """Import as the director, who makes school.teacher the class teacher of each class."""
    return assign_teacher(services.import_classes(school.org, YEAR, {n: class_marks(n, seed=i)
                                                                     for i, n in enumerate(names)},
                                                  actor=school.director), school.teacher, school.director)


def _sign_in_browser(client, sheet, role, p12, passphrase=test_pki.PASSPHRASE):
    token = csrf_token(client, "/")
    return client.post(f"/sheets/{sheet.id}/sign", content_type="multipart/form-data",
                       data={"csrf_token": token, "role": role, "passphrase": passphrase,
                             "key": (io.BytesIO(p12), "key.p12")})


def test_teacher_then_director_sign_in_the_browser(client, logged_in, school, pki):
    (sheet,) = _sheets(school, "7А")
    services.render_pdf(sheet, actor=school.director)
    assert sheet.status is SheetStatus.rendered
    logged_in(school.teacher)
    # the director's step is refused before the teacher's
    resp = _sign_in_browser(client, sheet, "teacher", pki.pkcs12("teacher"), passphrase="не тот пароль")
    assert resp.status_code == 303 and sheet.status is SheetStatus.rendered
    assert _sign_in_browser(client, sheet, "teacher", pki.pkcs12("teacher")).status_code == 302
    assert sheet.status is SheetStatus.teacher_signed
    assert_all_valid(sheet.pdf, pki, count=1)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(school.director)
    assert _sign_in_browser(client, sheet, "director", pki.pkcs12("director")).status_code == 302
    assert sheet.status is SheetStatus.signed
    found = assert_all_valid(sheet.pdf, pki, count=2)
    assert [r.field_name for r in found] == ["ClassTeacher", "Director"]
    downloaded = client.get(f"/sheets/{sheet.id}/pdf")
    assert downloaded.status_code == 200 and downloaded.data == sheet.pdf
    # a copy with one byte changed inside the signed range is detected
    tampered = bytearray(sheet.pdf)
    at = sheet.pdf.index(b"/Producer") + 3
    tampered[at] ^= 0x01
    assert not any(r.intact for r in reports(bytes(tampered), pki))
    # the public verification page: the issued copy is genuine, a changed one is not
    verify = client.post(f"/verify/{sheet.document_id}", content_type="multipart/form-data",
                         data={"csrf_token": csrf_token(client, f"/verify/{sheet.document_id}"),
                               "file": (io.BytesIO(bytes(tampered)), "copy.pdf")})
    answer = verify.get_data(as_text=True)
    assert "НЕ ПОДТВЕРЖДЁН" in answer and "изменён после подписания" in answer
    genuine = client.post(f"/verify/{sheet.document_id}", content_type="multipart/form-data",
                          data={"csrf_token": csrf_token(client, f"/verify/{sheet.document_id}"),
                                "file": (io.BytesIO(sheet.pdf), "copy.pdf")})
    assert "ПОДЛИННЫЙ" in genuine.get_data(as_text=True)


def test_order_and_scope_are_enforced(client, logged_in, school, tree, make_user, pki):
    (sheet,) = _sheets(school, "8Б")
    services.render_pdf(sheet, actor=school.director)
    with pytest.raises(services.SheetFlowError, match="сначала подписывает классный руководитель"):
        services.sign(sheet, "director", test_pki_signer(pki, "director"), actor=school.director)
    logged_in(make_user("director", tree["b"]))
    assert client.get(f"/sheets/{sheet.id}").status_code == 403
    assert client.get(f"/sheets/{sheet.id}/pdf").status_code == 403
    assert _sign_in_browser(client, sheet, "director", pki.pkcs12("director")).status_code == 403


def test_revoked_certificate_is_refused(school, pki):
    import pades
    (sheet,) = _sheets(school, "9В")
    services.render_pdf(sheet, actor=school.director)
    signer = test_pki_signer(pki, "expired")
    with pytest.raises(pades.SigningError):
        services.sign(sheet, "teacher", signer, actor=school.teacher)
    assert sheet.status is SheetStatus.rendered


def test_a_signed_sheet_is_corrected_only_by_a_new_version(school, pki, make_user, tree):
    from assignments.notifications import inbox
    archivist, neighbour = make_user("archivist", tree["region"]), make_user("archivist", tree["m2"])
    (sheet,) = _sheets(school, "5А")
    services.render_pdf(sheet, actor=school.director)
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    services.sign(sheet, "director", test_pki_signer(pki, "director"), actor=school.director)
    signed_bytes = sheet.pdf
    with pytest.raises(services.SheetFlowError, match="уже подписана"):
        _sheets(school, "5А")
    with pytest.raises(services.SheetFlowError, match="причину"):
        services.correct(sheet, class_marks("5А", seed=9), reason=" ", actor=school.director)
    new = services.correct(sheet, class_marks("5А", seed=9), reason="ошибка в оценке по физике",
                           actor=school.director)
    assert new.version == 2 and new.supersedes is sheet and new.status is SheetStatus.draft
    assert sheet.status is SheetStatus.superseded and sheet.pdf == signed_bytes
    assert_all_valid(sheet.pdf, pki, count=2)
    (told,) = inbox(archivist.id)                          # the archived copy is no longer the sheet in force
    assert "версия 1 заменяется версией 2" in told.text and "ошибка в оценке" in told.text
    assert told.url.startswith("/archive/?") and f"school={school.org.id}" in told.url
    assert inbox(neighbour.id) == []


def test_batches_render_and_sign_with_progress_and_resume(client, logged_in, school, pki, run_jobs, redis_conn):
    sheets = _sheets(school, "1А", "1Б", "2А")
    logged_in(school.director)
    token = csrf_token(client, "/sheets")
    resp = client.post("/sheets/batches", data={"csrf_token": token, "kind": "render",
                                               "organisation_id": school.org.id, "school_year": YEAR})
    assert resp.status_code == 302
    run_jobs()
    assert all(s.status is SheetStatus.rendered for s in sheets)
    client.post("/logout", data={"csrf_token": token})
    logged_in(school.teacher)
    resp = client.post("/sheets/batches", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client, "/sheets"), "kind": "sign_teacher",
                             "organisation_id": school.org.id, "school_year": YEAR,
                             "passphrase": test_pki.PASSPHRASE, "key": (io.BytesIO(pki.pkcs12("teacher")), "t.p12")})
    assert resp.status_code == 302
    batch_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    # The key waits in Redis for the worker: encrypted, never in plaintext.
    stored = b"".join(redis_conn.get(k) or b"" for k in redis_conn.keys("sign-batch-key:*"))
    assert stored and test_pki.PASSPHRASE.encode() not in stored and pki.pkcs12("teacher")[:64] not in stored
    # What is sealed is the key the web process opened: the passphrase stays there, even encrypted.
    from core import keyvault
    handed = keyvault.get(batch_id)
    assert handed.unlocked and handed.pkcs12 is None and handed.passphrase == ""
    assert test_pki.PASSPHRASE.encode() not in handed.unlocked
    assert repr(handed) == "<KeyMaterial unlocked>"
    assert client.get(f"/sheets/batches/{batch_id}.json").json["status"] == "queued"
    run_jobs()
    progress = client.get(f"/sheets/batches/{batch_id}.json").json
    assert progress == {**progress, "status": "done", "total": 3, "done": 3, "failed": 0, "percent": 100}
    assert not redis_conn.keys("sign-batch-key:*")      # dropped once the batch ended
    for s in sheets:
        assert s.status is SheetStatus.teacher_signed
        assert_all_valid(s.pdf, pki, count=1)
    # A worker killed after committing some sheets: the rerun signs the rest and nothing twice (the key handed
    # over as its file this time, as a GOST key is).
    from sheets.tasks import run_batch
    batch = session.get(SheetBatch, batch_id)
    batch.status, batch.done_ids = BatchStatus.running, batch.done_ids[:1]
    keyvault.put(batch.id, keyvault.KeyMaterial(pkcs12=pki.pkcs12("teacher"), passphrase=test_pki.PASSPHRASE))
    run_batch(batch.id)
    assert batch.status is BatchStatus.done and len(batch.done_ids) == 3
    for s in sheets:
        assert_all_valid(s.pdf, pki, count=1)            # still exactly one signature each


def test_a_down_timestamp_server_fails_the_batch_cleanly(app, school, pki):
    import pades
    from web.embedded import free_ports
    (sheet,) = _sheets(school, "6А")
    services.render_pdf(sheet, actor=school.director)
    app.config["TSA_URL"] = f"http://127.0.0.1:{free_ports(1)[0]}/tsa"
    try:
        with pytest.raises(pades.SigningError, match="штампов времени"):
            services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
        assert sheet.status is SheetStatus.rendered
        app.config["TSA_URL"] = pki.tsa_url
        services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
        (report,) = assert_all_valid(sheet.pdf, pki, count=1)
        assert report.timestamp_ok
    finally:
        app.config["TSA_URL"] = None


def test_pki_signer(pki, label):
    from pades import PKCS12Signer
    return PKCS12Signer(pki.pkcs12(label), test_pki.PASSPHRASE)


test_pki_signer.__test__ = False


def test_cli_render_sign_export(app, school, pki, tmp_path, redis_conn):
    sheets = _sheets(school, "3А", "3Б")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["sheets", "render", "--org", school.org.code, "--year", YEAR, "--as", "director-a"])
    assert out.exit_code == 0 and "Готово 2 из 2" in out.output, out.output
    key = tmp_path / "teacher.p12"
    key.write_bytes(pki.pkcs12("teacher"))
    wrong = runner.invoke(args=["sheets", "sign", "--org", school.org.code, "--year", YEAR, "--as", "teacher-a",
                                "--role", "teacher", "--key", str(key)], input="не тот\n")
    assert wrong.exit_code == 1 and "пароль" in wrong.output.lower()
    assert test_pki.PASSPHRASE not in wrong.output
    out = runner.invoke(args=["sheets", "sign", "--org", school.org.code, "--year", YEAR, "--as", "teacher-a",
                              "--role", "teacher", "--key", str(key)], input=test_pki.PASSPHRASE + "\n")
    assert out.exit_code == 0, out.output
    key.write_bytes(pki.pkcs12("director"))
    out = runner.invoke(args=["sheets", "sign", "--org", school.org.code, "--year", YEAR, "--as", "director-a",
                              "--role", "director", "--key", str(key)], input=test_pki.PASSPHRASE + "\n")
    assert out.exit_code == 0, out.output
    out = runner.invoke(args=["sheets", "export", "--school", school.org.code, "--year", YEAR,
                              "--out", str(tmp_path / "out")])
    assert out.exit_code == 0 and "Записано ведомостей: 2" in out.output
    files = sorted((tmp_path / "out").glob("*.pdf"))
    assert len(files) == 2
    for f, s in zip(files, sorted(sheets, key=lambda s: s.class_name)):
        assert f.read_bytes() == s.pdf
        assert_all_valid(f.read_bytes(), pki, count=2)


def test_sheet_page_shows_signatures_validated_against_trust_roots(app, client, logged_in, school, pki, tmp_path):
    from asn1crypto import pem
    (sheet,) = _sheets(school, "4А")
    services.render_pdf(sheet, actor=school.director)
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    roots = tmp_path / "roots.pem"
    roots.write_bytes(pem.armor("CERTIFICATE", pki.root.dump()) + pem.armor("CERTIFICATE", pki.interm.dump()))
    app.config["TRUST_ROOTS"] = str(roots)
    try:
        logged_in(school.director)
        page = client.get(f"/sheets/{sheet.id}").get_data(as_text=True)
    finally:
        app.config["TRUST_ROOTS"] = None
    assert "Действительна" in page and "Иванова Мария Петровна" in page


def _signed_sheet_with_validations_counted(app, school, pki, tmp_path, monkeypatch, class_name):
    """A sheet the class teacher signed, the test PKI's roots trusted, and the list each `pades.validate`
    call appends to."""
    from asn1crypto import pem

    import pades
    (sheet,) = _sheets(school, class_name)
    services.render_pdf(sheet, actor=school.director)
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    roots = tmp_path / "roots.pem"
    roots.write_bytes(pem.armor("CERTIFICATE", pki.root.dump()) + pem.armor("CERTIFICATE", pki.interm.dump()))
    monkeypatch.setitem(app.config, "TRUST_ROOTS", str(roots))
    validations: list[int] = []
    real_validate = pades.validate
    monkeypatch.setattr(pades, "validate", lambda pdf, *a, **kw: validations.append(1) or real_validate(pdf, *a, **kw))
    return sheet, validations


def test_the_sheet_pages_verdict_is_reused_for_the_same_bytes_only(app, client, logged_in, school, pki, tmp_path,
                                                                   monkeypatch):
    """A signed sheet's page validates its signatures once per VERDICT_SECONDS, not on every view; bytes changed
    behind the service's back get a verdict of their own at once, and so do other trust roots."""
    from asn1crypto import pem
    sheet, validations = _signed_sheet_with_validations_counted(app, school, pki, tmp_path, monkeypatch, "4Б")
    logged_in(school.director)
    first = client.get(f"/sheets/{sheet.id}").get_data(as_text=True)
    again = client.get(f"/sheets/{sheet.id}").get_data(as_text=True)
    assert "Действительна" in first and "Действительна" in again and len(validations) == 1
    tampered = bytearray(sheet.pdf)
    tampered[sheet.pdf.index(b"/Producer") + 3] ^= 0x01
    sheet.pdf = bytes(tampered)                                  # pdf_sha256 left as it was
    changed = client.get(f"/sheets/{sheet.id}").get_data(as_text=True)
    assert len(validations) == 2 and "Действительна" not in changed
    monkeypatch.setitem(app.config, "TRUST_ROOTS", str(tmp_path / "none.pem"))
    (tmp_path / "none.pem").write_bytes(pem.armor("CERTIFICATE", pki.cert("foreign-root").dump()))
    client.get(f"/sheets/{sheet.id}")
    assert len(validations) == 3


def test_demo_pki_keys_sign_and_validate(app, tmp_path, school, monkeypatch):
    import pades
    from core.trust import load_roots
    from pades import demo_pki
    ca = demo_pki.make(tmp_path, {"teacher": test_pki.NAMES["teacher"]}, "demo-pass-1")
    monkeypatch.setitem(app.config, "TRUST_ROOTS", str(ca))   # what `serve` configures
    (sheet,) = _sheets(school, "10А")
    services.render_pdf(sheet, actor=school.director)
    services.sign(sheet, "teacher", pades.PKCS12Signer((tmp_path / "teacher.p12").read_bytes(), "demo-pass-1"),
                  actor=school.teacher)
    (r,) = pades.validate(sheet.pdf, load_roots(str(ca)))
    assert r.intact and r.valid and r.trusted and r.signer_cn == test_pki.NAMES["teacher"]


def test_import_page_with_the_sample_file(client, logged_in, school):
    """The marks file as an electronic journal exports it, through the upload page."""
    from pathlib import Path

    from sheets import class_teachers
    sample = Path(__file__).resolve().parents[2] / "docs" / "samples" / "marks_long.csv"
    for year in (YEAR, "2024/2025"):
        for name in ("7А", "10Б"):   # the file holds two classes; this teacher has both
            class_teachers.assign(school.org, year, name, school.teacher, actor=school.director)
    logged_in(school.teacher)
    resp = client.post("/sheets/import", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client, "/sheets/import"), "school_id": school.org.id,
                             "school_year": YEAR, "file": (io.BytesIO(sample.read_bytes()), sample.name)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    sheets = session.query(SummarySheet).filter_by(school_id=school.org.id).all()
    assert {s.class_label for s in sheets} == {"7 «А»", "10 «Б»"}
    bad = sample.read_bytes().replace("Русский язык;Год;5".encode(), "Русский язык;Год;6".encode(), 1)
    assert bad != sample.read_bytes()
    resp = client.post("/sheets/import", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client, "/sheets/import"), "school_id": school.org.id,
                             "school_year": "2024/2025", "file": (io.BytesIO(bad), "bad.csv")})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "bad.csv, строка" in page and "«6»" in page
    assert session.query(SummarySheet).filter_by(school_year="2024/2025").count() == 0


def test_marks_api(client, school, tree, make_user):
    from orgs import accounts as auth
    from sheets import class_teachers
    for year in (YEAR, "2024/2025"):
        class_teachers.assign(school.org, year, "6В", school.teacher, actor=school.director)
    _, token = auth.issue_token(school.teacher, "journal platform")
    h = {"Authorization": f"Bearer {token}"}
    rec = {"класс": "6 «В»", "ученик": "Ёлкина Софья Дмитриевна", "предмет": "Математика", "период": "Год",
           "оценка": 5}
    ok = client.post("/api/v1/sheets/marks", json={"school_id": school.org.id, "school_year": YEAR, "records": [rec]},
                     headers=h)
    assert ok.status_code == 201 and ok.json["items"][0]["class_label"] == "6 «В»"
    bad = client.post("/api/v1/sheets/marks", headers=h, json={
        "school_id": school.org.id, "school_year": "2024/2025", "records": [rec, {**rec, "оценка": "7"}]})
    assert bad.status_code == 422 and bad.json["errors"][0]["row"] == 2 and bad.json["errors"][0]["value"] == "7"
    listed = client.get(f"/api/v1/sheets?school_year={YEAR}", headers=h).json
    assert [s["class_name"] for s in listed["items"]] == ["6В"]
    outsider = make_user("director", tree["b"])
    _, other = auth.issue_token(outsider, "t")
    sid = ok.json["items"][0]["id"]
    assert client.get(f"/api/v1/sheets/{sid}", headers={"Authorization": f"Bearer {other}"}).status_code == 403
    assert client.get("/api/v1/sheets", headers={"Authorization": f"Bearer {other}"}).json["total"] == 0


def test_external_signer_through_the_api(client, school, pki, tmp_path):
    """GOST-style: the digest goes out, a CMS made elsewhere (openssl here) comes back and is embedded."""
    import base64
    import subprocess

    from asn1crypto import pem

    from orgs import accounts as auth
    (sheet,) = _sheets(school, "11А")
    services.render_pdf(sheet, actor=school.director)
    _, token = auth.issue_token(school.teacher, "cryptopro")
    h = {"Authorization": f"Bearer {token}"}
    cert = pem.armor("CERTIFICATE", pki.cert("teacher").dump())
    prep = client.post(f"/api/v1/sheets/{sheet.id}/external/prepare", headers=h,
                       json={"role": "teacher", "certificate": base64.b64encode(cert).decode(),
                             "chain": [base64.b64encode(pki.interm.dump()).decode()]})
    assert prep.status_code == 200, prep.json
    _prepared_state_is_sealed_in_redis(sheet)
    (tmp_path / "data").write_bytes(base64.b64decode(prep.json["signed_bytes"]))
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "chain.pem").write_bytes(pem.armor("CERTIFICATE", pki.interm.dump()))
    cms = subprocess.run(["openssl", "cms", "-sign", "-binary", "-cades", "-nosmimecap", "-md", "sha256",
                          "-outform", "DER", "-in", str(tmp_path / "data"), "-signer", str(tmp_path / "cert.pem"),
                          "-inkey", str(pki.key_path("teacher")), "-certfile", str(tmp_path / "chain.pem")],
                         check=True, capture_output=True).stdout
    junk = client.post(f"/api/v1/sheets/{sheet.id}/external/complete", headers=h,
                       json={"role": "teacher", "cms": base64.b64encode(b"not a cms").decode()})
    assert junk.status_code == 422 and sheet.status is SheetStatus.rendered
    done = client.post(f"/api/v1/sheets/{sheet.id}/external/complete", headers=h,
                       json={"role": "teacher", "cms": base64.b64encode(cms).decode()})
    assert done.status_code == 200, done.json
    assert sheet.status is SheetStatus.teacher_signed
    assert_all_valid(sheet.pdf, pki, count=1)


def _prepared_state_is_sealed_in_redis(sheet):
    """The prepared PDF (pupils' names and marks) lies in Redis only encrypted: neither the key's value nor the
    dump file Redis writes to disk holds the document (%PDF, in the JSON's base64, is "JVBERi")."""
    from pathlib import Path

    from core import keyvault
    from core.jobs import redis_connection
    name = f"sheet-external:{sheet.id}:teacher"
    conn = redis_connection()
    raw = conn.get(name)
    plain = keyvault.unseal(name)
    assert plain is not None and b'"pdf": "JVBERi' in plain            # what an unencrypted entry would show
    assert b"JVBERi" not in raw and b'"pdf"' not in raw
    conn.save()
    cfg = conn.config_get("dir")["dir"], conn.config_get("dbfilename")["dbfilename"]
    dump = (Path(cfg[0]) / cfg[1]).read_bytes()
    assert name.encode() in dump and b"JVBERi" not in dump


def test_cli_signs_with_a_pkcs11_token(app, school, pki, softhsm_token, tmp_path):
    """The director's key on a SoftHSM2 token: the CLI signs in-process, the PIN asked on stdin."""
    (sheet,) = _sheets(school, "11Б")
    services.render_pdf(sheet, actor=school.director)
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    runner = app.test_cli_runner()
    args = ["sheets", "sign", "--org", school.org.code, "--year", YEAR, "--as", "director-a", "--role", "director",
            "--pkcs11-module", softhsm_token["module"], "--token-label", softhsm_token["label"],
            "--key-label", softhsm_token["key_label"]]
    out = runner.invoke(args=args, input=softhsm_token["pin"] + "\n")
    assert out.exit_code == 0, out.output
    assert softhsm_token["pin"] not in out.output
    assert sheet.status is SheetStatus.signed
    assert_all_valid(sheet.pdf, pki, count=2)


def test_a_batch_whose_job_dies_is_marked_interrupted_and_can_be_started_again(app, client, logged_in, school, pki,
                                                                              run_jobs, redis_conn, monkeypatch):
    """A batch's job that raises, or whose worker is killed (RQ finds the job abandoned when it cleans
    its registry), leaves the batch "прерван" with the reason, never "running" for ever; started again,
    it does what is left and signs nothing twice."""
    from rq.executions import Execution
    from rq.job import JobStatus
    from rq.registry import StartedJobRegistry

    from core import db
    from core.jobs import queue
    from sheets import tasks
    from sheets.models import BatchKind
    sheets = _sheets(school, "3А", "3Б", "3В")
    for s in sheets:
        services.render_pdf(s, actor=school.director)
    db.commit()

    # 1. an exception escapes the job after the first sheet (a chunk is one transaction: chunks of one sheet
    #    here, so the first is committed before the second fails)
    monkeypatch.setitem(app.config, "SHEET_BATCH_CHUNK", 1)
    real_step, calls = services.finish_signing, []

    def failing_step(*args, **kwargs):
        calls.append(args)
        if len(calls) > 1:
            raise RuntimeError("boom")
        return real_step(*args, **kwargs)
    monkeypatch.setattr(services, "finish_signing", failing_step)
    with app.test_request_context():
        batch = services.start_batch(BatchKind.sign_teacher, school.org, YEAR, actor=school.teacher,
                                     pkcs12=pki.pkcs12("teacher"), passphrase=test_pki.PASSPHRASE)
        db.commit()
    run_jobs()
    session.refresh(batch)
    assert batch.status is BatchStatus.failed and batch.done_ids == [sheets[0].id]
    assert batch.errors[-1]["message"] == tasks.INTERRUPTED
    assert not redis_conn.keys(f"sign-batch-key:{batch.id}*")            # the key is not left behind
    logged_in(school.teacher)
    page = client.get(f"/sheets/batches/{batch.id}").get_data(as_text=True)
    assert "прерван" in page and "запустите пакет снова" in page
    monkeypatch.setattr(services, "finish_signing", real_step)

    # 2. its worker killed: the job stays "started" until RQ's cleanup finds it abandoned
    with app.test_request_context():
        second = services.start_batch(BatchKind.sign_teacher, school.org, YEAR, actor=school.teacher,
                                      pkcs12=pki.pkcs12("teacher"), passphrase=test_pki.PASSPHRASE)
        db.commit()
    assert second.sheet_ids == [sheets[1].id, sheets[2].id]               # only what is left
    q = queue("signing")
    job = q.fetch_job(f"sheet-batch-{second.id}")
    q.remove(job)
    with redis_conn.pipeline() as pipe:                                   # what a worker records on start
        job.set_status(JobStatus.STARTED, pipeline=pipe)
        Execution.create(job, ttl=1, pipeline=pipe)
        pipe.execute()
    registry = StartedJobRegistry(queue=q)
    registry.cleanup(timestamp=__import__("time").time() + 60)             # as a worker's maintenance does
    session.refresh(second)
    assert second.status is BatchStatus.failed and second.errors[-1]["message"] == tasks.INTERRUPTED

    # 3. started again: the rest is signed, each sheet exactly once
    with app.test_request_context():
        third = services.start_batch(BatchKind.sign_teacher, school.org, YEAR, actor=school.teacher,
                                     pkcs12=pki.pkcs12("teacher"), passphrase=test_pki.PASSPHRASE)
        db.commit()
    run_jobs()
    session.refresh(third)
    assert third.status is BatchStatus.done and sorted(third.done_ids) == [sheets[1].id, sheets[2].id]
    for s in sheets:
        session.refresh(s)
        assert s.status is SheetStatus.teacher_signed
        assert_all_valid(s.pdf, pki, count=1)


def test_a_director_signing_while_redis_is_down_is_not_an_error(app, client, logged_in, school, pki):
    """The signature commits; the archive job cannot be queued. The director gets the signed sheet, not a
    500, and the pending record is queued by the sweep once Redis is back."""
    from redis import Redis

    from archive.models import RecordStatus
    from archive.services import record_for, requeue
    from core import db
    from web.embedded import free_ports
    (sheet,) = _sheets(school, "4В")
    services.render_pdf(sheet, actor=school.director)
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    db.commit()
    logged_in(school.director)
    from core.jobs import redis_connection
    live = redis_connection(app)
    app.extensions["redis"] = Redis(port=free_ports(1)[0], socket_connect_timeout=0.5)   # nobody listens
    try:
        resp = _sign_in_browser(client, sheet, "director", pki.pkcs12("director"))
    finally:
        app.extensions["redis"] = live
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    session.refresh(sheet)
    assert sheet.status is SheetStatus.signed
    assert_all_valid(sheet.pdf, pki, count=2)
    record = record_for("summary_sheet", sheet.id)
    assert record.status is RecordStatus.pending
    from core.jobs import queue
    assert queue("archive").fetch_job(f"ingest-sheet-{sheet.id}") is None
    assert requeue(record)                                  # what the 15-minute sweep does
    db.commit()
    assert queue("archive").fetch_job(f"ingest-sheet-{sheet.id}") is not None
    # (the ingest itself runs in tests/archive: S3 refuses requests signed with this module's frozen clock)


def test_an_import_refreshes_each_class_newest_version_reading_them_in_one_query(app, school):
    """The newest version of every class is read in one query and the new sheets go in one INSERT (a query a
    class flushed the sheets added before it one by one); a later version is refreshed, not the first one."""
    from tests.helpers import statements_sent
    (first,) = _sheets(school, "6А")
    first.status = SheetStatus.superseded
    second = SummarySheet(school=school.org, school_year=YEAR, class_name="6А", class_label="6А", version=2,
                          supersedes=first, created_by_id=school.director.id)
    session.add(second)
    session.flush()
    with statements_sent(app) as sent:
        sheets = services.import_classes(school.org, YEAR, {n: class_marks(n, seed=i) for i, n in
                                                            enumerate(("6А", "6Б", "6В", "6Г"))},
                                         actor=school.director)
    assert sheets[0] is second and second.marks is not None and first.status is SheetStatus.superseded
    assert [s.version for s in sheets] == [2, 1, 1, 1] and all(s.id for s in sheets)
    reads = [s for s in sent if s.lstrip().startswith("SELECT") and "FROM summary_sheets" in s]
    inserts = [s for s in sent if s.lstrip().startswith("INSERT INTO summary_sheets")]
    assert len(reads) == 1 and len(inserts) == 1, sent


def test_a_verdict_made_in_one_web_process_serves_the_others(app, client, logged_in, school, pki, tmp_path,
                                                             monkeypatch):
    """The verdict goes to Redis too: another gunicorn worker (here: this one with its own verdicts forgotten)
    shows the same page without validating again; what cannot be read back from Redis is validated here."""
    from core.jobs import redis_connection
    from sheets import verdicts
    sheet, validations = _signed_sheet_with_validations_counted(app, school, pki, tmp_path, monkeypatch, "4В")
    logged_in(school.director)
    first = client.get(f"/sheets/{sheet.id}").get_data(as_text=True)
    verdicts._local.clear()                                        # another process
    other = client.get(f"/sheets/{sheet.id}").get_data(as_text=True)
    assert len(validations) == 1 and "Действительна" in other and "Иванова Мария Петровна" in other
    assert other.count("Действительна") == first.count("Действительна")
    verdicts._local.clear()
    for key in redis_connection().scan_iter(verdicts.PREFIX + "*"):
        redis_connection().set(key, b"not json")
    again = client.get(f"/sheets/{sheet.id}").get_data(as_text=True)
    assert len(validations) == 2 and "Действительна" in again
