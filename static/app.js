// The app's own script: behaviour that pages ask for through data-* attributes, so templates
// hold no inline script or event handlers (the Content-Security-Policy allows script from
// 'self' only; see README "Security headers"). Loaded by base.html with `defer`.
//
//   data-htmx-error-show="#id"       show that element when an htmx request from inside fails
//                                    (network or error status); hide it after a good swap
//   data-htmx-error-send="text"      put this text into the [data-htmx-error-text] element
//   data-htmx-error-response="text"  inside, when the request could not be sent / was answered
//                                    with an error status
(function () {
  "use strict";

  function owner(event, attribute) {
    var elt = event.detail && event.detail.elt ? event.detail.elt : event.target;
    return elt && elt.closest ? elt.closest("[" + attribute + "]") : null;
  }

  function failed(kind) {
    return function (event) {
      var shower = owner(event, "data-htmx-error-show");
      if (shower) {
        var shown = document.querySelector(shower.getAttribute("data-htmx-error-show"));
        if (shown) { shown.hidden = false; }
      }
      var attribute = "data-htmx-error-" + kind;
      var holder = owner(event, attribute);
      if (holder) {
        var text = holder.querySelector("[data-htmx-error-text]");
        if (text) {
          text.textContent = holder.getAttribute(attribute);
          text.removeAttribute("aria-busy");
        }
      }
    };
  }

  document.addEventListener("htmx:sendError", failed("send"));
  document.addEventListener("htmx:responseError", failed("response"));
  document.addEventListener("htmx:afterSwap", function (event) {
    var shower = owner(event, "data-htmx-error-show");
    if (shower) {
      var shown = document.querySelector(shower.getAttribute("data-htmx-error-show"));
      if (shown) { shown.hidden = true; }
    }
  });
})();

// Campaign step forms and confirmations (Campaigns pages):
//
//   data-step-form                   inside it, a fieldset with data-step-types="email" (a
//                                    space-separated list of step types) shows only while
//                                    the form's type select names one of them
//   data-confirm="question"          a form asks this before it is submitted
(function () {
  "use strict";

  function showStepFields(form) {
    var type = form.querySelector("select[name=type]");
    if (!type) { return; }
    form.querySelectorAll("[data-step-types]").forEach(function (fieldset) {
      var shown = fieldset.getAttribute("data-step-types").split(" ").indexOf(type.value) >= 0;
      fieldset.hidden = !shown;
      fieldset.disabled = !shown;
    });
  }

  function setUp() {
    document.querySelectorAll("form[data-step-form]").forEach(function (form) {
      showStepFields(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "type") { showStepFields(form); }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest ? event.target.closest("form[data-confirm]") : null;
    if (form && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  }, true);
})();
