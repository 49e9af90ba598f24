// Small behaviours on top of htmx. No inline scripts anywhere: the content security policy forbids them.
(function () {
  "use strict";

  // After a boosted page change, move focus to the main landmark so screen readers announce the page;
  // after a form comes back with errors, focus the first invalid field.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target || event.detail.elt;  // SSE swaps carry no target
    if (!target || !target.querySelector) return;
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
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt && event.detail.elt.querySelectorAll) paintTags(event.detail.elt);
  });

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

// Ideas: the share link's copy button, and the board's live ranking.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    var note = document.getElementById("share-note");
    function done(copied) {
      if (note) note.textContent = copied ? "Link copied." : "Select the link and copy it.";
    }
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { done(true); }, function () { done(false); });
    } else {
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      done(copied);
    }
  });

  // The board's list re-reads itself when the campaign's event stream says `ranking`. Not while someone
  // uses a field in it, nor for a few seconds after their own allocation (its message stays readable):
  // the refresh waits, then happens once. A 429 pauses live refreshes instead of showing an error.
  var holdUntil = 0;
  var pausedUntil = 0;
  var retry = null;

  function isLiveRefresh(detail) {
    var trigger = detail.triggeringEvent;
    return detail.elt && detail.elt.id === "idea-list" && trigger && trigger.type === "sse:ranking";
  }

  function refreshLater(wait) {
    if (retry) return;
    retry = window.setTimeout(function () {
      retry = null;
      var list = document.getElementById("idea-list");
      if (list) htmx.trigger(list, "sse:ranking");
    }, wait);
  }

  document.addEventListener("htmx:confirm", function (event) {
    if (!isLiveRefresh(event.detail)) return;
    var list = event.detail.elt;
    var active = document.activeElement;
    var wait = Math.max(holdUntil, pausedUntil) - Date.now();
    if (active && list.contains(active) && active.matches("input, select, textarea")) wait = Math.max(wait, 1000);
    if (wait > 0) {
      event.preventDefault();
      refreshLater(wait);
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var list = document.getElementById("idea-list");
    if (list && elt && elt !== list && list.contains(elt)) holdUntil = Date.now() + 3000;
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (!event.detail.elt || event.detail.elt.id !== "idea-list" || !xhr || xhr.status !== 429) return;
    event.detail.shouldSwap = false;
    event.detail.isError = false;
    pausedUntil = Date.now() + (parseInt(xhr.getResponseHeader("Retry-After") || "30", 10) || 30) * 1000;
  });
})();
