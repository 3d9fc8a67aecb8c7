// The submit page: drag-and-drop a zip, upload it with a real progress bar (XMLHttpRequest
// upload events), then follow the submission's status until it is scored or failed.
(function () {
  "use strict";
  var root = document.getElementById("uploader");
  if (!root) return;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var input = document.getElementById("file");
  var zone = document.getElementById("dropzone");
  var chosen = document.getElementById("chosen");
  var send = document.getElementById("send");
  var cancel = document.getElementById("cancel");
  var area = document.getElementById("progress-area");
  var bar = document.getElementById("progress");
  var barText = document.getElementById("progress-text");
  var result = document.getElementById("result");
  var file = null;
  var xhr = null;
  var POLL_MS = 1000;

  function megabytes(n) { return (n / 1048576).toFixed(n < 10485760 ? 2 : 1) + " MB"; }

  function choose(f) {
    file = f || null;
    chosen.textContent = file ? file.name + " · " + megabytes(file.size) : "";
    send.disabled = !file;
    result.hidden = true;
  }

  function step(name, state) {
    var items = document.querySelectorAll("#steps li");
    var reached = false;
    items.forEach(function (li) {
      li.classList.remove("active", "done", "bad");
      if (li.dataset.step === name) { li.classList.add(state || "active"); reached = true; }
      else if (!reached) { li.classList.add("done"); }
    });
  }

  function setProgress(fraction, text) {
    var pct = Math.round(fraction * 100);
    bar.firstElementChild.style.width = pct + "%";
    bar.setAttribute("aria-valuenow", String(pct));
    barText.textContent = text;
  }

  function show(kind, title, items) {
    result.className = "flash " + kind;
    result.replaceChildren();
    var head = document.createElement("div");
    if (title.nodeType) head.appendChild(title); else head.textContent = title;
    result.appendChild(head);
    if (items && items.length) {
      var list = document.createElement("ul");
      list.className = "problems";
      items.forEach(function (p) {
        var li = document.createElement("li");
        if (p.file) {
          var code = document.createElement("code");
          code.textContent = p.file;
          li.appendChild(code);
          li.appendChild(document.createTextNode(": " + p.message));
        } else {
          li.textContent = p.message || String(p);
        }
        list.appendChild(li);
      });
      result.appendChild(list);
    }
    result.hidden = false;
  }

  // Every error answer has one body, {"detail": "...", "problems": [{"file", "message"}]}
  // (docs/service.md); anything else (a proxy's page) falls back to the HTTP status line.
  function explain(status, text) {
    var body = null;
    try { body = JSON.parse(text); } catch (e) { body = null; }
    if (body && typeof body.detail === "string") {
      return { message: body.detail, problems: Array.isArray(body.problems) ? body.problems : [] };
    }
    return { message: "The server answered " + status + (text ? ": " + text.slice(0, 200) : ""), problems: [] };
  }

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href; a.textContent = text;
    return a;
  }

  function finished(sub, page) {
    var title = document.createElement("span");
    barText.textContent = sub.status === "scored" ? "Scored." : "Scoring failed.";
    if (sub.status === "scored") {
      step("scored", "done");
      var score = sub.mean && typeof sub.mean.score === "number" ? sub.mean.score.toFixed(2) : "?";
      title.appendChild(document.createTextNode("Scored: " + score + ". "));
      title.appendChild(link(page, "See the per-image results"));
      show("ok", title);
    } else {
      step("scoring", "bad");
      title.appendChild(document.createTextNode("Scoring failed (this does not count against your quota): " + (sub.error || "unknown error") + " "));
      title.appendChild(link(page, "Details"));
      show("error", title);
    }
    send.disabled = !file;
  }

  function poll(url, page) {
    var req = new XMLHttpRequest();
    req.open("GET", url);
    req.setRequestHeader("Accept", "application/json");
    req.onload = function () {
      if (req.status !== 200) {
        var why = explain(req.status, req.responseText);
        show("error", "Could not read the submission's status: " + why.message);
        return;
      }
      var sub = JSON.parse(req.responseText);
      if (sub.status === "scored" || sub.status === "failed") { finished(sub, page); return; }
      step(sub.status === "scoring" ? "scoring" : "queued");
      var done = sub.progress && sub.progress.total ? " " + sub.progress.done + " of " + sub.progress.total + " images" : "";
      barText.textContent = sub.status === "scoring" ? "Scoring on the server…" + done : "Queued for scoring…";
      setTimeout(function () { poll(url, page); }, POLL_MS);
    };
    req.onerror = function () { setTimeout(function () { poll(url, page); }, POLL_MS * 3); };
    req.send();
  }

  function accepted(text) {
    var body = JSON.parse(text);
    var page = "/submissions/" + body.id;
    setProgress(1, "Accepted as submission #" + body.id);
    bar.classList.add("done");
    step("queued");
    show("info", (function () {
      var t = document.createElement("span");
      t.appendChild(document.createTextNode("Submission #" + body.id + " accepted and queued. "));
      t.appendChild(link(page, "Open it"));
      return t;
    })());
    poll(body.status_url || ("/api/submissions/" + body.id), page);
  }

  function upload() {
    if (!file) return;
    send.disabled = true;
    cancel.hidden = false;
    area.hidden = false;
    result.hidden = true;
    bar.classList.remove("done");
    step("upload");
    setProgress(0, "Starting upload…");
    var form = new FormData();
    form.append("phase", root.dataset.phase);
    form.append("file", file, file.name);
    xhr = new XMLHttpRequest();
    xhr.open("POST", root.dataset.uploadUrl);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      setProgress(e.loaded / e.total, megabytes(e.loaded) + " of " + megabytes(e.total) + " uploaded");
    };
    xhr.upload.onload = function () {
      setProgress(1, "Uploaded; checking every image…");
      step("check");
    };
    xhr.onload = function () {
      cancel.hidden = true;
      if (xhr.status === 202 || xhr.status === 200) { accepted(xhr.responseText); return; }
      var why = explain(xhr.status, xhr.responseText);
      step("check", "bad");
      show("error", "Not accepted (nothing was stored; your quota is unchanged): " + why.message, why.problems);
      send.disabled = false;
    };
    xhr.onerror = function () {
      cancel.hidden = true;
      step("upload", "bad");
      show("error", "The upload was interrupted (network error). Nothing was stored; try again.");
      send.disabled = false;
    };
    xhr.onabort = function () {
      cancel.hidden = true;
      step("upload", "bad");
      show("info", "Upload cancelled. Nothing was stored.");
      send.disabled = false;
    };
    xhr.send(form);
  }

  input.addEventListener("change", function () { choose(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
  });
  send.addEventListener("click", upload);
  cancel.addEventListener("click", function () { if (xhr) xhr.abort(); });
})();
