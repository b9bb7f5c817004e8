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

// Moderation queue: a "select all" box above the list of comments (bulk actions work without it).
(function () {
  "use strict";
  var queue = document.querySelector(".cz-queue");
  if (!queue) { return; }
  var boxes = queue.querySelectorAll("input[name=comment_ids]");
  if (boxes.length < 2) { return; }
  var wrap = document.createElement("div");
  var all = document.createElement("input");
  all.type = "checkbox";
  all.id = "cz-select-all";
  var label = document.createElement("label");
  label.htmlFor = "cz-select-all";
  label.textContent = document.documentElement.lang === "en" ? "Select all on this page" : "全选本页";
  wrap.appendChild(all);
  wrap.appendChild(document.createTextNode(" "));
  wrap.appendChild(label);
  queue.insertBefore(wrap, queue.querySelector(".cz-queue-item"));
  all.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = all.checked; });
  });
})();
