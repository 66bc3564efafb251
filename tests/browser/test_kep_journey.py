"""The director signs a sheet with a ГОСТ КЭП through the page's КриптоПро ЭЦП Browser plug-in flow.

The plug-in is proprietary and not installable here: a test double of its documented object
(`cadesplugin`: CAdESCOM.Store, HashedData, CPSigner, CadesSignedData) runs in the page, and its
signing call is answered by OpenSSL's GOST engine (tests/sheets/gost_pki.py). The sheet then verifies.
Screenshots: docs/screens/sheets-05-kep-no-plugin.png, sheets-06-kep-signed.png.
"""
import base64
import json
import subprocess

import pytest

from tests.browser.conftest import make_live_app, new_page, serving, shot, sign_in
from tests.sheets import gost_pki

pytestmark = pytest.mark.skipif(not gost_pki.available(), reason="OpenSSL GOST engine (libengine-gost-openssl)")

FAKE_PLUGIN = """
window.cadesplugin = (function () {
  var ready = Promise.resolve();
  var certificate = {Export: function () { return Promise.resolve(%(cert)s); }};
  var objects = {
    "CAdESCOM.Store": function () { return {Open: function () { return Promise.resolve(); },
      Certificates: Promise.resolve({Count: Promise.resolve(1),
                                     Item: function () { return Promise.resolve(certificate); }})}; },
    "CAdESCOM.HashedData": function () { var h = {};
      h.propset_Algorithm = function (a) { h.algorithm = a; return Promise.resolve(); };
      h.propset_DataEncoding = function () { return Promise.resolve(); };
      h.Hash = function (data) { h.data = data; return Promise.resolve(); }; return h; },
    "CAdESCOM.CPSigner": function () { return {propset_Certificate: function () { return Promise.resolve(); },
                                               propset_Options: function () { return Promise.resolve(); }}; },
    "CAdESCOM.CadesSignedData": function () { return {SignHash: function (hashed) {
      return window.__gostSign(hashed.data, hashed.algorithm); }}; }
  };
  return {
    then: function (f) { return ready.then(f); },
    CreateObjectAsync: function (name) { return Promise.resolve(objects[name]()); },
    async_spawn: function (generator) {
      return new Promise(function (resolve, reject) {
        var it = generator();
        function step(value, failed) {
          var r;
          try { r = failed ? it.throw(value) : it.next(value); } catch (e) { reject(e); return; }
          if (r.done) { resolve(r.value); return; }
          Promise.resolve(r.value).then(function (v) { step(v, false); }, function (e) { step(e, true); });
        }
        step(undefined, false);
      });
    }
  };
})();
"""


@pytest.fixture(scope="module")
def kep(servers, tmp_path_factory):
    """A school's sheet certified by its class teacher (RSA, demo CA); its director holds a GOST key."""
    from core import db
    from core.db import session
    from orgs.models.users import User
    from pades import PKCS12Signer, demo_pki
    from sheets import class_teachers, services
    from tests.archive.conftest import class_marks
    from web.demo import DEMO_PASSWORD, make_demo
    gpki = gost_pki.make(tmp_path_factory.mktemp("kep-gost-pki"))
    keys = tmp_path_factory.mktemp("kep-keys")
    app = make_live_app(servers, "jt_browser_kep", "browser-tests-kep")
    with app.app_context():
        make_demo(schools=2)
        users = {u.login: u for u in session.query(User).filter(User.login.in_(["teacher", "director"]))}
        teacher, director = users["teacher"], users["director"]
        surname, given = gost_pki.NAMES["director"]
        director.full_name = f"{surname} {given}"
        director.snils, director.inn = gost_pki.SNILS["director"], gost_pki.INN["director"]
        ca = demo_pki.make(keys, {"teacher": teacher.full_name}, DEMO_PASSWORD)
        app.config["TRUST_ROOTS"] = f"{ca}:{gpki.roots_pem()}"
        school = director.grants[0].organisation
        names = ("5В", "5Г", "5Д")
        sheets = services.import_classes(school, "2025/2026", {n: class_marks(n, seed=i) for i, n in enumerate(names)},
                                         actor=director)
        teacher_key = PKCS12Signer((keys / "teacher.p12").read_bytes(), DEMO_PASSWORD)
        for sheet in sheets:
            class_teachers.assign(school, "2025/2026", sheet.class_name, teacher, actor=director)
            services.render_pdf(sheet, actor=director)
            services.sign(sheet, "teacher", teacher_key, actor=teacher)
        db.commit()
        ids = [s.id for s in sheets]
        app.extensions["kep_school"] = school.id
        session.remove()
    with serving(app) as url:
        yield app, url, gpki, ids
    gpki.close()
    app.extensions["db_engine"].dispose()


def _with_plugin(page, gpki):
    cert = base64.b64encode(gpki.cert("director").dump()).decode()
    page.expose_function("__gostSign", lambda data, algorithm: base64.b64encode(gpki.sign_cms(
        "director", base64.b64decode(data), bits=256 if algorithm == 101 else 512)).decode())
    page.add_init_script(FAKE_PLUGIN % {"cert": json.dumps(cert)})


def _all_valid(app, ids):
    from archive.verify import verify_bytes
    from core.db import session
    from sheets.models import SheetStatus, SummarySheet
    with app.app_context():
        for sheet_id in ids:
            sheet = session.get(SummarySheet, sheet_id)
            assert sheet.status is SheetStatus.signed
            v = verify_bytes(sheet.pdf, allow_fetching=True)
            assert len(v.signatures) == 2 and all(s.ok for s in v.signatures), v.lines_ru()
        session.remove()


def test_director_signs_with_kep_through_the_plugin(browser, kep):
    from web.demo import DEMO_PASSWORD
    app, url, gpki, ids = kep
    sheet_id = ids[0]
    context, page = new_page(browser, url)
    try:
        sign_in(page, "director", DEMO_PASSWORD)
        page.goto(f"/sheets/{sheet_id}")
        page.click("#kep-director button[type=submit]")          # no plug-in in this browser
        page.wait_for_selector("#kep-director .kep-state:not([hidden])")
        assert "не найден" in page.inner_text("#kep-director .kep-state")
        shot(page, "sheets-05-kep-no-plugin")

        _with_plugin(page, gpki)
        page.goto(f"/sheets/{sheet_id}")
        page.click("#kep-director button[type=submit]")
        page.wait_for_selector("text=Ведомость подписана КЭП")
        assert page.inner_text("#status") == "Подписана директором"
        signatures = page.locator("#signatures li").all_inner_texts()
        assert len(signatures) == 2 and all(t.startswith("Действительна") for t in signatures), signatures
        assert "ГОСТ Р 34.10-2012, 256 бит" in signatures[1]
        # the .sig made in the same plug-in session: OpenSSL checks it against the downloaded PDF
        assert page.locator("#detached-sig").count() == 1
        pdf = page.request.get(f"{url}/sheets/{sheet_id}/pdf").body()
        sig = page.request.get(f"{url}/sheets/{sheet_id}/sig").body()
        shot(page, "sheets-06-kep-signed")
    finally:
        context.close()
    _all_valid(app, [sheet_id])
    gpki.verify_detached(sig, pdf)                      # raises unless OpenSSL verifies it
    with pytest.raises(subprocess.CalledProcessError):
        gpki.verify_detached(sig, pdf + b"%")


def test_director_signs_the_rest_in_one_plugin_session(browser, kep):
    from web.demo import DEMO_PASSWORD
    app, url, gpki, ids = kep
    from core.db import session
    from sheets.models import SheetStatus, SummarySheet
    with app.app_context():
        waiting = sum(session.get(SummarySheet, i).status is SheetStatus.teacher_signed for i in ids)
        session.remove()
    assert waiting >= 2
    context, page = new_page(browser, url)
    try:
        sign_in(page, "director", DEMO_PASSWORD)
        _with_plugin(page, gpki)
        page.goto("/sheets?year=2025/2026")
        form = f"#kep-batch-director-{app.extensions['kep_school']}"
        page.click(f"{form} button[type=submit]")
        page.wait_for_selector(f"{form}[data-done=yes]", timeout=60_000)
        assert page.inner_text(f"{form} .kep-state") == f"Подписано {waiting} из {waiting}"
        assert page.evaluate(f"document.querySelector('{form} progress').value") == waiting
        shot(page, "sheets-07-kep-batch")
    finally:
        context.close()
    _all_valid(app, ids)
