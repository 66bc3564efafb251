"""Evidence records (RFC 4998, issue 20): one timestamp seals a batch of archived records, one more renews
them all; each record's .ers lies beside it in the WORM bucket and verifies against its object; a changed
document, a changed record or a foreign timestamp fails."""
import hashlib
import os
import random

import pytest
from sqlalchemy import select

from archive import evidence, evidence_store
from archive.models import RecordEvidence
from core import db
from core.db import session
from core.storage import get_storage
from tests.archive.test_verify import _archived, _tamper


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000])
def test_every_leaf_folds_to_the_root_and_nothing_else_does(n):
    rnd = random.Random(n)
    leaves = [rnd.randbytes(32) for _ in range(n)]
    tree = evidence.build_tree(leaves + leaves[:3])                      # duplicates count once
    assert len(tree.leaves) == n
    for leaf in leaves:
        path = tree.reduced(leaf)
        assert evidence.fold(leaf, path) == tree.root
        assert len(path) <= max(1, (n - 1).bit_length())                  # a path, not the tree
    if n > 1:
        assert evidence.fold(os.urandom(32), tree.reduced(leaves[0])) is None
        path = tree.reduced(leaves[0])
        path[-1][-1] = bytes(32)                                          # a changed sibling
        assert evidence.fold(leaves[0], path) != tree.root


def test_one_timestamp_seals_a_batch_and_one_renews_it(app, tree, people, sign_sheet, run_jobs, tsa, pki,
                                                       monkeypatch):
    from core.trust import trust_roots
    calls = []
    real = evidence_store._timestamp
    monkeypatch.setattr(evidence_store, "_timestamp", lambda root: calls.append(root) or real(root))
    archived = [_archived(tree, sign_sheet, run_jobs, name)[1] for name in ("5А", "5Б", "5В")]
    before = {ev.record_id for ev in session.scalars(select(RecordEvidence))}
    out = evidence_store.seal()
    assert out["sealed"] == 3 and out["tsa_requests"] == 1 and len(calls) == 1
    storage = get_storage()
    roots = trust_roots()
    for record in archived:
        ev = session.scalars(select(RecordEvidence)
                             .where(RecordEvidence.record_id == record.id)).one()
        assert record.id not in before and ev.key == f"records/{record.id}/evidence/{ev.current_tree_id}.ers"
        ers = storage.get(ev.key)
        assert hashlib.sha256(ers).hexdigest() == ev.ers_sha256
        assert storage.head(ev.key).retain_until == record.retention_until              # as long as the record
        pdf = storage.get(record.key)
        good = evidence_store.verify_bytes(pdf, ers, roots)
        assert good.ok and len(good.steps) == 1, good.lines_ru()
        bad = evidence_store.verify_bytes(_tamper(pdf), ers, roots)
        assert not bad.ok and "документ не тот" in bad.problem
    assert evidence_store.seal()["sealed"] == 0 and len(calls) == 1                   # nothing new: no request

    renewed = evidence_store.renew(force=True)
    assert renewed["records"] == 3 and renewed["tsa_requests"] == 1 and len(calls) == 2
    record = archived[0]
    ev = session.scalars(select(RecordEvidence)
                         .where(RecordEvidence.record_id == record.id)).one()
    session.refresh(ev)
    ers = storage.get(ev.key)
    parsed = evidence.load(ers)
    assert parsed["version"].native == 1 and len(parsed["archive_time_stamp_sequence"]) == 1
    assert len(parsed["archive_time_stamp_sequence"][0]) == 2                        # the chain grew
    pdf = storage.get(record.key)
    result = evidence_store.verify_bytes(pdf, ers, roots)
    assert result.ok and [s.covers for s in result.steps] == ["документ", "предыдущий штамп"], result.lines_ru()

    # the renewal's token replaced by the first one: the chain no longer holds
    chain = list(parsed["archive_time_stamp_sequence"][0])
    forged = evidence.record_of([chain[0], evidence.archive_time_stamp(chain[0]["time_stamp"],
                                                                        chain[1]["reduced_hashtree"])])
    assert not evidence_store.verify_bytes(pdf, forged.dump(), roots).ok
    # a byte of the record changed: refused, not a traceback
    broken = bytearray(ers)
    broken[len(broken) // 2] ^= 0xFF
    assert not evidence_store.verify_bytes(pdf, bytes(broken), roots).ok
    # a TSA nobody trusts
    from cryptography import x509
    other = x509.load_pem_x509_certificate(_other_root_pem())
    assert not evidence_store.verify_bytes(pdf, ers, [other]).ok
    db.commit()


def _other_root_pem() -> bytes:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Чужой УЦ")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_archives_verification_and_export_carry_the_evidence_record(app, client, logged_in, tree, people,
                                                                        sign_sheet, run_jobs, tsa, pki, tmp_path):
    """An archivist's verification of the archived copy shows the evidence record; the certified ZIP holds
    the .ers beside the PDF; `flask archive verify PDF --evidence ERS` checks the pair anywhere, and a .ers
    of another document fails there."""
    import io
    import json
    import zipfile

    from archive import tasks
    from archive.verify import verify_bytes
    from tests.helpers import csrf_token
    from tests.sheets import pki as test_pki
    first = _archived(tree, sign_sheet, run_jobs, "9А")[1]
    assert tasks.evidence_cycle()["seal"]["sealed"] >= 1                # the daily job seals what came in
    # sealed by another tree: in one tree a record's first list also holds its sibling's hash (RFC 4998 §4.2),
    # which rightly proves that sibling too
    second = _archived(tree, sign_sheet, run_jobs, "9Б")[1]
    assert evidence_store.seal()["sealed"] == 1
    db.commit()
    pdf = get_storage().get(first.key)
    v = verify_bytes(pdf, filename="copy.pdf")
    (check,) = [c for c in v.checks if c.label == "Доказательство сохранности"]
    assert v.ok and check.ok and "RFC 4998" in check.text, v.lines_ru()

    seal = tmp_path / "seal.p12"
    seal.write_bytes(pki.pkcs12("director"))
    app.config.update(ARCHIVE_SEAL_KEY=str(seal), ARCHIVE_SEAL_PASSPHRASE=test_pki.PASSPHRASE)
    try:
        logged_in(people.archivist)
        resp = client.post("/archive/export", data={"csrf_token": csrf_token(client, "/archive"),
                                                    "record_id": [first.id, second.id], "purpose": "Проверка ERS"})
    finally:
        app.config.update(ARCHIVE_SEAL_KEY=None, ARCHIVE_SEAL_PASSPHRASE=None)
    assert resp.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(resp.data))
    root = z.namelist()[0].split("/")[0]
    listed = {f["name"] for item in json.loads(z.read(f"{root}/opis.json"))["records"] for f in item["files"]}
    pdf_name = f"records/{first.id}/{first.sha256}.pdf"
    assert pdf_name + ".ers" in listed
    (tmp_path / "doc.pdf").write_bytes(z.read(f"{root}/{pdf_name}"))
    (tmp_path / "doc.pdf.ers").write_bytes(z.read(f"{root}/{pdf_name}.ers"))
    (tmp_path / "other.ers").write_bytes(z.read(f"{root}/records/{second.id}/{second.sha256}.pdf.ers"))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["archive", "verify", str(tmp_path / "doc.pdf"), "--evidence",
                              str(tmp_path / "doc.pdf.ers")])
    assert out.exit_code == 0 and "Доказательство сохранности" in out.output, out.output
    out = runner.invoke(args=["archive", "verify", str(tmp_path / "doc.pdf"), "--evidence",
                              str(tmp_path / "other.ers")])
    assert out.exit_code == 1 and "документ не тот" in out.output, out.output
