"""Revocation data shared by the worker processes (archive/revinfo.py): a forked work-horse starts
with no validation context of its own, yet takes the OCSP answers and CRLs the previous ingest
fetched from Redis instead of asking the CA again — and the archive copy still verifies. A broken
cache entry, or the cache turned off, means a fresh fetch, never a failure."""
import hashlib

from pyhanko.pdf_utils.reader import PdfFileReader

from archive import lta, revinfo
from archive.models import RecordStatus
from core import db
from core.storage import get_storage


def _archived(tree, sign_sheet, run_jobs, name):
    from archive.services import record_for
    sheet = sign_sheet(tree["a"], name)
    db.commit()
    lta._local.vc = None                     # as in a freshly forked work-horse
    run_jobs()
    record = record_for("summary_sheet", sheet.id)
    assert record.status is RecordStatus.archived, record.last_error
    return get_storage().get(record.key)


def _ocsp_answers(pdf: bytes) -> set[str]:
    import io
    answers = PdfFileReader(io.BytesIO(pdf)).root["/DSS"]["/OCSPs"]
    return {hashlib.sha256(answers[i].data).hexdigest() for i in range(len(answers))}


def _cached_keys(redis_conn) -> list[bytes]:
    return list(redis_conn.scan_iter(match=revinfo.PREFIX + "*"))


def _clear(redis_conn):
    for k in _cached_keys(redis_conn):
        redis_conn.delete(k)


def test_a_fresh_worker_takes_the_answers_another_worker_fetched(app, tree, people, sign_sheet, run_jobs, tsa,
                                                                   redis_conn):
    from archive.verify import verify_bytes
    _clear(redis_conn)
    first = _archived(tree, sign_sheet, run_jobs, "9А")
    keys = _cached_keys(redis_conn)
    assert keys and all(0 < redis_conn.ttl(k) <= app.config["ARCHIVE_REVINFO_CACHE_SECONDS"] for k in keys)
    second = _archived(tree, sign_sheet, run_jobs, "9Б")
    # The same OCSP answers (each fresh answer carries its own nonce, so a new fetch would differ)
    assert _ocsp_answers(first) and _ocsp_answers(second) == _ocsp_answers(first)
    v = verify_bytes(second)
    assert v.ok, v.lines_ru()

    # A broken entry is a miss: fetched afresh, stored again, still a valid archive copy.
    for k in _cached_keys(redis_conn):
        redis_conn.set(k, b"not json", ex=60)
    third = _archived(tree, sign_sheet, run_jobs, "9В")
    assert _ocsp_answers(third).isdisjoint(_ocsp_answers(first))
    assert verify_bytes(third).ok


def test_with_the_cache_off_every_worker_fetches_for_itself(app, tree, people, sign_sheet, run_jobs, tsa, redis_conn):
    _clear(redis_conn)
    app.config["ARCHIVE_REVINFO_CACHE_SECONDS"] = 0
    try:
        first = _archived(tree, sign_sheet, run_jobs, "9Г")
        second = _archived(tree, sign_sheet, run_jobs, "9Д")
    finally:
        app.config["ARCHIVE_REVINFO_CACHE_SECONDS"] = 300
    assert _cached_keys(redis_conn) == []
    assert _ocsp_answers(first).isdisjoint(_ocsp_answers(second))
