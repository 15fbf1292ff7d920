// The app's own script: behaviour that pages ask for through data-* attributes, so templates
// hold no inline script or event handlers (the Content-Security-Policy allows script from
// 'self' only; see README "Security headers"). Loaded by base.html with `defer`.
//
//   data-htmx-error-show="#id"       show that element when an htmx request from inside fails
//                                    (network or error status); hide it after a good swap
//   data-htmx-error-send="text"      put this text into the [data-htmx-error-text] element
//   data-htmx-error-response="text"  inside, when the request could not be sent / was answered
//                                    with an error status
//   data-selection                   on a form of rows with tick boxes (name="person"): a
//                                    [data-select-page] box ticks every row, a
//                                    [data-select-all] box ticks them all too, and
//                                    [data-selected-count] says what is selected
//   data-carry-query                 on a form: before it is sent, its [data-carried] inputs
//                                    are replaced by the page's current query (a live search
//                                    may have changed it since the page was loaded)
//   data-url-param="sort"            a field that shows that parameter of the current URL
//                                    after htmx pushed a new one
//   data-current-until-push          aria-current is dropped once htmx pushes another address
//                                    (a saved view stops being the list shown)
//   data-confirm="question"          on a form: ask before it is sent (a delete)
//   data-fold-below="768"            on a <details>: closed on load when the window is
//                                    narrower than that (a phone's menu), open otherwise
//   data-submit-on-change            on a form: sent as soon as one of its fields changes (the
//                                    login page's language menu); its [data-hide-with-script]
//                                    button, needed only without script, is hidden
//
// The texts this script writes come translated from base.html's <body> (data-text-*), in the
// page's language: "{n}" in them is where a number goes.
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

  function foldMenus() {
    document.querySelectorAll("details[data-fold-below]").forEach(function (menu) {
      var narrow = window.matchMedia(
        "(max-width: " + (parseInt(menu.getAttribute("data-fold-below"), 10) - 0.02) + "px)");
      menu.open = !narrow.matches;
      narrow.addEventListener("change", function () { menu.open = !narrow.matches; });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", foldMenus);
  } else {
    foldMenus();
  }

  // A text of base.html's <body data-text-NAME>, with "{n}" replaced by `count`.
  function text(name, count, fallback) {
    var said = document.body.getAttribute("data-text-" + name) || fallback;
    return said.replace("{n}", String(count));
  }

  function selectionSay(form) {
    var say = form.querySelector("[data-selected-count]");
    if (!say) { return; }
    var all = form.querySelector("[data-select-all]");
    var picked = form.querySelectorAll("input[name=person]:checked").length;
    if (all && all.checked) {
      say.textContent = text("all-selected", 0, "All matching selected:");
    } else if (picked) {
      // One and other are the plural forms of the six languages (French: 0 and 1 are one, but
      // no count of 0 is said here).
      say.textContent = picked === 1 ? text("selected-one", picked, "{n} person selected:")
        : text("selected-other", picked, "{n} people selected:");
    } else {
      say.textContent = say.getAttribute("data-nothing") || say.textContent;
    }
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    var form = box.closest ? box.closest("form[data-selection]") : null;
    if (!form) { return; }
    var say = form.querySelector("[data-selected-count]");
    if (say && !say.hasAttribute("data-nothing")) {
      say.setAttribute("data-nothing", say.textContent);
    }
    if (box.hasAttribute("data-select-page") || box.hasAttribute("data-select-all")) {
      form.querySelectorAll("input[name=person]").forEach(function (row) {
        row.checked = box.checked;
      });
      if (box.hasAttribute("data-select-page")) {
        var all = form.querySelector("[data-select-all]");
        if (all && !box.checked) { all.checked = false; }
      }
    } else if (box.name === "person" && !box.checked) {
      var everyone = form.querySelector("[data-select-all]");
      if (everyone) { everyone.checked = false; }
    }
    selectionSay(form);
  });

  function submitOnChangeSetUp() {
    document.querySelectorAll("form[data-submit-on-change] [data-hide-with-script]")
      .forEach(function (button) { button.hidden = true; });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", submitOnChangeSetUp);
  } else {
    submitOnChangeSetUp();
  }
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-submit-on-change")) { form.requestSubmit(); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute && form.hasAttribute("data-confirm") &&
        !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-carry-query")) { return; }
    form.querySelectorAll("[data-carried]").forEach(function (input) { input.remove(); });
    new URLSearchParams(window.location.search).forEach(function (value, name) {
      if (name === "cursor") { return; }
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      input.setAttribute("data-carried", "");
      form.appendChild(input);
    });
  }, true);

  document.addEventListener("htmx:pushedIntoHistory", function () {
    document.querySelectorAll("[data-current-until-push]").forEach(function (link) {
      link.removeAttribute("aria-current");
    });
    var params = new URLSearchParams(window.location.search);
    document.querySelectorAll("[data-url-param]").forEach(function (field) {
      var value = params.get(field.getAttribute("data-url-param"));
      if (value !== null && field.value !== value) { field.value = value; }
    });
  });

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

// Campaign step forms (Campaigns pages; their removals use data-confirm, above):
//
//   data-step-form                   inside it, a fieldset with data-step-types="email" (a
//                                    space-separated list of step types) shows only while
//                                    the form's type select names one of them
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
})();
