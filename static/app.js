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

// "Insert merge field" menus (select[data-merge-menu]): the chosen token goes in at the cursor
// of the form's last focused text field (the body when none was), then the menu resets. The
// field gets an input event, so the live preview follows.
(function () {
  "use strict";

  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.form && (field.tagName === "TEXTAREA" || field.type === "text")) {
      field.form.setAttribute("data-merge-last", field.name);
    }
  });

  document.addEventListener("change", function (event) {
    var menu = event.target;
    if (!menu.matches || !menu.matches("select[data-merge-menu]") || !menu.value) { return; }
    var form = menu.form || menu.closest("form");
    if (!form) { return; }
    var name = form.getAttribute("data-merge-last") || "body";
    var field = form.elements[name] || form.elements.body;
    if (!field) { return; }
    var token = menu.value;
    var start = field.selectionStart === null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd === null ? start : field.selectionEnd;
    field.value = field.value.slice(0, start) + token + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + token.length, start + token.length);
    field.dispatchEvent(new Event("input", { bubbles: true }));
    menu.value = "";
  });
})();

// Template pickers (select[data-template-picker], campaign email steps): the chosen template's
// subject and body (data-subject, data-body of its option) go into the form's subject and body.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var picker = event.target;
    if (!picker.matches || !picker.matches("select[data-template-picker]")) { return; }
    var option = picker.options[picker.selectedIndex];
    var form = picker.form;
    if (!option || !option.value || !form) { return; }
    [["subject", "data-subject"], ["body", "data-body"]].forEach(function (pair) {
      var field = form.elements[pair[0]];
      if (field) {
        field.value = option.getAttribute(pair[1]);
        field.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
  });
})();
