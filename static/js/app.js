// Small behaviours on top of htmx. No inline scripts anywhere: the content security policy forbids them.
(function () {
  "use strict";

  // After a boosted page change, move focus to the main landmark so screen readers announce the page;
  // after a form comes back with errors, focus the first invalid field.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var invalid = target.querySelector('[aria-invalid="true"], .form-error');
    if (invalid) {
      invalid.focus({ preventScroll: false });
      return;
    }
    if (event.detail.boosted) {
      var main = document.getElementById("main");
      if (main) main.focus({ preventScroll: true });
    }
  });

  // Tag colours come from data attributes: the content security policy forbids inline style attributes,
  // but setting a custom property from script is allowed.
  function paintTags(root) {
    root.querySelectorAll(".tag[data-colour]").forEach(function (tag) {
      tag.style.setProperty("--tag-colour", tag.getAttribute("data-colour"));
    });
  }
  document.addEventListener("DOMContentLoaded", function () { paintTags(document); });
  document.addEventListener("htmx:afterSettle", function (event) { paintTags(event.detail.elt); });

  // Stepper buttons next to an amount field: keyboard users can also type or use the arrow keys.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-step]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("aria-controls"));
    if (!input) return;
    var min = parseInt(input.min || "1", 10);
    var next = Math.max(min, (parseInt(input.value, 10) || min) + parseInt(button.getAttribute("data-step"), 10));
    input.value = next;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // A network failure should never look like nothing happened.
  document.addEventListener("htmx:sendError", function () {
    var messages = document.getElementById("messages");
    if (messages) {
      messages.innerHTML = '<p class="flash flash-error" role="alert">The server could not be reached. Check your connection and try again.</p>';
    }
  });
})();
