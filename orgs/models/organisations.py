"""Organisation tree: region → municipality → school, plus support bodies."""
import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, false, select
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from core.db import Base, session, utcnow


class OrgKind(str, enum.Enum):
    region = "region"
    municipality = "municipality"
    school = "school"
    institute = "institute"                    # институт развития образования / повышения квалификации
    computer_centre = "computer_centre"        # вычислительный / информационный центр
    methodical_centre = "methodical_centre"    # методический центр
    district_office = "district_office"        # отдел образования внутригородского округа (Краснодар, 004 п. 2)

    @property
    def label(self) -> str:
        return KIND_LABELS[self]

    @property
    def reports(self) -> bool:
        """Support bodies execute tasks but are not reporting units."""
        return self in (OrgKind.region, OrgKind.municipality, OrgKind.district_office, OrgKind.school)


KIND_LABELS = {
    OrgKind.region: "Регион",
    OrgKind.municipality: "Муниципалитет",
    OrgKind.school: "Школа",
    OrgKind.institute: "Институт",
    OrgKind.computer_centre: "Вычислительный центр",
    OrgKind.methodical_centre: "Методический центр",
    OrgKind.district_office: "Отдел образования округа",
}

# Which kind may sit under which: the tree's shape.
ALLOWED_PARENTS = {
    OrgKind.region: (None,),
    OrgKind.municipality: (OrgKind.region,),
    OrgKind.district_office: (OrgKind.municipality,),
    OrgKind.school: (OrgKind.municipality, OrgKind.district_office),
    OrgKind.institute: (OrgKind.region, OrgKind.municipality),
    OrgKind.computer_centre: (OrgKind.region, OrgKind.municipality),
    OrgKind.methodical_centre: (OrgKind.region, OrgKind.municipality),
}


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (
        Index("ix_organisations_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
        CheckConstraint("(kind = 'region') = (parent_id IS NULL)", name="only_region_is_root"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind] = mapped_column(Enum(OrgKind, name="org_kind"))
    code: Mapped[str] = mapped_column(String(64), unique=True)   # the region's own identifier, used by imports
    name: Mapped[str] = mapped_column(String(500))
    short_name: Mapped[str | None] = mapped_column(String(200))
    inn: Mapped[str | None] = mapped_column(String(12))
    ogrn: Mapped[str | None] = mapped_column(String(15))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    # «базовая школа» (000): a school its municipality or region names to go first (pilot, paperless first)
    base_school: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Materialised path "/1/5/23/": a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped["Organisation | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Organisation"]] = relationship(back_populates="parent", order_by="Organisation.name")

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.kind.value} {self.code}>"

    @property
    def display_name(self) -> str:
        return self.short_name or self.name

    def is_within(self, other: "Organisation") -> bool:
        """True if self is `other` or lies in its subtree."""
        return self.path.startswith(other.path)

    def ancestors(self) -> list["Organisation"]:
        ids = path_ids(self.path)[:-1]
        if not ids:
            return []
        found = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}
        return [found[i] for i in ids]


def path_ids(path: str) -> list[int]:
    """The organisation ids on a materialised path ("/1/5/9/"): the region first, the organisation itself last."""
    return [int(x) for x in path.strip("/").split("/")]


def subtree(org: Organisation):
    """A SQL condition selecting `org` and everything under it."""
    return Organisation.path.startswith(org.path, autoescape=True)


def municipality_of(org: Organisation) -> Organisation | None:
    """The municipality an organisation lies in (a school's parent, or its district office's parent)."""
    ids = path_ids(org.path)
    if org.kind is OrgKind.municipality:
        return org
    session = object_session(org)
    assert session is not None, "an organisation loaded from the database"
    return session.scalars(select(Organisation).where(Organisation.id.in_(ids),
                                                      Organisation.kind == OrgKind.municipality)).first()


def region_id_of(org: Organisation) -> int:
    """The id of the region an organisation belongs to (the first id of its materialised path)."""
    return path_ids(org.path)[0]
