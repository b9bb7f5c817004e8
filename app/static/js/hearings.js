// Progressive enhancement: while a lottery computes, poll its status and update the page; reload when it ends.
(function () {
  var box = document.querySelector(".lottery-status[data-status-url]");
  if (!box || !box.querySelector(".js-progress")) return;
  var url = box.getAttribute("data-status-url");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var bar = box.querySelector(".js-progress");
        if (bar) { bar.value = data.progress; bar.textContent = data.progress + "%"; }
        var label = box.querySelector(".js-status");
        if (label) label.textContent = data.label;
        if (data.status === "queued" || data.status === "running") { setTimeout(tick, 2000); }
        else { window.location.reload(); }
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 2000);
})();
