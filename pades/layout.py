"""Signature fields: where a signature goes on a page, and the names of the service's signing roles."""
from dataclasses import dataclass

# Who signs where. The field names are the contract with pades and with the archive.
CLASS_TEACHER_FIELD, DIRECTOR_FIELD = "ClassTeacher", "Director"
ROLE_LABELS = {CLASS_TEACHER_FIELD: "Классный руководитель", DIRECTOR_FIELD: "Директор"}


@dataclass(frozen=True)
class FieldBox:
    name: str                                  # signature field name (CLASS_TEACHER_FIELD, DIRECTOR_FIELD)
    label: str                                 # role as printed
    page: int                                  # 0-based page index
    box: tuple[float, float, float, float]     # x1, y1, x2, y2 in PDF user space (points)


@dataclass(frozen=True)
class SheetLayout:
    """A document's pages and the boxes its renderer left for signatures."""
    pages: int
    fields: tuple[FieldBox, ...]               # class teacher first: the signing order
