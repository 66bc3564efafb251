"""Who sees and changes what: a role holds on its organisation's subtree and nowhere else."""
import pytest

from orgs import accounts as services
from orgs.access import ALL_ACTIONS, can

# (role, org the role is held on) -> organisations of the tree it may view
VISIBLE = {
    ("director", "a"): {"a"},
    ("deputy_director", "a"): {"a"},
    ("class_teacher", "a"): {"a"},
    ("municipal_official", "m1"): {"m1", "a", "a2"},
    ("regional_official", "region"): {"region", "m1", "m2", "a", "a2", "b", "b2", "institute"},
    ("archivist", "m2"): {"m2", "b", "b2"},
    ("admin", "region"): {"region", "m1", "m2", "a", "a2", "b", "b2", "institute"},
}
ORGS = ("region", "m1", "m2", "a", "a2", "b", "b2", "institute")


@pytest.mark.parametrize(("role", "where"), list(VISIBLE))
def test_view_matrix_pages_and_api(client, make_user, logged_in, tree, role, where):
    user = make_user(role, tree[where])
    logged_in(user)
    _, token = services.issue_token(user, "test")
    auth = {"Authorization": f"Bearer {token}"}
    for name in ORGS:
        org = tree[name]
        expected = 200 if name in VISIBLE[(role, where)] else 403
        assert client.get(f"/orgs/{org.id}").status_code == expected, (role, name)
        assert client.get(f"/api/v1/organisations/{org.id}", headers=auth).status_code == expected, (role, name)
        assert can(user, "org.view", org) == (expected == 200)
    listed = {o["code"] for o in client.get("/api/v1/organisations?per_page=500", headers=auth).json["items"]}
    assert listed == {tree[n].code for n in VISIBLE[(role, where)]}
    page = client.get("/orgs").get_data(as_text=True)
    for name in ORGS:
        assert (tree[name].name in page) == (name in VISIBLE[(role, where)]), (role, name)


@pytest.mark.parametrize(("role", "where", "target", "allowed"), [
    ("director", "a", "a", False),            # a director does not edit its school's registry data
    ("director", "a", "b", False),
    ("municipal_official", "m1", "b", False),
    ("admin", "m1", "a", True),
    ("admin", "m1", "b", False),              # an administrator of one municipality, not of the other
    ("admin", "region", "b", True),
])
def test_change_matrix_api(client, make_user, tree, role, where, target, allowed):
    user = make_user(role, tree[where])
    _, token = services.issue_token(user, "test")
    org = tree[target]
    old = org.name
    resp = client.patch(f"/api/v1/organisations/{org.id}", json={"name": "Новое имя"},
                        headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == (200 if allowed else 403)
    assert org.name == ("Новое имя" if allowed else old)


def test_support_bodies_do_not_report(tree):
    assert not tree["institute"].kind.reports and tree["a"].kind.reports


def test_admin_pages_need_admin(client, make_user, logged_in, tree):
    logged_in(make_user("director", tree["a"]))
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403


def test_admin_of_municipality_cannot_grant_outside_it(client, make_user, logged_in, tree):
    from tests.helpers import csrf_token
    admin = make_user("admin", tree["m1"])
    victim = make_user("director", tree["a"])
    logged_in(admin)
    token = csrf_token(client, f"/admin/users/{victim.id}")
    resp = client.post(f"/admin/users/{victim.id}", data={"role": "admin", "organisation_id": tree["region"].id,
                                                           "csrf_token": token})
    assert resp.status_code in (200, 400, 403)
    assert not any(g.organisation_id == tree["region"].id for g in victim.grants)
    outsider = make_user("director", tree["b"])
    assert client.get(f"/admin/users/{outsider.id}").status_code == 403


def test_api_requires_a_valid_token(client, make_user, tree):
    user = make_user("director", tree["a"])
    tok, plain = services.issue_token(user, "t")
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer jt_forged"}).status_code == 401
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert me.status_code == 200 and me.json["login"] == user.login
    services.revoke_token(tok, actor=user)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 401


def test_openapi_is_served_and_lists_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.") and "/organisations/{id}" in spec["paths"]


def test_unknown_action_is_a_programming_error(make_user, tree):
    with pytest.raises(ValueError):
        can(make_user("admin", tree["region"]), "no.such.action", tree["a"])
    assert "org.view" in ALL_ACTIONS


def test_org_list_is_in_tree_order(client, make_user, logged_in, tree, make_org):
    # Ten more schools so that ids 1x sort before 2..9 as text: the page must still follow the tree.
    for i in range(10):
        make_org("school", tree["m1"], name=f"Школа Я{i}")
    logged_in(make_user("regional_official", tree["region"]))
    page = client.get("/orgs").get_data(as_text=True)
    pos = {n: page.index(tree[n].name) for n in ("region", "institute", "m1", "a", "m2", "b")}
    # "Второй район" sorts before "Первый район"; each municipality is followed by its own schools.
    assert pos["region"] < pos["m2"] < pos["b"] < pos["m1"] < pos["a"] < page.index("Школа Я9") < pos["institute"]
