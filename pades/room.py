"""Room left in a PDF for a CMS (a signature or a document timestamp), learned from the last one made.

Every later step that opens a signature's dictionary makes pyHanko parse its /Contents hex one character
at a time in Python (≈ 0.7 µs a character): the director's signature reads the teacher's certification,
the archive collects validation data for both, every verification reads all of them. A fixed worst-case
room of 32 K characters cost ≈ 22 ms a read, while a B-T signature of the test PKI fills 9.4 K of them
(benchmarks/year_end.py: 3 reads a sheet on the way to the archive). So the room is the size of the last CMS
made for the same key (certificate and TSA), plus a margin; the worst case the first time. A CMS that
outgrows its room (a TSA whose new certificate is larger) is made once more in the worst-case room
(`made_to_fit`).
"""
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from io import BytesIO

from pyhanko.sign.general import SigningError

log = logging.getLogger(__name__)

MARGIN = 1024            # DER bytes over the largest seen: a token's serial, nonce and time vary by a few
KEYS_KEPT = 4096         # keys remembered per process (a worker sees a region's signers over months)

_seen: dict[tuple, int] = {}
_lock = threading.Lock()
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def signature_key(cert, tsa_url: str | None, with_validation_info: bool) -> tuple:
    return ("signature", cert.sha256, tsa_url, with_validation_info)


def timestamp_key(tsa_url: str) -> tuple:
    return ("document timestamp", tsa_url)


def forget() -> None:
    """Start from the worst case again (tests)."""
    with _lock:
        _seen.clear()


def room(key: tuple, worst_case: int) -> int:
    """Hex characters to reserve for the next CMS of `key` (pyHanko's `bytes_reserved`: even)."""
    largest = _seen.get(key)
    if largest is None:
        return worst_case
    return min(worst_case, 2 * (largest + MARGIN))


def note(key: tuple, pdf: bytes) -> None:
    """Remember the size of the CMS just embedded as the newest signature of `pdf` (if it can be read there:
    otherwise the next one simply gets the worst case again)."""
    try:
        length = newest_cms_length(pdf)
    except (ValueError, IndexError):
        return
    remember(key, length)


def remember(key: tuple, length: int) -> None:
    with _lock:
        if len(_seen) >= KEYS_KEPT:
            _seen.clear()
        _seen[key] = max(length, _seen.get(key, 0))


def newest_cms_length(pdf: bytes) -> int:
    """DER length of the CMS in the newest signature dictionary: the one whose /ByteRange comes last (an
    incremental update appends it), read from the DER header at the start of its /Contents gap."""
    at = pdf.rfind(b"/ByteRange")
    found = _BYTE_RANGE.match(pdf, at) if at >= 0 else None
    if found is None:
        raise ValueError("no /ByteRange in the signed PDF")
    head = bytes.fromhex(pdf[int(found[2]) + 1:int(found[2]) + 13].decode("ascii"))  # after '<'
    if head[1] < 0x80:
        return 2 + head[1]
    size = head[1] & 0x7F
    return 2 + size + int.from_bytes(head[2:2 + size], "big")


def outgrown(error: Exception) -> bool:
    """pyHanko's error when the CMS did not fit the room reserved for it."""
    return "larger than expected" in str(error)


async def made_to_fit(key: tuple, worst_case: int, make: Callable[[int, bool], Awaitable[BytesIO]]) -> bytes:
    """The signed PDF of `await make(room, again)`: in the learned room, and once more (`again`: the first
    attempt changed the objects of the reader it wrote from) in the worst case if the CMS outgrew it. Its size
    is remembered for the next one."""
    learned = room(key, worst_case)
    out = None
    if learned < worst_case:
        try:
            out = await make(learned, False)
        except SigningError as e:
            if not outgrown(e):
                raise
            log.warning("%s: the CMS outgrew its learned room of %s hex characters; made again in the worst case",
                        key[0], learned)
    if out is None:
        out = await make(worst_case, learned < worst_case)
    signed = out.getvalue()
    note(key, signed)
    return signed
