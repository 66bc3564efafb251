"""The JSON shapes of organisations, one place for every API that returns them."""
from orgs.models.organisations import Organisation


def org_json(org: Organisation) -> dict:
    return {"id": org.id, "code": org.code, "kind": org.kind.value, "name": org.name,
            "short_name": org.short_name, "inn": org.inn, "ogrn": org.ogrn, "parent_id": org.parent_id,
            "reports": org.kind.reports}


def org_ref(o: Organisation | None) -> dict | None:
    """A short reference to an organisation inside another object's JSON."""
    return None if o is None else {"id": o.id, "code": o.code, "name": o.name}
