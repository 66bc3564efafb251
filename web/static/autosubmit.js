// Selects marked data-autosubmit send their form on change (no inline handlers: the CSP forbids them).
document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
  el.addEventListener("change", function () { el.form.submit(); });
});
