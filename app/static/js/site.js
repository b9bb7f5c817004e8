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
    // Guard against a double click: disable submit buttons once the form is on its way.
    var form = event.target;
    if (!form.hasAttribute("data-allow-resubmit")) {
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    }
  });
})();
