"""Shared assertions: every signature a test makes goes through `assert_all_valid` (pyHanko's
own test rule, STYLE.md §4)."""
from pades import SignatureReport, validate


def reports(pdf: bytes, pki, **kwargs) -> list[SignatureReport]:
    kwargs.setdefault("allow_fetching", True)          # live OCSP/CRL from the test PKI
    return validate(pdf, [pki.root], other_certs=[pki.interm], **kwargs)


def assert_all_valid(pdf: bytes, pki, *, count: int, **kwargs) -> list[SignatureReport]:
    found = reports(pdf, pki, **kwargs)
    assert len(found) == count, [r.field_name for r in found]
    for r in found:
        assert r.intact and r.valid and r.trusted, (r.summary_ru, r.details)
        assert r.docmdp_ok is not False, (r.summary_ru, r.details)
        assert r.bottom_line, (r.summary_ru, r.details)
        assert r.summary_ru.startswith("Действительна"), r.summary_ru
    return found
