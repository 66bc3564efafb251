"""Evidence records of the archive's records: seal a batch of archived objects with one timestamp, renew
every record's timestamps with one more, keep each record's `.ers` beside it in the WORM bucket, verify.

- `seal()`: the archived records without an evidence record get one tree (archive/evidence.py) over their
  objects' SHA-256 and one TSA request; each gets `records/<id>/evidence/<tree>.ers` (its retention date).
- `renew()`: the current trees whose TSA certificate ends within ARCHIVE_LTA_RENEW_DAYS (or all, `force`)
  get one renewal tree over their timestamps and one TSA request; every record sealed under them gets a
  new `.ers` with the ArchiveTimeStamp appended. No per-record TSA request, ever.

Bookkeeping is done before the objects are written and committed, as the ingest does: the rows (the tree,
each record's path in it, `key` still None) are committed first, then each `.ers` is written once (a retry
writes the same bytes under the same key) and read back, then `key` is set. A crash between the two leaves
rows without `key`, which `store_pending()` (run by every seal and renewal) completes — never an object the
database does not know of.

The ArchiveTimeStamps of the renewal trees are the same for every record under them: they are built once per
tree (`_Parts`), and only the first (the record's own path) per record.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor

from asn1crypto import cms
from flask import current_app
from sqlalchemy import ColumnElement, insert, select, update

from archive import evidence
from archive.ingest import put_and_read_back
from archive.models import ArchiveRecord, EvidenceTree, RecordEvidence, RecordStatus
from core import audit
from core.db import execute_count, present, session, utcnow
from core.storage import get_storage

log = logging.getLogger(__name__)
RENEW_BEFORE_DAYS = 365
PUT_THREADS = 8
STORE_CHUNK = 2000


class EvidenceError(Exception):
    """The evidence record could not be made (the TSA is down or refused). Russian message."""


# ---- timestamps ------------------------------------------------------------------------------------------------

def _timestamp(root: bytes) -> cms.ContentInfo:
    from pades import run_sync
    from pades.timestamps import StrictTimeStamper, TimestampUnavailable
    tsa = current_app.config.get("TSA_URL")
    if not tsa:
        raise EvidenceError("Не задана служба штампов времени (TSA_URL): доказательства сохранности не создаются.")
    try:
        return run_sync(StrictTimeStamper(tsa, timeout=30).async_timestamp(root, evidence.DIGEST))
    except TimestampUnavailable as e:
        raise EvidenceError(f"Служба штампов времени недоступна ({tsa}): {e}") from None


def _tree_row(purpose: str, tree: evidence.HashTree, token: cms.ContentInfo) -> EvidenceTree:
    if evidence.imprint(token) != tree.root:
        raise EvidenceError("Служба штампов времени заверила не тот хеш.")
    cert = evidence.tsa_certificate(token)
    row = EvidenceTree(purpose=purpose, root=tree.root.hex(), leaves=len(tree.leaves), token=token.dump(),
                       timestamp_at=evidence.gen_time(token),
                       expires_at=cert["tbs_certificate"]["validity"]["not_after"].native if cert else None)
    session.add(row)
    session.flush()
    return row


def _path_der(lists: list[list[bytes]]) -> bytes:
    return evidence.ReducedHashtree(lists).dump()


# ---- seal and renew ----------------------------------------------------------------------------------------------

def seal(limit: int | None = None) -> dict:
    """One tree and one timestamp over the archived records that have no evidence record yet."""
    done = store_pending()
    query = (select(ArchiveRecord).outerjoin(RecordEvidence, RecordEvidence.record_id == ArchiveRecord.id)
             .where(ArchiveRecord.status == RecordStatus.archived, RecordEvidence.id.is_(None))
             .order_by(ArchiveRecord.id))
    records = list(session.scalars(query.limit(limit) if limit else query))
    if not records:
        return {"sealed": 0, "tsa_requests": 0, "stored": done}
    hashes = {r.id: bytes.fromhex(present(r.sha256, "sha256")) for r in records}
    tree = evidence.build_tree(hashes.values())
    row = _tree_row("seal", tree, _timestamp(tree.root))
    session.execute(insert(RecordEvidence), [
        {"record_id": r.id, "sha256": r.sha256, "sealed_by_id": row.id, "current_tree_id": row.id,
         "path": _path_der(tree.reduced(hashes[r.id])), "updated_at": utcnow()} for r in records])
    audit.record("archive.evidence_seal", row, records=len(records), root=row.root)
    _commit()
    return {"sealed": len(records), "tsa_requests": 1, "tree": row.id, "stored": done + store_pending()}


def due_trees(before: dt.datetime | None = None) -> list[EvidenceTree]:
    """Current trees (not renewed yet, still covering records) whose TSA certificate ends before `before`."""
    cond: list[ColumnElement[bool]] = [EvidenceTree.renewed_by_id.is_(None),
                                       EvidenceTree.id.in_(select(RecordEvidence.current_tree_id).distinct())]
    if before is not None:
        cond.append(EvidenceTree.expires_at < before)
    return list(session.scalars(select(EvidenceTree).where(*cond).order_by(EvidenceTree.id)))


def renew(*, force: bool = False) -> dict:
    """Timestamp renewal (RFC 4998 §5.2) of every record under the trees due: one tree, one timestamp."""
    done = store_pending()
    days = int(current_app.config.get("ARCHIVE_LTA_RENEW_DAYS") or RENEW_BEFORE_DAYS)
    due = due_trees(None if force else utcnow() + dt.timedelta(days=days))
    if not due:
        return {"renewed_trees": 0, "records": 0, "tsa_requests": 0, "stored": done}
    leaves = {old.id: evidence.digest(old.token) for old in due}
    tree = evidence.build_tree(leaves.values())
    row = _tree_row("renewal", tree, _timestamp(tree.root))
    for old in due:
        old.renewed_by_id, old.renewal_path = row.id, _path_der(tree.reduced(leaves[old.id]))
    moved = execute_count(update(RecordEvidence).where(RecordEvidence.current_tree_id.in_([t.id for t in due]))
                          .values(current_tree_id=row.id, key=None, ers_sha256=None, updated_at=utcnow())
                          .execution_options(synchronize_session=False))
    audit.record("archive.evidence_renewal", row, trees=[t.id for t in due], records=moved, root=row.root)
    _commit()
    return {"renewed_trees": len(due), "records": moved, "tsa_requests": 1, "tree": row.id,
            "stored": done + store_pending()}


def _commit() -> None:
    from core import db
    db.commit()


# ---- the .ers objects ------------------------------------------------------------------------------------------

def store_pending(limit: int | None = None) -> int:
    """Write the `.ers` of every record whose current one is not stored yet (chunks, a commit each)."""
    stored = 0
    while limit is None or stored < limit:
        rows = session.execute(
            select(RecordEvidence, ArchiveRecord.retention_until, ArchiveRecord.legal_hold)
            .join(ArchiveRecord, ArchiveRecord.id == RecordEvidence.record_id)
            .where(RecordEvidence.key.is_(None)).order_by(RecordEvidence.id).limit(STORE_CHUNK)).all()
        if not rows:
            break
        parts = _Parts()
        storage = get_storage()
        work = [(ev, ev_key(ev), encode(ev, parts), until, hold) for ev, until, hold in rows]

        def put(item) -> str:
            ev, key, data, until, hold = item
            sha = hashlib.sha256(data).hexdigest()
            put_and_read_back(storage, key, data, sha, retain_until=until, legal_hold=hold,
                              content_type="application/octet-stream",
                              metadata={"record-id": str(ev.record_id), "document-class": "evidence-record"})
            return sha
        with ThreadPoolExecutor(PUT_THREADS, thread_name_prefix="ers") as pool:
            shas = list(pool.map(put, work))
        now = utcnow()
        for (ev, key, _data, _until, _hold), sha in zip(work, shas):
            ev.key, ev.ers_sha256, ev.updated_at = key, sha, now
        stored += len(work)
        _commit()
    return stored


def ev_key(ev: RecordEvidence) -> str:
    return f"records/{ev.record_id}/evidence/{ev.current_tree_id}.ers"


class _Parts:
    """What the records of a tree share, parsed once: the trees' tokens and the ArchiveTimeStamps of each
    renewal chain."""

    def __init__(self) -> None:
        self.trees: dict[int, EvidenceTree] = {}
        self.tokens: dict[int, cms.ContentInfo] = {}
        self.later: dict[int, list[evidence.ArchiveTimeStamp]] = {}

    def tree(self, tree_id: int) -> EvidenceTree:
        if tree_id not in self.trees:
            self.trees[tree_id] = session.get_one(EvidenceTree, tree_id)
        return self.trees[tree_id]

    def token(self, tree_id: int) -> cms.ContentInfo:
        if tree_id not in self.tokens:
            self.tokens[tree_id] = cms.ContentInfo.load(self.tree(tree_id).token)
        return self.tokens[tree_id]

    def after(self, tree_id: int) -> list[evidence.ArchiveTimeStamp]:
        """The ArchiveTimeStamps renewing `tree_id`, in order."""
        if tree_id not in self.later:
            out, tree = [], self.tree(tree_id)
            while tree.renewed_by_id is not None:
                path = evidence.ReducedHashtree.load(present(tree.renewal_path, "renewal path"))
                out.append(evidence.archive_time_stamp(self.token(tree.renewed_by_id), path))
                tree = self.tree(tree.renewed_by_id)
            self.later[tree_id] = out
        return self.later[tree_id]


def encode(ev: RecordEvidence, parts: _Parts | None = None) -> bytes:
    """The record's evidence record (DER) as of its current tree."""
    parts = parts or _Parts()
    first = evidence.archive_time_stamp(parts.token(ev.sealed_by_id), evidence.ReducedHashtree.load(ev.path))
    return evidence.record_of([first, *parts.after(ev.sealed_by_id)]).dump()


# ---- verification ---------------------------------------------------------------------------------------------

def token_checker(trust_roots):
    """`check_token(token, moment)` for evidence.verify: the token's signature and its TSA's chain to the
    trusted roots as of `moment` (now if None)."""
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    from pades import fetching, gost, run_sync

    def check(token: cms.ContentInfo, moment: dt.datetime | None) -> str | None:
        vc = ValidationContext(trust_roots=list(trust_roots), moment=moment, allow_fetching=False,
                               revocation_mode="soft-fail", signature_validator=gost.SignatureValidator(),
                               time_tolerance=fetching.CLOCK_SKEW)
        expected = evidence.imprint(token)
        try:
            status = run_sync(validate_tst_signed_data(token["content"], vc, lambda _algo: expected))
        except Exception as e:    # pyHanko's own errors: the token is not a valid one
            return f"штамп времени не проверен ({type(e).__name__})"
        if not (status.get("intact") and status.get("valid")):
            return "подпись штампа времени недействительна"
        if status.get("trust_problem_indic") is not None:
            return "служба штампов времени не относится к доверенным УЦ" + (" на тот момент" if moment else "")
        return None
    return check


def verify_bytes(data: bytes, ers: bytes, trust_roots) -> evidence.Verification:
    try:
        record = evidence.load(ers)
    except ValueError as e:
        return evidence.Verification(False, [], f"файл доказательства повреждён ({type(e).__name__})")
    return evidence.verify(evidence.digest(data), record, token_checker(trust_roots))
