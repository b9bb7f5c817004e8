// Open Month check-in: scan ticket QR codes with the phone camera where the browser has BarcodeDetector.
// Progressive enhancement only: without it the page's code form and name search work as they are.
(function () {
  "use strict";
  var box = document.getElementById("scanner");
  if (!box || !("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var url = box.getAttribute("data-check-in-url");
  var video = document.getElementById("scan-video");
  var start = document.getElementById("scan-start");
  var stop = document.getElementById("scan-stop");
  var out = document.getElementById("scan-result");
  var tokenInput = document.querySelector("#code-form input[name=csrf_token]");
  var detector = null;
  var stream = null;
  var timer = null;
  var last = "";
  var lastAt = 0;
  var busy = false;

  box.hidden = false;

  function show(ok, message) {
    out.textContent = message;
    out.className = "od-scan-result " + (ok ? "od-ok" : "od-bad");
  }

  function send(code) {
    busy = true;
    var data = new FormData();
    if (tokenInput) { data.append("csrf_token", tokenInput.value); }
    data.append("code", code);
    data.append("method", "scan");
    fetch(url, { method: "POST", body: data, headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (res) { show(res.ok, res.message); if (navigator.vibrate) { navigator.vibrate(res.ok ? 80 : [60, 60, 60]); } })
      .catch(function () { show(false, out.getAttribute("data-offline") || "Network error"); })
      .then(function () { busy = false; });
  }

  function tick() {
    if (!stream || busy || video.readyState < 2) { return; }
    detector.detect(video).then(function (codes) {
      if (!codes.length) { return; }
      var value = codes[0].rawValue;
      var now = Date.now();
      if (value === last && now - lastAt < 4000) { return; }
      last = value;
      lastAt = now;
      send(value);
    }).catch(function () {});
  }

  function stopScan() {
    if (timer) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  start.addEventListener("click", function () {
    try {
      detector = detector || new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch (e) { box.hidden = true; return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        stop.hidden = false;
        start.hidden = true;
        return video.play();
      })
      .then(function () { timer = setInterval(tick, 300); })
      .catch(function (e) { show(false, String(e && e.message || e)); stopScan(); });
  });
  stop.addEventListener("click", stopScan);
  window.addEventListener("pagehide", stopScan);
})();
