// Registration: show the enterprise fields only when "enterprise representative" is chosen.
// Without JavaScript every field is shown and the server checks what applies.
(function () {
  "use strict";
  var fields = document.querySelector(".enterprise-fields");
  var radios = document.querySelectorAll("input[name=account_type]");
  if (!fields || !radios.length) {
    return;
  }
  function update() {
    var checked = document.querySelector("input[name=account_type]:checked");
    var enterprise = checked && checked.value === "enterprise";
    // Keep the fields visible when they carry an error message, whatever is chosen.
    fields.hidden = !enterprise && !fields.querySelector(".has-error");
  }
  radios.forEach(function (radio) { radio.addEventListener("change", update); });
  update();
})();
