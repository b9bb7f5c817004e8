// Consultations: a live character count under the comment box. The page works without it.
(function () {
  "use strict";
  var box = document.querySelector(".cz-comment-form textarea[name=text]");
  if (!box) { return; }
  var max = 5000;
  var out = document.createElement("p");
  out.className = "cz-counter";
  out.setAttribute("aria-live", "polite");
  box.insertAdjacentElement("afterend", out);
  var lang = document.documentElement.lang;
  function update() {
    var n = box.value.trim().length;
    out.textContent = lang === "en" ? n + " / " + max + " characters" : "已输入 " + n + " / " + max + " 字";
    out.classList.toggle("over", n > max);
  }
  box.addEventListener("input", update);
  update();
})();
