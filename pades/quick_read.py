"""Signature dictionaries read without pyHanko's character-at-a-time hex loop.

pyHanko parses a /Contents hex string one character per Python call (≈ 0.7 µs a character: ≈ 7 ms for a
B-T signature of the test PKI, 22 ms in a worst-case room). A sheet's signatures are read again at each later
step: the director's signature reads the teacher's certification, the archive collects validation data for
both, every verification reads all. `prime` reads each signature dictionary of the current revision here —
the /Contents hex with `bytes.fromhex`, the rest of the dictionary with pyHanko's own parser — and puts it in
the reader's object cache, where pyHanko looks first (`PdfFileReader.cache_indirect_object`). Only a hex
string that is exactly the gap of the dictionary's own /ByteRange is taken; the bytes a signature covers are
still read from the file by pyHanko. A dictionary this does not recognise is left to pyHanko.
"""
import re
from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

_HEADER = re.compile(rb"(\d+)\s+(\d+)\s+obj\b")
_CONTENTS = re.compile(rb"/Contents\s*<")
DICT_TAIL = 4096          # bytes of a signature dictionary after its /Contents (/M, /Reference, /Prop_Build…)


def reader(pdf: bytes, *, strict: bool = True) -> PdfFileReader:
    """A pyHanko reader of `pdf` with its signature dictionaries already read (`prime`)."""
    out = PdfFileReader(BytesIO(pdf), strict=strict)
    prime(out, pdf)
    return out


def prime(reader: PdfFileReader, pdf: bytes) -> None:
    """Put the signature dictionaries of the signature fields in `reader`'s cache, parsed quickly. Anything
    unexpected (a damaged or hostile upload being verified) leaves the rest to pyHanko, which reports it."""
    try:
        form = reader.root["/AcroForm"] if "/AcroForm" in reader.root else None
        fields = [f.get_object() for f in form["/Fields"]] if form is not None and "/Fields" in form else []
        for ref in [f.raw_get("/V") for f in fields if "/V" in f]:
            if isinstance(ref, generic.IndirectObject):
                _prime_one(reader, pdf, ref.reference)
    except Exception:       # an optimisation only: never the reason a file cannot be read
        return


def _prime_one(reader: PdfFileReader, pdf: bytes, ref: generic.Reference) -> None:
    if reader.cache_get_indirect_object(ref.generation, ref.idnum) is not None:
        return
    at = reader.xrefs[ref]
    header = _HEADER.match(pdf, at) if isinstance(at, int) else None      # not in an object stream
    if header is None or (int(header[1]), int(header[2])) != (ref.idnum, ref.generation):
        return
    contents = _CONTENTS.search(pdf, header.end(), header.end() + DICT_TAIL)
    end = pdf.find(b">", contents.end()) if contents else -1
    if contents is None or end < 0:
        return
    rest = (pdf[header.end():contents.end()] + pdf[end:end + DICT_TAIL]).lstrip()   # the dictionary, /Contents <>
    value = bytes.fromhex(pdf[contents.end():end].decode("ascii"))
    obj = generic.read_object(BytesIO(rest), generic.Reference(ref.idnum, ref.generation, reader))
    if not isinstance(obj, generic.DictionaryObject) or obj.get("/Type") not in ("/Sig", "/DocTimeStamp"):
        return
    byte_range = obj.get("/ByteRange")
    if not (isinstance(byte_range, list) and len(byte_range) == 4
            and (byte_range[1], byte_range[2]) == (contents.end() - 1, end + 1)):
        return           # only the hex string that is the signed range's gap, the one pyHanko would take
    obj["/Contents"] = generic.pdf_string(value)
    reader.cache_indirect_object(ref.generation, ref.idnum, obj)
