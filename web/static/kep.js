// Signing a sheet with the user's own КЭП through the КриптоПро ЭЦП Browser plug-in (its documented
// async API: CAdESCOM.Store, HashedData, CPSigner, CadesSignedData). The server prepares the document
// and says which digest the certificate's key goes with; the plug-in hashes the prepared bytes and signs
// (CAdES-BES, detached); the server checks the CMS against the prepared document and the user's
// certificate before embedding it. The private key never leaves the user's token or container.
(function () {
  "use strict";
  var HASH = {streebog256: 101, streebog512: 102};   // CADESCOM_HASH_ALGORITHM_CP_GOST_3411_2012_256 / _512

  function say(box, text, bad) {
    box.textContent = text;
    box.className = "kep-state flash " + (bad ? "error" : "success");
    box.hidden = false;
  }

  function post(url, body, token) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                       body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (j) { j.ok = r.ok; return j; }); });
  }

  function sign(form) {
    var box = form.querySelector(".kep-state");
    var token = form.querySelector("input[name=csrf_token]").value;
    var role = form.dataset.role;
    if (!window.cadesplugin) {
      say(box, "Плагин «КриптоПро ЭЦП Browser plug-in» не найден. Установите его (cryptopro.ru/products/cades/plugin) " +
               "и расширение для браузера, затем обновите страницу. Без плагина подпишите файлом ключа.", true);
      return;
    }
    var plugin = window.cadesplugin;
    say(box, "Выберите сертификат в окне плагина…", false);
    plugin.then(function () {
      plugin.async_spawn(function* () {
        var store = yield plugin.CreateObjectAsync("CAdESCOM.Store");
        yield store.Open(2, "My", 2);   // CAPICOM_CURRENT_USER_STORE, "My", MAXIMUM_ALLOWED
        var certificates = yield store.Certificates;
        if ((yield certificates.Count) < 1) { say(box, "В хранилище нет сертификатов подписи.", true); return; }
        var certificate = yield certificates.Item(1);
        var prepared = yield post(form.dataset.prepare, {role: role, certificate: yield certificate.Export(0)}, token);
        if (!prepared.ok) { say(box, prepared.message, true); return; }
        var hashed = yield plugin.CreateObjectAsync("CAdESCOM.HashedData");
        yield hashed.propset_Algorithm(HASH[prepared.md_algorithm]);
        yield hashed.propset_DataEncoding(1);   // CADESCOM_BASE64_TO_BINARY
        yield hashed.Hash(prepared.signed_bytes);
        var signer = yield plugin.CreateObjectAsync("CAdESCOM.CPSigner");
        yield signer.propset_Certificate(certificate);
        yield signer.propset_Options(1);        // CAPICOM_CERTIFICATE_INCLUDE_WHOLE_CHAIN
        var signedData = yield plugin.CreateObjectAsync("CAdESCOM.CadesSignedData");
        var cms = yield signedData.SignHash(hashed, signer, 1);   // CADESCOM_CADES_BES
        var done = yield post(form.dataset.complete, {role: role, cms: cms.replace(/\s+/g, "")}, token);
        if (!done.ok) { say(box, done.message, true); return; }
        say(box, "Ведомость подписана.", false);
        window.location.reload();
      }).catch(function (e) { say(box, "Подпись не создана: " + (e && e.message ? e.message : e), true); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.kep").forEach(function (form) {
      form.addEventListener("submit", function (ev) { ev.preventDefault(); sign(form); });
    });
  });
})();
