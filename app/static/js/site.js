// Small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  // Buttons that ask for confirmation before a state change.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      return;
    }
    // Confirmed in the dialog: the server skips its own confirmation page (app/core/confirm.py).
    if (message && !event.target.querySelector("input[name=confirmed]")) {
      var confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "1";
      event.target.appendChild(confirmed);
    }
    // Guard against a double click: disable submit buttons once the form is on its way.
    var form = event.target;
    if (!form.hasAttribute("data-allow-resubmit")) {
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    }
  });
})();
