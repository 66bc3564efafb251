"""A campaign walked end to end through the pages and the JSON API, with access checked at each step:
the recommended list, municipal replies (one late, one missing), stage evidence with acceptance and a
return, the director's PAdES-signed readiness statement (validated from the archived copy; a tampered
copy fails), its withdrawal by a new signed statement, paperless from a date, and a monthly report
with its roll-up.

The clock is frozen in June 2026, inside the test PKI's certificate validity, and only moves forward
(session cookies carry a timestamp). minio signs S3 requests with the real clock: it is imported
before the freeze and is on freezegun's ignore list, so its module keeps the real `datetime`.
"""
import io
import re
import threading

import pytest
from freezegun import freeze_time
from openpyxl import load_workbook

from core.audit import AuditEntry
from orgs import accounts as auth
from reports.models import ReportForm, ReportStatus, ReportSubmission
from tests.helpers import csrf_token, login
from tests.sheets import pki as test_pki
from transitions import services as svc
from transitions.models import Campaign, ReadinessStatement, StageStatus, StatementKind

REAL_TIME_FOR = ["minio", "urllib3", "_pytest"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = test_pki.start(tmp_path_factory.mktemp("pki"))
    yield p
    p.close()


@pytest.fixture
def clock():
    import minio.api  # noqa: F401  imported before the freeze, minio keeps the real datetime for its signatures
    with freeze_time("2026-05-20 09:00:00", ignore=REAL_TIME_FOR) as frozen:
        yield frozen


def in_thread(fn, *args, **kwargs):
    """pyHanko's validation runs asyncio.run; keep it off a loop another test may have left running."""
    out = {}

    def run():
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:       # re-raised in the test's thread
            out["error"] = exc
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def post(client, path, data=None, **kwargs):
    data = dict(data or {})
    data["csrf_token"] = csrf_token(client, "/")          # one token per session; any page carries it
    return client.post(path, data=data, **kwargs)


def as_user(client, user):
    resp = login(client, user.login)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def bearer(user):
    _, token = auth.issue_token(user, "тест")
    return {"Authorization": f"Bearer {token}"}


def page_text(resp) -> str:
    return re.sub(r"\s+", " ", resp.get_data(as_text=True))


@pytest.fixture
def people(tree, make_user, make_org):
    m3 = make_org("municipality", tree["region"], name="Третий район")
    c3 = make_org("school", m3, name="Школа В")
    return {
        "region": make_user("regional_official", tree["region"], login="region1"),
        "m1": make_user("municipal_official", tree["m1"], login="mouo1"),
        "m2": make_user("municipal_official", tree["m2"], login="mouo2"),
        # named as the test PKI's director certificate they sign with
        "dir_a": make_user("director", tree["a"], login="dir-a", full_name=test_pki.NAMES["director"]),
        "dir_b": make_user("director", tree["b"], login="dir-b", full_name=test_pki.NAMES["director"]),
        "m3": m3, "c3": c3,
    }


@pytest.fixture
def signing_config(app, pki, tmp_path, monkeypatch):
    """TRUST_ROOTS and TSA_URL pointing at the test PKI: B-T signatures, certificates checked before signing."""
    from asn1crypto import pem
    roots = tmp_path / "roots.pem"
    roots.write_bytes(pem.armor("CERTIFICATE", pki.root.dump()))
    monkeypatch.setitem(app.config, "TRUST_ROOTS", str(roots))
    monkeypatch.setitem(app.config, "TSA_URL", pki.tsa_url)


def test_campaign_walk(client, db, app, tree, people, pki, clock, signing_config, run_jobs):
    region, m1, m2, dir_a, dir_b = (people[k] for k in ("region", "m1", "m2", "dir_a", "dir_b"))
    a, a2, b, b2, c3 = tree["a"], tree["a2"], tree["b"], tree["b2"], people["c3"]

    # ---- the region creates the campaign; nobody else can
    as_user(client, m1)
    assert post(client, "/transitions/new", {"title": "x", "target_date": "2026-09-01"}).status_code == 403
    as_user(client, region)
    resp = post(client, "/transitions/new", {"region_id": tree["region"].id,
                                             "title": "Безбумажное ведение с 01.09.2026",
                                             "target_date": "2026-09-01", "reply_deadline": "2026-06-03"})
    assert resp.status_code == 302, page_text(resp)
    c = db.query(Campaign).one()
    cid = c.id
    assert len(c.stages) == 8

    # ---- the recommended list: a broken file is refused whole, naming the rows; then a good one
    bad = f"Код\n{a.code}\nNOPE\n{tree['m1'].code}\n".encode()
    resp = client.post(f"/transitions/{cid}/list", data={"csrf_token": csrf_token(client, "/"),
                                                         "file": (io.BytesIO(bad), "перечень.csv")})
    assert resp.status_code == 400
    text = page_text(resp)
    assert "перечень.csv, строка 3, поле «Код» («NOPE»): нет организации с таким кодом" in text
    assert "строка 4" in text and svc.recommended(c) == []
    good = (f"Код;Наименование\n{a.code};Школа А\n{a2.code};Школа А2\n{b.code};Школа Б\n"
            f"{c3.code};Школа В\n").encode("cp1251")
    resp = client.post(f"/transitions/{cid}/list", data={"csrf_token": csrf_token(client, "/"),
                                                         "file": (io.BytesIO(good), "перечень.csv")})
    assert resp.status_code == 302 and len(svc.recommended(c)) == 4
    as_user(client, m1)
    assert post(client, f"/transitions/{cid}/list/publish").status_code == 403
    as_user(client, region)
    assert post(client, f"/transitions/{cid}/list/publish").status_code == 302
    assert c.list_published

    # ---- municipality 1 answers on time through the reply form page
    clock.move_to("2026-06-02 11:00:00")
    as_user(client, dir_a)
    assert client.get(f"/transitions/{cid}/reply/{tree['m1'].id}").status_code == 403
    as_user(client, m1)
    page = f"/transitions/{cid}/reply/{tree['m1'].id}"
    assert client.get(page).status_code == 200
    resp = post(client, page, {f"decision-{a.id}": "included", f"decision-{a2.id}": "excluded", "submit": "1"})
    assert resp.status_code == 400 and "Школа А2" in page_text(resp) and "укажите причину" in page_text(resp)
    assert svc.reply_of(c, tree["m1"]) is None
    resp = post(client, page, {f"decision-{a.id}": "included", f"decision-{a2.id}": "excluded",
                               f"reason-{a2.id}": "Нет устойчивого доступа в Интернет", "contact_name": "Петрова Т.А.",
                               "submit": "1"})
    assert resp.status_code == 302
    assert post(client, f"/transitions/{cid}/reply/{tree['m2'].id}", {"submit": "1"}).status_code == 403

    # ---- municipality 2 answers late, through the API; municipality 3 never answers
    clock.move_to("2026-06-05 10:00:00")
    h_m2 = bearer(m2)
    api = f"/api/v1/transitions/campaigns/{cid}"
    assert client.put(f"{api}/replies/{tree['m1'].id}", json={"lines": []}, headers=h_m2).status_code == 403
    resp = client.put(f"{api}/replies/{tree['m2'].id}", headers=h_m2, json={"submit": True, "lines": [
        {"school_id": b.id, "decision": "included"},
        {"school_id": b2.id, "decision": "added", "reason": "Базовая школа района"}]})
    assert resp.status_code == 200, resp.json
    assert resp.json["state"] == "late" and resp.json["late_days"] == 2
    mine = client.get(f"{api}/replies", headers=h_m2).json["items"]
    assert [r["municipality"]["id"] for r in mine] == [tree["m2"].id]      # only its own answer

    clock.move_to("2026-06-10 09:00:00")
    as_user(client, region)
    text = page_text(client.get(f"/transitions/{cid}/replies"))
    assert "представлен 02.06.2026 в срок" in text
    assert "представлен 05.06.2026 с опозданием на 2 дн." in text
    assert "не представлен, просрочен на 7 дн." in text
    final = client.get(f"{api}/final-list", headers=bearer(region)).json
    assert (final["recommended"], final["final"], final["added"], final["excluded"]) == (4, 4, 1, 1)
    changes = {i["school"]["id"]: i["change"] for i in final["items"]}
    assert changes == {a.id: "unchanged", a2.id: "excluded", b.id: "unchanged", b2.id: "added", c3.id: "no_reply"}
    xlsx = client.get(f"/transitions/{cid}/replies?format=xlsx")
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.values)
    assert rows[0][0] == "Муниципалитет" and len(rows) == 1 + 5

    # ---- stage evidence from the director of school A; others cannot submit for it
    stages = {s.code: s for s in c.stages}

    def evidence(code, data, **kwargs):
        path = f"/transitions/{cid}/schools/{a.id}/stages/{stages[code].id}/evidence"
        return post(client, path, data, **kwargs)

    as_user(client, dir_b)
    assert client.get(f"/transitions/{cid}/schools/{a.id}").status_code == 403
    assert evidence("responsible", {"order_number": "1", "order_date": "2026-05-01"}).status_code == 403
    as_user(client, dir_a)
    resp = evidence("parents_link", {"url": "school-a.ru/usluga", "section": "Новости"})
    assert resp.status_code == 400
    text = page_text(resp)
    assert "http:// или https://" in text and "«Муниципальная услуга»" in text
    assert evidence("responsible", {"order_number": "45-о", "order_date": "2026-03-02"}).status_code == 302
    assert evidence("platform", {"platform": "dnevnik_ru", "url": "https://dnevnik.ru/school/1001"}).status_code == 302
    scan = b"%PDF-1.4 Polozhenie ob elektronnom zhurnale"
    assert evidence("regulation", {"order_number": "46-о", "order_date": "2026-03-02"},
                    content_type="multipart/form-data").status_code == 400      # the file is required
    resp = client.post(f"/transitions/{cid}/schools/{a.id}/stages/{stages['regulation'].id}/evidence", data={
        "csrf_token": csrf_token(client, "/"), "order_number": "46-о",
        "order_date": "2026-03-02", "file": (io.BytesIO(scan), "Положение.pdf")})
    assert resp.status_code == 302
    assert evidence("charter", {"order_number": "47-о", "order_date": "2026-03-10"}).status_code == 302
    assert evidence("parents_link", {"url": "https://school-a.edu.ru/munusluga",
                                     "section": "Муниципальная услуга"}).status_code == 302
    assert evidence("trial", {"date_from": "2026-01-12", "date_to": "2026-05-31"}).status_code == 302
    # the readiness stage is not "evidenced": it is the signed statement
    assert evidence("readiness", {}).status_code == 400

    # ---- the municipality accepts or returns; not the director, not another municipality
    def decide(code, decision, comment="", user_client=client):
        path = f"/transitions/{cid}/schools/{a.id}/stages/{stages[code].id}/decision"
        return post(user_client, path, {"decision": decision, "comment": comment})

    assert decide("responsible", "accept").status_code == 403            # the director himself
    as_user(client, m2)
    assert decide("responsible", "accept").status_code == 403            # another municipality
    as_user(client, m1)
    for code in ("responsible", "platform", "regulation", "charter"):
        assert decide(code, "accept").status_code == 302, code
    assert decide("parents_link", "return").status_code == 400           # a return needs a comment
    assert decide("parents_link", "return", "Страница не открывается").status_code == 302
    h_m1, h_dir = bearer(m1), bearer(dir_a)
    resp = client.post(f"{api}/schools/{a.id}/stages/{stages['parents_link'].id}/evidence", headers=h_dir,
                       json={"url": "https://school-a.edu.ru/municipal-service", "section": "Муниципальная услуга"})
    assert resp.status_code == 201 and resp.json["status"] == "submitted"
    assert client.post(f"{api}/schools/{a.id}/stages/{stages['parents_link'].id}/decision", headers=h_dir,
                       json={"decision": "accept"}).status_code == 403
    for code in ("parents_link", "trial"):
        resp = client.post(f"{api}/schools/{a.id}/stages/{stages[code].id}/decision", headers=h_m1,
                           json={"decision": "accept"})
        assert resp.status_code == 200 and resp.json["status"] == "accepted"
    history = client.get(f"{api}/schools/{a.id}/stages", headers=h_m1).json["stages"]
    link = next(s for s in history if s["code"] == "parents_link")
    assert [e["action"] for e in link["history"]] == ["submitted", "returned", "submitted", "accepted"]
    assert len(link["evidence"]) == 2
    regulation = next(s for s in history if s["code"] == "regulation")
    ev_id = regulation["evidence"][0]["id"]
    assert client.get(f"/transitions/evidence/{ev_id}/file").data == scan
    as_user(client, dir_b)
    assert client.get(f"/transitions/evidence/{ev_id}/file").status_code == 403

    # ---- the director signs the readiness statement with a PKCS#12 key and its passphrase
    sign_path = f"/transitions/{cid}/schools/{a.id}/statements"
    p12 = pki.pkcs12("director")

    def sign(user_client, data, key=p12):
        return user_client.post(sign_path, data={"csrf_token": csrf_token(user_client, "/"),
                                                 "pkcs12": (io.BytesIO(key), "director.p12"), **data})

    as_user(client, m1)
    assert sign(client, {"kind": "confirm", "passphrase": test_pki.PASSPHRASE}).status_code == 403
    as_user(client, dir_a)
    preview = client.get(f"/transitions/{cid}/schools/{a.id}/statement-preview.pdf")
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF")
    resp = sign(client, {"kind": "confirm", "passphrase": "не тот пароль"})
    assert resp.status_code == 400 and "неверный пароль" in page_text(resp)
    resp = sign(client, {"kind": "confirm", "passphrase": test_pki.PASSPHRASE}, key=pki.pkcs12("revoked"))
    assert resp.status_code == 400 and "Сертификат выдан на «Гарипов Ильнур Рашитович»" in page_text(resp)
    assert db.query(ReadinessStatement).count() == 0
    resp = sign(client, {"kind": "confirm", "passphrase": test_pki.PASSPHRASE, "paperless_from": "2026-09-01"})
    assert resp.status_code == 302, page_text(resp)
    st = db.query(ReadinessStatement).one()
    assert st.kind is StatementKind.confirm and st.signature_kind == "pades"
    assert st.signer_name == "Сафин Ринат Ильдарович" and st.retain_until.year == 2031
    assert svc.is_ready(c, a)

    # the signature is validated from the archived copy; one changed byte breaks it
    from core.storage import get_storage
    from pades import validate
    archived = get_storage(app).get(st.storage_key)
    import hashlib
    assert hashlib.sha256(archived).hexdigest() == st.sha256
    assert client.get(f"/transitions/statements/{st.id}.pdf").data == archived
    assert db.query(AuditEntry).filter_by(action="transition.readiness.download", object_id=str(st.id)).count() == 1
    (report,) = in_thread(validate, archived, [pki.root], other_certs=[pki.interm], allow_fetching=True,
                          require_ours=False)
    assert report.intact and report.valid and report.trusted and report.bottom_line, report.summary_ru
    assert report.timestamp_ok, report.summary_ru              # B-T: TSA_URL is set
    assert report.signer_cn == "Сафин Ринат Ильдарович" and report.field_name == "Director"
    pos = archived.index(b"Type /Page") + 2
    tampered = archived[:pos] + (b"X" if archived[pos:pos + 1] != b"X" else b"Y") + archived[pos + 1:]
    (bad,) = in_thread(validate, tampered, [pki.root], other_certs=[pki.interm], allow_fetching=True,
                       require_ours=False)
    assert not bad.intact or not bad.valid
    # it is also a record of the legal archive, ingested (with its archive timestamp) by the job
    from archive.models import ArchiveRecord, RecordKind, RecordStatus
    record = db.query(ArchiveRecord).filter_by(kind=RecordKind.readiness_statement, source_id=st.id).one()
    assert record.status is RecordStatus.pending and record.school_id == a.id
    run_jobs()
    db.refresh(record)
    assert record.status is RecordStatus.archived, record.__dict__
    # the passphrase is nowhere in the audit log
    entries = db.query(AuditEntry).filter(AuditEntry.action.like("transition.readiness.%")).all()
    assert entries and all(test_pki.PASSPHRASE not in str(e.summary) for e in entries)
    assert entries[0].summary["after"]["sha256"] == st.sha256

    # a confirmation is withdrawn only by a new signed statement (with a reason)
    resp = sign(client, {"kind": "withdraw", "passphrase": test_pki.PASSPHRASE})
    assert resp.status_code == 400 and "Причина отзыва" in page_text(resp)
    resp = sign(client, {"kind": "withdraw", "passphrase": test_pki.PASSPHRASE,
                         "reason": "Сбой платформы, журналы временно ведутся на бумаге"})
    assert resp.status_code == 302
    assert not svc.is_ready(c, a)
    withdraw = db.query(ReadinessStatement).order_by(ReadinessStatement.id.desc()).first()
    assert withdraw.kind is StatementKind.withdraw and withdraw.supersedes_id == st.id
    assert sign(client, {"kind": "confirm", "passphrase": test_pki.PASSPHRASE}).status_code == 302
    assert svc.is_ready(c, a)

    # ---- paperless from a date, accepted by the municipality
    assert evidence("paperless", {"date_from": "2026-09-01"}).status_code == 302
    as_user(client, m1)
    assert decide("paperless", "accept").status_code == 302
    state = svc.states_of(c, a)
    assert all(state[s.id].status is StageStatus.accepted for s in c.stages)
    text = page_text(client.get(f"/transitions/{cid}/schools/{a.id}"))
    assert "готовность подтверждена директором" in text
    assert "подтверждение готовности отозвано подписанным заявлением" in text     # the timeline

    # ---- progress: the region sees every municipality; a municipality its own; a director none
    as_user(client, region)
    resp = client.get(f"/transitions/{cid}/progress")
    assert resp.status_code == 200 and "<svg" in resp.get_data(as_text=True)
    prog = client.get(f"{api}/progress", headers=bearer(region)).json
    first = next(p for p in prog["municipalities"] if p["municipality"]["id"] == tree["m1"].id)
    assert first["schools"] == 1 and first["current"]["done"] == 1 and first["accepted"]["readiness"] == 1
    mine = client.get(f"{api}/progress", headers=h_m1).json["municipalities"]
    assert [p["municipality"]["id"] for p in mine] == [tree["m1"].id]
    assert client.get(f"{api}/progress", headers=h_dir).status_code == 403


def test_monthly_report_and_rollup(client, db, tree, people, clock):
    import json as _json
    region, m1, m2, dir_a = (people[k] for k in ("region", "m1", "m2", "dir_a"))
    from reports.services import DEFAULT_FORMS
    as_user(client, m1)
    assert post(client, "/transitions/reports/new", {"title": "x"}).status_code == 403
    as_user(client, region)
    resp = post(client, "/transitions/reports/new", {
        "region_id": tree["region"].id, "title": "Ежемесячный отчёт о внедрении (приложение № 2)",
        "periodicity": "monthly", "deadline_text": "до 30 числа отчётного месяца", "submitter_kind": "municipality",
        "first_period": "2026-04-01", "fields": _json.dumps(DEFAULT_FORMS["monthly"]["fields"])})
    assert resp.status_code == 302, page_text(resp)
    form = db.query(ReportForm).one()

    clock.move_to("2026-05-29 15:00:00")
    as_user(client, dir_a)
    fill_m1 = f"/transitions/reports/{form.id}/{tree['m1'].id}/2026-05"
    assert post(client, fill_m1, {"submit": "1"}).status_code == 403
    as_user(client, m1)
    resp = post(client, fill_m1, {"schools_total": "12", "schools_electronic": "10", "schools_paperless": "11",
                                  "paperless_share": "40", "parents_link": "yes", "submit": "1"})
    assert resp.status_code == 400
    assert "больше, чем в поле «Из них ведут электронные журналы»" in page_text(resp)
    resp = post(client, fill_m1, {"schools_total": "12", "schools_electronic": "10", "schools_paperless": "3",
                                  "paperless_share": "25", "parents_link": "yes", "problems": "=HYPERLINK(1)",
                                  "submit": "1"})
    assert resp.status_code == 302

    clock.move_to("2026-06-02 10:00:00")                   # one day late
    api = "/api/v1/transitions/reports"
    h_m2 = bearer(m2)
    resp = client.put(f"{api}/forms/{form.id}/submissions/{tree['m2'].id}/2026-05", headers=h_m2, json={
        "submit": True, "values": {"schools_total": 8, "schools_electronic": 8, "schools_paperless": 6,
                                   "paperless_share": 75, "parents_link": False}})
    assert resp.status_code == 200 and resp.json["state"] == "late", resp.json
    assert client.put(f"{api}/forms/{form.id}/submissions/{tree['m1'].id}/2026-05", headers=h_m2,
                      json={"values": {}}).status_code == 403
    listing = client.get(f"{api}/forms/{form.id}/submissions?period=2026-05", headers=bearer(region)).json
    states = {i["organisation"]["id"]: i["state"] for i in listing["items"]}
    assert states == {tree["m1"].id: "submitted", tree["m2"].id: "late", people["m3"].id: "overdue"}

    # acceptance is the region's (the level above a municipality), not the municipality's own
    subs = {s.organisation_id: s for s in db.query(ReportSubmission).all()}
    assert client.post(f"{api}/submissions/{subs[tree['m2'].id].id}/decision", headers=h_m2,
                       json={"decision": "accept"}).status_code == 403
    as_user(client, region)
    resp = post(client, f"/transitions/reports/submissions/{subs[tree['m1'].id].id}/decision", {"decision": "accept"})
    assert resp.status_code == 302
    resp = client.post(f"{api}/submissions/{subs[tree['m2'].id].id}/decision", headers=bearer(region),
                       json={"decision": "accept"})
    assert resp.status_code == 200 and resp.json["status"] == "accepted"
    assert subs[tree["m1"].id].status is ReportStatus.accepted

    rollup = client.get(f"{api}/forms/{form.id}/rollup", headers=bearer(region)).json["items"]
    total = next(r for r in rollup if r["municipality_id"] is None)
    assert total["count"] == 2 and total["sum"]["schools_paperless"] == 9 and total["sum"]["schools_total"] == 20
    assert total["avg"]["paperless_share"] == 50 and total["avg"]["parents_link"] == 50
    page = client.get(f"/transitions/reports/{form.id}/rollup")
    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True) and "Итого по региону" in page_text(page)
    xlsx = client.get(f"/transitions/reports/{form.id}/rollup?format=xlsx")
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.values)
    assert rows[0][:3] == ("Период", "Муниципалитет", "Отчётов") and len(rows) == 1 + 3
    own = client.get(f"{api}/forms/{form.id}/rollup", headers=bearer(m1)).json["items"]
    assert [r["municipality_id"] for r in own] == [tree["m1"].id]        # no region total, no neighbours
    assert client.get(f"{api}/forms/{form.id}/rollup", headers=bearer(dir_a)).status_code == 403


def test_every_page_and_endpoint_checks_the_role(client, db, tree, people):
    region, m1, dir_a = people["region"], people["m1"], people["dir_a"]
    c = svc.create_campaign(region=tree["region"], title="Кампания", target_date=svc.today().replace(year=2030),
                            reply_deadline=svc.today().replace(year=2029), actor=region)
    svc.set_recommended(c, [tree["a"]], actor=region)
    stage = c.stages[0]
    as_user(client, m1)
    assert post(client, f"/transitions/{c.id}/stages", {"title": "Новый"}).status_code == 403
    assert post(client, f"/transitions/{c.id}/stages/{stage.id}", {"op": "delete"}).status_code == 403
    assert post(client, f"/transitions/{c.id}/edit", {"title": "x", "target_date": "2030-01-01"}).status_code == 403
    assert client.get(f"/transitions/{c.id}/schools/{tree['a'].id}/statement-preview.pdf").status_code == 403
    assert client.get(f"/transitions/{c.id}/schools/{tree['b'].id}").status_code == 403     # not its school
    assert client.get(f"/transitions/{c.id}/progress").status_code == 200
    as_user(client, dir_a)
    assert post(client, f"/transitions/{c.id}/list/publish").status_code == 403
    assert client.get(f"/transitions/{c.id}/progress").status_code == 403
    assert client.get(f"/transitions/{c.id}/replies").status_code == 403
    assert client.get(f"/transitions/{c.id}").status_code == 200                          # its region's campaign
    # a user of another region sees nothing of this campaign
    from orgs import services as org_services
    from orgs.models.organisations import OrgKind
    other = org_services.create_org(kind=OrgKind.region, code="OTHER", name="Другая область")
    stranger = auth.create_user("stranger", "Чужой", "correct-horse-42")
    from orgs.models.users import Role
    auth.grant(stranger, Role.regional_official, other)
    as_user(client, stranger)
    assert client.get(f"/transitions/{c.id}").status_code == 403
    assert client.get(f"/api/v1/transitions/campaigns/{c.id}", headers=bearer(stranger)).status_code == 403
    assert client.get("/api/v1/transitions/campaigns", headers=bearer(stranger)).json["items"] == []
    resp = client.get(f"/api/v1/transitions/campaigns/{c.id}")
    assert resp.status_code == 401 and resp.json["error"] == "unauthorized"
    # the stage editor works for the region
    as_user(client, region)
    assert post(client, f"/transitions/{c.id}/stages", {"title": "Обучены учителя", "requires_order": "1"}
                ).status_code == 302
    assert post(client, f"/transitions/{c.id}/stages/{c.stages[-1].id}", {"op": "delete"}).status_code == 400


def test_the_api_is_documented(client, app):
    spec = client.get("/api/v1/openapi.json").json
    documented = set(spec["paths"])
    routes = {re.sub(r"<(?:int:)?(\w+)>", r"{\1}", r.rule.removeprefix("/api/v1"))
              for r in app.url_map.iter_rules() if r.endpoint.startswith("transitions_api.")}
    routes = {re.sub(r"\{period_key\}", "{period}", r) for r in routes}
    assert routes and routes <= documented, routes - documented
