"""The legal archive: ingest, verification, fixity and archivist search; print the rates and, from the
same run, the baselines they are judged against.

    .venv/bin/python benchmarks/archive.py [--sheets 40] [--search-records 500000] [--no-tsa]

Everything on this machine: embedded PostgreSQL and SeaweedFS (S3 with Object Lock) from their
wheels, the test PKI's timestamp server and OCSP/CRL responders (certomancer on 127.0.0.1). One real
summary sheet (28 pupils × 16 subjects, teacher + director, B-T) is signed once and handed to the
archive as N sheet versions, so every ingest does the whole job on realistic bytes. Figures, not
assertions:

  - ingest per second (B-LTA: DSS + document timestamp, key from id and hash, put with COMPLIANCE
    retention, manifest, read back both, mark archived) against the primitives measured in the
    same run: a stock pyHanko document timestamp + a bare S3 put + a bare read-back (target ≤ 1.5×);
  - verification per second (our full report: signatures, archive timestamps, PAdES-LTA, archive
    match) against a bare pyHanko `validate_pdf_signature` of the same signatures;
  - fixity per second (both objects re-read and re-hashed) against the bare read-backs;
  - archivist search over --search-records synthetic records: p50 / p95 over a mix of queries
    (surname, surname + year, school + year + class, signer, browsing pages), target p95 < 100 ms.
"""
import argparse
import hashlib
import io
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from project_path import use_checkout  # noqa: E402

use_checkout()
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="xdg-"))

from web import embedded  # noqa: E402

YEAR = "2025/2026"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median_s(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def start(base: Path):
    pg, rd, *weed = embedded.free_ports(12)
    stops = [embedded.start_postgres(base / "pg", pg, fsync=False), embedded.start_redis(base / "redis", rd),
             embedded.start_seaweed(base / "weed", weed, "benchkey", "benchsecret123", fast_stop=True,
                                    max_volumes=20, volume_mb=256)]
    url = embedded.create_database(f"postgresql+psycopg://postgres@127.0.0.1:{pg}/postgres", "bench")
    s3 = f"s3://benchkey:benchsecret123@127.0.0.1:{weed[embedded.S3_PORT_INDEX]}/bench?secure=0"
    return url, s3, f"127.0.0.1:{weed[embedded.S3_PORT_INDEX]}", f"redis://127.0.0.1:{rd}/0", stops


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sheets", type=int, default=40)
    ap.add_argument("--search-records", type=int, default=500_000)
    ap.add_argument("--no-tsa", action="store_true", help="archive without a TSA (no B-LTA step)")
    ap.add_argument("--evidence-records", type=int, default=100_000,
                    help="records sealed and renewed by evidence records (RFC 4998); 0: skip")
    ap.add_argument("--lta-baseline", type=int, default=1000,
                    help="records renewed one by one by a B-LTA document timestamp, the baseline")
    ap.add_argument("--only-evidence", action="store_true", help="skip ingest, verification, fixity and search")
    args = ap.parse_args()
    from asn1crypto import pem

    from tests.sheets import pki as test_pki
    base = embedded.service_tempdir("bench-archive-")
    url, s3, endpoint, redis_url, stops = start(base)
    tpki = test_pki.start(base / "pki")
    try:
        roots = base / "roots.pem"
        roots.write_bytes(pem.armor("CERTIFICATE", tpki.root.dump()))
        from alembic import command

        from web import create_app
        from web.cli import alembic_config
        command.upgrade(alembic_config(url), "heads")
        app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url, "ARCHIVE_URL": s3,
                          "SECRET_KEY": "bench", "TRUST_ROOTS": str(roots), "PUBLIC_URL": "http://127.0.0.1",
                          "TSA_URL": None if args.no_tsa else tpki.tsa_url})
        with app.app_context():
            records, pdf = make_records(app, tpki, args.sheets)
            print(f"sheet: {len(pdf) / 1024:.0f} KB, 2 signatures ({'B-B' if args.no_tsa else 'B-T'}); "
                  f"records: {len(records)}; "
                  f"TSA: {'no' if args.no_tsa else 'yes (B-LTA at ingest)'}")
            if args.only_evidence:
                measure_evidence(app, tpki, records, args.evidence_records, args.lta_baseline)
                return
            primitives = measure_primitives(app, tpki, pdf, endpoint, args.no_tsa)
            ingest_s, cold_s, unshared_s = measure_ingest(app, records)
            verify_s, bare_validate_s = measure_verify(app, records, tpki)
            fixity_s = measure_fixity(records)
            base_sum = primitives["timestamp"] + primitives["put"] + primitives["get"]
            print()
            print("primitives (median):")
            labels = {"timestamp": "document timestamp, stock pyHanko (timestamp_pdf with a validation context)",
                      "lean_ts": "document timestamp, lean (fixed size, no validation data)",
                      "put": "bare S3 put (raw minio client)", "get": "bare S3 read-back + SHA-256"}
            for k, v in primitives.items():
                print(f"  {ms(v):>9}  {labels[k]}")
            lean_sum = primitives["lean_ts"] + primitives["put"] + primitives["get"]
            print(f"ingest:        {ms(ingest_s)} per sheet = {1 / ingest_s:.1f}/s; primitives timestamp+put+read-back "
                  f"{ms(base_sum)} → {ingest_s / base_sum:.2f}× (target ≤ 1.5×); "
                  f"with the lean timestamp {ms(lean_sum)} → {ingest_s / lean_sum:.2f}×")
            print(f"ingest, cold:  {ms(cold_s)} per sheet (a new validation context per sheet, as in a forked "
                  f"worker; revocation data shared through Redis) → {cold_s / base_sum:.2f}× (target ≤ 1.5×) / "
                  f"{cold_s / lean_sum:.2f}×")
            print(f"ingest, cold, cache off: {ms(unshared_s)} per sheet (revocation data fetched afresh for every "
                  f"sheet) → {unshared_s / base_sum:.2f}× / {unshared_s / lean_sum:.2f}×")
            print(f"verification:  {ms(verify_s)} per sheet = {1 / verify_s:.1f}/s; bare pyHanko validation "
                  f"{ms(bare_validate_s)} → {verify_s / bare_validate_s:.2f}×")
            two_gets = 2 * primitives["get"]
            print(f"fixity:        {ms(fixity_s)} per record = {1 / fixity_s:.1f}/s; bare read-back of its 2 objects "
                  f"{ms(two_gets)} → {fixity_s / two_gets:.2f}×")
            if args.evidence_records and not args.no_tsa:
                measure_evidence(app, tpki, records, args.evidence_records, args.lta_baseline)
            if args.search_records:
                measure_search(app, args.search_records)
    finally:
        tpki.close()
        for stop in reversed(stops):
            stop()


def make_records(app, tpki, n):
    """One real signed sheet, handed to the archive as n sheet versions (n pending records)."""
    from archive.services import register_sheet
    from core.db import session
    from orgs import accounts as auth
    from orgs import services as org_services
    from orgs.models.organisations import OrgKind
    from orgs.models.users import Role
    from pades import PKCS12Signer
    from sheets import services
    from sheets.models import SheetStatus, SummarySheet
    from tests.archive.conftest import class_marks
    region = org_services.create_org(kind=OrgKind.region, code="R", name="Область", audited=False)
    mun = org_services.create_org(kind=OrgKind.municipality, code="M", parent=region, name="Район", audited=False)
    school = org_services.create_org(kind=OrgKind.school, code="S", parent=mun, name="Школа № 1", audited=False)
    teacher = auth.create_user("t", "Иванова Мария Петровна", "correct-horse-42")
    director = auth.create_user("d", "Сафин Ринат Ильдарович", "correct-horse-42")
    auth.grant(teacher, Role.class_teacher, school)
    auth.grant(director, Role.director, school)
    marks = class_marks("7А", pupils=28, subjects=16)
    (sheet,) = services.import_classes(school, YEAR, {"7А": marks}, actor=director)
    from sheets.class_teachers import assign_for
    assign_for([sheet], teacher, actor=director)
    services.render_pdf(sheet, actor=director)
    key = lambda label: PKCS12Signer(tpki.pkcs12(label), test_pki_pass())
    services.sign(sheet, "teacher", key("teacher"), actor=teacher)
    services.sign(sheet, "director", key("director"), actor=director)
    pdf = sheet.pdf
    sheets = [sheet]
    for i in range(1, n):
        s = SummarySheet(school=school, school_year=YEAR, class_name=f"7А{i}", class_label=f"7 «А» ({i})",
                         version=1, status=SheetStatus.signed, marks=sheet.marks, pdf=pdf, pdf_sha256=sheet.pdf_sha256,
                         class_teacher_id=teacher.id, director_id=director.id,
                         teacher_signed_at=sheet.teacher_signed_at, director_signed_at=sheet.director_signed_at)
        session.add(s)
        sheets.append(s)
    session.flush()
    records = [register_sheet(s) for s in sheets]
    from core import db
    db.commit()
    return records, pdf


def measure_evidence(app, tpki, records, n: int, baseline: int) -> None:
    """Seal n archived records with one evidence-record tree, renew them all, verify a random 1 %; against
    the per-record B-LTA renewal of `baseline` records (a document timestamp each) in the same run."""
    from sqlalchemy import select, text

    from archive import evidence, evidence_store, ingest
    from archive.lta import renew_archive_timestamp
    from archive.models import ArchiveRecord, RecordEvidence
    from core import db
    from core.db import session
    from core.storage import get_storage
    from core.trust import trust_roots
    for r in records:               # the real sheets first: their archived object is the baseline's input
        if r.status.value != "archived":
            ingest.ingest(r)
            db.commit()
    org = session.scalar(select(ArchiveRecord.organisation_id).limit(1))
    t0 = time.perf_counter()
    session.execute(text("""
        INSERT INTO archive_records (kind, status, source_type, source_id, title, organisation_id, org_path,
            signers, backend, key, sha256, size, retention_years, retention_until, legal_hold, attempts,
            created_at, archived_at)
        SELECT 'summary_sheet', 'archived', 'bench-ers', g, 'Ведомость ' || g, :org, '/', '[]'::jsonb, 's3',
            'records/ers-' || g || '.pdf', encode(sha256(convert_to('record ' || g, 'UTF8')), 'hex'), 200000, 25,
            DATE '2052-01-01', false, 1, now(), now()
        FROM generate_series(1, :n) g"""), {"org": org, "n": n})
    db.commit()
    print(f"\nevidence records: {n} synthetic archived records inserted in {time.perf_counter() - t0:.1f} s")
    calls = []
    real = evidence_store._timestamp
    evidence_store._timestamp = lambda root: calls.append(root) or real(root)
    store_pending = evidence_store.store_pending
    timings: dict[str, float] = {}

    def timed(name, fn, *a, **kw):
        t = time.perf_counter()
        out = fn(*a, **kw)
        timings[name] = time.perf_counter() - t
        return out
    try:
        evidence_store.store_pending = lambda limit=None: 0          # the objects are timed on their own
        sealed = timed("seal", evidence_store.seal)
        timings["seal_store"] = (lambda t: (store_pending(), time.perf_counter() - t)[1])(time.perf_counter())
        renewed = timed("renew", evidence_store.renew, force=True)
        timings["renew_store"] = (lambda t: (store_pending(), time.perf_counter() - t)[1])(time.perf_counter())
    finally:
        evidence_store._timestamp, evidence_store.store_pending = real, store_pending
    total = sealed["sealed"]
    print(f"seal: {total} records, TSA requests {sealed['tsa_requests']}: tree + timestamp + rows "
          f"{timings['seal']:.1f} s, {total} .ers written and read back {timings['seal_store']:.1f} s "
          f"({total / timings['seal_store']:.0f}/s)")
    print(f"renewal (RFC 4998 §5.2): {renewed['records']} records, TSA requests {renewed['tsa_requests']}: "
          f"{timings['renew']:.2f} s; new .ers for each {timings['renew_store']:.1f} s "
          f"({renewed['records'] / timings['renew_store']:.0f}/s)")
    storage, roots = get_storage(), trust_roots()
    check = evidence_store.token_checker(roots)
    ids = random.Random(1).sample([e for e in session.scalars(select(RecordEvidence.id))], max(1, total // 100))
    t = time.perf_counter()
    ok = 0
    for ev in session.scalars(select(RecordEvidence).where(RecordEvidence.id.in_(ids))):
        result = evidence.verify(bytes.fromhex(ev.sha256), evidence.load(storage.get(ev.key)), check)
        ok += result.ok
    verify_s = time.perf_counter() - t
    print(f"verification of a random 1 %: {ok} of {len(ids)} valid (2 timestamps each) in {verify_s:.1f} s "
          f"({1000 * verify_s / len(ids):.1f} ms per record)")
    archived = next(r for r in records if r.status.value == "archived")
    pdf = storage.get(archived.key)
    t = time.perf_counter()
    for _ in range(baseline):
        renew_archive_timestamp(pdf, tpki.tsa_url, list(roots))
    lta_s = time.perf_counter() - t
    per = lta_s / baseline
    ers_s = timings["renew"] + timings["renew_store"]
    print(f"baseline, per-record B-LTA renewal: {baseline} records, {baseline} TSA requests, {lta_s:.1f} s "
          f"({1000 * per:.0f} ms per record) → {n} records projected {per * n / 60:.0f} min and {n} TSA requests")
    print(f"evidence-record renewal of {renewed['records']} records: {ers_s:.1f} s with the new .ers written, "
          f"1 TSA request → {per * n / ers_s:.0f}× faster than the projected per-record renewal; "
          f"{len(calls)} TSA requests in all (seal + renewal)")


def test_pki_pass():
    from tests.sheets import pki as test_pki
    return test_pki.PASSPHRASE


def measure_primitives(app, tpki, pdf, endpoint, no_tsa) -> dict:
    """Stock pyHanko document timestamp (with the TSA's validation data, as pyHanko does it), a bare
    S3 put and a bare read-back with the raw client."""
    from minio import Minio
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import timestamps
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko_certvalidator import ValidationContext
    raw = Minio(endpoint, access_key="benchkey", secret_key="benchsecret123", secure=False)
    if not raw.bucket_exists("bare"):
        raw.make_bucket("bare")
    counter = iter(range(10**6))

    def stamp():
        vc = ValidationContext(trust_roots=[tpki.root], allow_fetching=True)
        PdfTimeStamper(timestamps.HTTPTimeStamper(tpki.tsa_url)).timestamp_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)), "sha256", validation_context=vc)

    def put():
        raw.put_object("bare", f"o/{next(counter)}.pdf", io.BytesIO(pdf), len(pdf), content_type="application/pdf")
    put()

    def get():
        r = raw.get_object("bare", "o/0.pdf")
        try:
            hashlib.sha256(r.read()).hexdigest()
        finally:
            r.close()
            r.release_conn()
    def lean_stamp():
        PdfTimeStamper(timestamps.HTTPTimeStamper(tpki.tsa_url)).timestamp_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)), "sha256", bytes_reserved=16384)
    out = {"timestamp": 0.0 if no_tsa else median_s(stamp, 9),
           "lean_ts": 0.0 if no_tsa else median_s(lean_stamp, 9),
           "put": median_s(put, 15), "get": median_s(get, 15)}
    return out


def measure_ingest(app, records) -> tuple[float, float, float]:
    """Seconds per ingest: warm reuses the validation context (and the revocation data it fetched)
    of the previous sheets, as one process ingesting a school's sheets would; cold starts each sheet
    with a new one, as a forked RQ work-horse does — first with the revocation data the other
    workers fetched, shared through Redis (archive/revinfo.py), then with that cache off (every
    sheet asks the OCSP responder and CRL server again)."""
    from archive import ingest, lta
    from archive.models import RecordStatus
    from core import db
    ingest.ingest(records[0])                         # warm-up (connections, imports)
    db.commit()
    cold_n = max(2, (len(records) - 1) // 3)
    warm, cold = records[1:len(records) - cold_n], records[len(records) - cold_n:]
    shared, unshared = cold[:len(cold) // 2], cold[len(cold) // 2:]

    def per_sheet(batch, fresh_context: bool) -> float:
        t0 = time.perf_counter()
        for r in batch:
            if fresh_context:
                lta._local.vc = None
            ingest.ingest(r)
            db.commit()
        return (time.perf_counter() - t0) / max(1, len(batch))
    warm_s = per_sheet(warm, False)
    shared_s = per_sheet(shared, True)
    cache = app.config["ARCHIVE_REVINFO_CACHE_SECONDS"]
    app.config["ARCHIVE_REVINFO_CACHE_SECONDS"] = 0
    try:
        unshared_s = per_sheet(unshared, True)
    finally:
        app.config["ARCHIVE_REVINFO_CACHE_SECONDS"] = cache
    assert all(r.status is RecordStatus.archived for r in records)
    return warm_s, shared_s, unshared_s


def measure_verify(app, records, tpki) -> tuple[float, float]:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from archive.verify import verify_bytes
    from core.storage import get_storage
    sample = records[: min(10, len(records))]
    blobs = [get_storage().get(r.key) for r in sample]
    v = verify_bytes(blobs[0], allow_fetching=False)
    assert v.ok, v.lines_ru()
    t0 = time.perf_counter()
    for b in blobs:
        assert verify_bytes(b, allow_fetching=False).ok
    ours = (time.perf_counter() - t0) / len(blobs)

    def bare(b):
        vc = ValidationContext(trust_roots=[tpki.root], allow_fetching=False)
        for sig in PdfFileReader(io.BytesIO(b)).embedded_regular_signatures:
            validate_pdf_signature(sig, vc)
    t0 = time.perf_counter()
    for b in blobs:
        bare(b)
    return ours, (time.perf_counter() - t0) / len(blobs)


def measure_fixity(records) -> float:
    from archive import fixity
    from core import db
    ids = [r.id for r in records]
    t0 = time.perf_counter()
    run = fixity.run(record_ids=ids, trigger="bench")
    elapsed = time.perf_counter() - t0
    db.commit()
    assert run.ok == len(ids), run.problems
    return elapsed / len(ids)


SURNAME_ROOTS = ["Иван", "Петр", "Сидор", "Кузнец", "Смирн", "Попов", "Васил", "Соколов", "Михайл", "Новик",
                 "Фёдор", "Морозов", "Волк", "Алексе", "Лебед", "Семён", "Егор", "Павл", "Козл", "Степан",
                 "Никол", "Орл", "Андре", "Макар", "Никит", "Захар", "Зайц", "Солов", "Борис", "Яковл",
                 "Григор", "Роман", "Воробь", "Серге", "Кузьмин", "Фрол", "Александр", "Дмитри", "Корол", "Гусе",
                 "Киселёв", "Ильин", "Максим", "Поляк", "Сорокин", "Виноград", "Ковал", "Бел", "Медвед", "Антон",
                 "Тарас", "Жук", "Баран", "Филипп", "Комар", "Давыд", "Беляк", "Герасим", "Богдан", "Осип",
                 "Сафин", "Гарип", "Валиев", "Хасан", "Юсуп", "Галиев", "Закир", "Мухамет", "Шарафутдин", "Хабибулл"]
FIRST = ["Анна", "Мария", "Дарья", "Алсу", "Камила", "Софья", "Полина", "Иван", "Пётр", "Тимур", "Булат",
         "Артём", "Кирилл", "Глеб", "Лев", "Амир", "Арслан", "Матвей", "Ксения", "Элина"]


def surnames() -> list[str]:
    out = []
    for i, root in enumerate(SURNAME_ROOTS):
        for j, (m, f) in enumerate((("ов", "ова"), ("ин", "ина"), ("ев", "ева"), ("ский", "ская"))):
            for k in range(10):          # 2,800 × 2 distinct surnames
                stem = root + ("" if k == 0 else "абвгдежзик"[k])
                out += [stem + m, stem + f]
    return out


def measure_search(app, n: int) -> None:
    """n synthetic archived records (25 pupils each) over 1,500 schools in 45 municipalities."""
    from sqlalchemy import text

    from archive.search import Query, search
    from core.db import session
    from orgs import accounts as auth
    from orgs import services as org_services
    from orgs.models.organisations import Organisation, OrgKind
    from orgs.models.users import Role
    region = session.query(Organisation).filter_by(code="R").one()
    muns = [org_services.create_org(kind=OrgKind.municipality, code=f"BM{i}", parent=region, name=f"Район {i}",
                                    audited=False) for i in range(45)]
    _schools = [org_services.create_org(kind=OrgKind.school, code=f"BS{i}", parent=muns[i % 45],
                                       name=f"Школа № {i}", audited=False) for i in range(1500)]
    archivist = auth.create_user("arch", "Архивист", "correct-horse-42")
    auth.grant(archivist, Role.archivist, region)
    local = auth.create_user("arch-m", "Архивист района", "correct-horse-42")
    auth.grant(local, Role.archivist, muns[3])
    session.commit()
    names = surnames()
    session.execute(text("CREATE TEMP TABLE bench_names (i int primary key, name text)"))
    session.execute(text("INSERT INTO bench_names SELECT i, n FROM unnest(CAST(:names AS text[])) WITH ORDINALITY "
                         "AS t(n, i)"), {"names": names})
    session.execute(text("CREATE TEMP TABLE bench_schools (i int primary key, id int, path text, mun int, reg int)"))
    session.execute(text("INSERT INTO bench_schools SELECT row_number() OVER (ORDER BY id) - 1, id, path, parent_id, "
                         ":reg FROM organisations WHERE code LIKE 'BS%'"), {"reg": region.id})
    t0 = time.perf_counter()
    per_batch = 50_000
    for start in range(0, n, per_batch):
        session.execute(text(f"""
            INSERT INTO archive_records (kind, status, source_type, source_id, title, organisation_id, org_path,
                school_id, municipality_id, region_id, school_year, class_name, class_label, signers, search,
                signer_search, backend, key, sha256, size, retention_years, retention_until, legal_hold,
                attempts, created_at, archived_at)
            SELECT 'summary_sheet', 'archived', 'bench', g, 'Сводная ведомость ' || cls || ', ' || yr,
                s.id, s.path, s.id, s.mun, s.reg, yr, cls, cls, '[]'::jsonb,
                to_tsvector('russian', pupils || ' ' || cls || ' Школа'),
                to_tsvector('russian', t1.name || ' Мария ' || t2.name || ' Ринат'),
                's3', 'records/' || g || '/x.pdf', md5(g::text) || md5(g::text), 200000, 25,
                DATE '2052-01-01', false, 1, now(), now()
            FROM (SELECT g, (g * 7919) % 1500 AS si,
                         (2001 + g % 25)::text || '/' || (2002 + g % 25)::text AS yr,
                         (1 + g % 11)::text || (ARRAY['А','Б','В'])[1 + (g / 11) % 3] AS cls,
                         (SELECT string_agg(n.name || ' ' || (ARRAY{FIRST!r})[1 + (g * k) % {len(FIRST)}], ' ')
                          FROM generate_series(1, 25) k
                          JOIN bench_names n ON n.i = 1 + ((g * 31 + k * 104729) % {len(names)})) AS pupils
                  FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) g) x
            JOIN bench_schools s ON s.i = x.si
            JOIN bench_names t1 ON t1.i = 1 + (x.g % {len(names)})
            JOIN bench_names t2 ON t2.i = 1 + ((x.g * 13) % {len(names)})
        """), {"a": start + 1, "b": min(n, start + per_batch)})
        session.commit()
    session.execute(text("ANALYZE archive_records"))
    session.commit()
    print(f"\nsearch: {n} synthetic records inserted in {time.perf_counter() - t0:.0f} s")
    rnd = random.Random(7)
    school_ids = {i: sid for i, sid in session.execute(text("SELECT i, id FROM bench_schools"))}

    def row(g):
        """What record g holds (the generator's formulas): a pupil's surname, its year, school, class."""
        return SimpleNamespace(pupil=names[(g * 31 + 104729) % len(names)],
                               year=f"{2001 + g % 25}/{2002 + g % 25}", school=school_ids[(g * 7919) % 1500],
                               cls=f"{1 + g % 11}{'АБВ'[(g // 11) % 3]}", signer=names[g % len(names)])
    rows = [row(rnd.randrange(1, n + 1)) for _ in range(80)]
    queries = []
    for r in rows[:20]:
        queries.append(("surname", archivist, Query(pupil=r.pupil)))
    for r in rows[20:35]:
        queries.append(("surname+year", archivist, Query(pupil=r.pupil, school_year=r.year)))
    for r in rows[35:50]:
        queries.append(("school+year+class", archivist, Query(school_id=r.school, school_year=r.year,
                                                              class_name=r.cls)))
    for r in rows[50:60]:
        queries.append(("signer", archivist, Query(signer=r.signer)))
    for p in (1, 2, 5, 20):
        queries.append(("browse", archivist, Query(page=p)))
    for r in rows[60:75]:
        queries.append(("municipal scope, surname", local, Query(pupil=r.pupil)))
    queries.append(("municipal scope, browse", local, Query()))
    for _, user, q in queries[:10]:                       # warm the caches
        search(user, q)
    times, by_kind = [], {}
    for kind, user, q in queries * 3:
        t0 = time.perf_counter()
        page = search(user, q)
        dt_ = time.perf_counter() - t0
        times.append(dt_)
        by_kind.setdefault(kind, []).append((dt_, len(page.rows)))
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"search over {n} records, {len(times)} queries: p50 {ms(statistics.median(times))}, p95 {ms(p95)} "
          f"(target p95 < 100 ms)")
    for kind, vals in by_kind.items():
        t = sorted(v[0] for v in vals)
        print(f"  {kind:<26} median {ms(statistics.median(t))}, max {ms(t[-1])}, "
              f"rows/page ~{statistics.median(v[1] for v in vals):.0f}")


if __name__ == "__main__":
    main()
