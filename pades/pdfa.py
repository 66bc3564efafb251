"""PDF/A pieces shared by every renderer, and how a PDF made here is recognised."""
import functools
from io import BytesIO

from pyhanko.pdf_utils.metadata import model
from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader

# xmp:CreatorTool of every sheet we render; `is_ours` looks for it (with dc:identifier).
CREATOR_TOOL = "journals: сводная ведомость успеваемости"


@functools.cache
def srgb_icc_profile() -> bytes:
    """No ICC file ships on this system, so take LittleCMS' built-in sRGB (via Pillow)."""
    from PIL import ImageCms
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ---- recognising our own documents--------------------------------------------------------------------------

def document_id_of(pdf: bytes) -> str | None:
    """The document id we wrote into the XMP (dc:identifier), if this PDF is a sheet rendered
    here (xmp:CreatorTool is ours); None for any other PDF, or for something that is not a PDF.

    A marker, not a proof: anyone can copy metadata. Authenticity is the signatures' job."""
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        if "/Metadata" not in reader.root:
            return None
        stream = reader.root["/Metadata"]      # the reader hands XMP streams out as MetadataStream
        if not isinstance(stream, MetadataStream):
            return None
        fields = {k: v for root in stream.xmp for k, v in root}
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError):
        return None
    tool = fields.get(model.XMP_CREATORTOOL)
    ident = fields.get(model.ExpandedName(model.NS["dc"], "identifier"))
    if tool is None or tool.value != CREATOR_TOOL or ident is None or not isinstance(ident.value, str):
        return None
    return ident.value


def is_ours(pdf: bytes, document_id: str | None = None) -> bool:
    found = document_id_of(pdf)
    return found is not None and (document_id is None or found == document_id)
