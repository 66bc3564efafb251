// Signing sheets with the user's own КЭП through the КриптоПро ЭЦП Browser plug-in (its documented
// async API: CAdESCOM.Store, HashedData, CPSigner, CadesSignedData). For each sheet the server prepares
// the document and names the digest the certificate's key goes with; the plug-in hashes the prepared
// bytes and signs (CAdES-BES, detached); the server checks the CMS against the prepared document and
// the user's certificate before embedding it. The private key never leaves the user's token.
// form.kep: one sheet; form.kep-batch: every sheet waiting for this user, in one plug-in session
// (the certificate is chosen once; the plug-in asks for the PIN once per container session).
(function () {
  "use strict";
  var HASH = {streebog256: 101, streebog512: 102};   // CADESCOM_HASH_ALGORITHM_CP_GOST_3411_2012_256 / _512

  function say(box, text, bad) {
    box.textContent = text;
    box.className = "kep-state flash " + (bad ? "error" : "success");
    box.hidden = false;
  }

  function call(url, body, token) {
    return fetch(url, {method: body ? "POST" : "GET", credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                       body: body ? JSON.stringify(body) : undefined})
      .then(function (r) { return r.json().then(function (j) { j.ok = r.ok; return j; }); });
  }

  function* cadesOver(plugin, certificate, algorithm, base64Data) {
    var hashed = yield plugin.CreateObjectAsync("CAdESCOM.HashedData");
    yield hashed.propset_Algorithm(HASH[algorithm]);
    yield hashed.propset_DataEncoding(1);   // CADESCOM_BASE64_TO_BINARY
    yield hashed.Hash(base64Data);
    var signer = yield plugin.CreateObjectAsync("CAdESCOM.CPSigner");
    yield signer.propset_Certificate(certificate);
    yield signer.propset_Options(1);        // CAPICOM_CERTIFICATE_INCLUDE_WHOLE_CHAIN
    var signedData = yield plugin.CreateObjectAsync("CAdESCOM.CadesSignedData");
    var cms = yield signedData.SignHash(hashed, signer, 1);   // CADESCOM_CADES_BES
    return cms.replace(/\s+/g, "");
  }

  function* signOne(plugin, certificate, sheet, role, token, batch) {
    var prepared = yield call(sheet.prepare, {role: role, certificate: yield certificate.Export(0)}, token);
    if (!prepared.ok) { return prepared.message; }
    var cms = yield* cadesOver(plugin, certificate, prepared.md_algorithm, prepared.signed_bytes);
    var done = yield call(sheet.complete, {role: role, cms: cms, batch: batch}, token);
    if (!done.ok) { return done.message; }
    if (done.detached) {   // the director's .sig over the final PDF, in the same session
      var sig = yield* cadesOver(plugin, certificate, prepared.md_algorithm, done.final_pdf);
      var kept = yield call(done.detached, {cms: sig}, token);
      if (!kept.ok) { return "подписана, но файл .sig не сохранён: " + kept.message; }
    }
    return null;
  }

  function* chooseCertificate(plugin) {
    var store = yield plugin.CreateObjectAsync("CAdESCOM.Store");
    yield store.Open(2, "My", 2);   // CAPICOM_CURRENT_USER_STORE, "My", MAXIMUM_ALLOWED
    var certificates = yield store.Certificates;
    return (yield certificates.Count) < 1 ? null : yield certificates.Item(1);
  }

  function run(form) {
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
        var certificate = yield* chooseCertificate(plugin);
        if (!certificate) { say(box, "В хранилище нет сертификатов подписи.", true); return; }
        if (!form.dataset.waiting) {
          var problem = yield* signOne(plugin, certificate, form.dataset, role, token, false);
          if (problem) { say(box, problem, true); return; }
          window.location.reload();
          return;
        }
        var list = yield call(form.dataset.waiting, null, token);
        if (!list.ok || !list.sheets.length) { say(box, list.message || "Нет ведомостей, ожидающих подписи.", true); return; }
        var bar = form.querySelector("progress"), errors = form.querySelector(".kep-errors"), failed = 0;
        bar.max = list.sheets.length; bar.value = 0; bar.hidden = false;
        for (var i = 0; i < list.sheets.length; i++) {
          var sheet = list.sheets[i];
          var problem2 = yield* signOne(plugin, certificate, sheet, role, token, true);
          if (problem2) {
            failed++;
            var li = document.createElement("li");
            li.textContent = sheet.label + ": " + problem2;
            errors.appendChild(li);
          }
          bar.value = i + 1;
          say(box, "Подписано " + (i + 1 - failed) + " из " + list.sheets.length + (failed ? ", ошибок " + failed : ""),
              failed > 0);
        }
        form.dataset.done = "yes";
      }).catch(function (e) { say(box, "Подпись не создана: " + (e && e.message ? e.message : e), true); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.kep, form.kep-batch").forEach(function (form) {
      form.addEventListener("submit", function (ev) { ev.preventDefault(); run(form); });
    });
  });
})();
