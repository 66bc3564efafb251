"""Render, sign (class teacher + director) and validate one summary sheet; print the times.

    .venv/bin/python benchmarks/bench_signing.py [rounds]

Figures, not assertions. The sheet is 28 pupils × 16 subjects × 7 periods. Each figure is
also given as a ratio to a baseline measured in the same run: pyHanko's stock
`signers.sign_pdf` for the same two signatures, loading the PKCS#12 afresh for each one and
letting pyHanko size the placeholder with a trial signature (ENVIRONMENT.md §7). Signing here
is B-B (no TSA) on both sides, so the comparison is like for like; validation fetches nothing.

The test PKI (tests/signing/pki.py) is started as in the tests; the clock is frozen inside
the certificates' validity for everything but this module's own timer calls.
"""
import statistics
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from project_path import use_checkout  # noqa: E402

use_checkout()

from freezegun import freeze_time  # noqa: E402

FROZEN = "2026-06-01T07:00:00+00:00"


def timed(fn, rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def main(rounds: int) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from pades import PKCS12Signer, sign, validate
    from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD
    from sheets.render import render
    from tests.sheets import pki as test_pki
    from tests.sheets.sample import make_sheet

    pki = test_pki.start(Path(tempfile.mkdtemp(prefix="bench-pki-")))
    try:
        sheet = make_sheet()
        p12 = {label: pki.pkcs12(label) for label in ("teacher", "director")}
        render(sheet)                                           # warm-up: font loading, imports

        render_ms, rendered = timed(lambda: render(sheet), rounds)
        blank = rendered.pdf                                   # the fields come with the render

        def baseline_pair() -> bytes:
            pdf = blank
            for label, field, certify in (("teacher", CLASS_TEACHER_FIELD, True), ("director", DIRECTOR_FIELD, False)):
                signer = signers.SimpleSigner.load_pkcs12_data(p12[label], [], test_pki.PASSPHRASE.encode())
                meta = signers.PdfSignatureMetadata(  # NO_CHANGES for the director: the field lock's value
                    field_name=field, subfilter=fields.SigSeedSubFilter.PADES, certify=certify,
                    docmdp_permissions=fields.MDPPerm.FILL_FORMS if certify else fields.MDPPerm.NO_CHANGES)
                pdf = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=signer).getvalue()
            return pdf

        teacher = PKCS12Signer(p12["teacher"], test_pki.PASSPHRASE)     # one signing session each
        director = PKCS12Signer(p12["director"], test_pki.PASSPHRASE)

        def our_pair() -> bytes:
            return sign(sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True), DIRECTOR_FIELD, director)

        baseline_pair(), our_pair()                             # warm-up
        base_ms, base_pdf = timed(baseline_pair, rounds)
        sign_ms, signed = timed(our_pair, rounds)
        validate_ms, found = timed(lambda: validate(signed, [pki.root], other_certs=[pki.interm]), rounds)
        assert len(found) == 2 and all(r.bottom_line for r in found), [r.summary_ru for r in found]
        assert all(r.bottom_line for r in validate(base_pdf, [pki.root], other_certs=[pki.interm]))
        tsa_ms, _ = timed(lambda: sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True,
                                       timestamper_url=pki.tsa_url), rounds)
    finally:
        pki.close()

    print(f"summary sheet 28 pupils × 16 subjects × 7 periods, {rendered.layout.pages} pages, "
          f"median of {rounds} rounds")
    print(f"baseline: stock sign_pdf, PKCS#12 loaded per signature, teacher+director  {base_ms:8.1f} ms")
    for label, ms in (("render (reportlab + PDF/A pass)", render_ms),
                      ("sign teacher+director (B-B, cached key)", sign_ms),
                      ("validate both signatures (offline)", validate_ms),
                      ("sign teacher B-T (live TSA on 127.0.0.1)", tsa_ms)):
        print(f"{label:<45} {ms:8.1f} ms   {ms / base_ms:5.2f} × baseline")


if __name__ == "__main__":
    with freeze_time(FROZEN, ignore=[__name__, "__main__"]):
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
