// The submit page: choose (keyboard, click or drop) a zip, check its size against the server's
// limit, upload it with a real progress bar (XMLHttpRequest upload events), then follow the
// submission's status until it is scored (or accepted for the judges) or failed. Each file is
// sent once: after any answer the file must be chosen again, so a double submission takes intent.
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
  var steps = document.getElementById("steps");
  var bar = document.getElementById("progress");
  var barText = document.getElementById("progress-text");
  var result = document.getElementById("result");
  var quota = document.getElementById("quota");
  var judged = root.dataset.kind === "unpaired";
  var file = null;
  var xhr = null;
  var busy = false;
  var POLL_MS = 1000;
  var UNITS = ["KiB", "MiB", "GiB", "TiB"];

  // Binary units, labelled as such (app/web/templating.format_size writes the limit alike).
  function size(n) {
    if (n < 1024) return n + " bytes";
    var value = n, unit = "";
    for (var i = 0; i < UNITS.length; i++) {
      value /= 1024; unit = UNITS[i];
      if (value < 1024) break;
    }
    return value.toFixed(1).replace(/\.0$/, "") + " " + unit;
  }

  function choose(f) {
    if (busy) return;
    file = f || null;
    result.hidden = true;
    var maxBytes = Number(root.dataset.maxBytes) || 0;  // RAIM_MAX_UPLOAD_BYTES
    if (file && maxBytes && file.size > maxBytes) {
      show("error", file.name + " is " + size(file.size) + ", over the limit of " + size(maxBytes) +
           " per upload: it was not sent. Choose a smaller zip.");
      file = null;
      input.value = "";
    }
    chosen.textContent = file ? "Chosen: " + file.name + " · " + size(file.size) : "";
    send.disabled = !file;
  }

  // After any answer: the same file is not sent again unless it is chosen again.
  function forget(note) {
    file = null;
    input.value = "";
    send.disabled = true;
    busy = false;
    input.disabled = false;
    chosen.textContent = note;
  }

  function step(name, state) {
    var items = steps.querySelectorAll("li");
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
    result.setAttribute("role", kind === "error" ? "alert" : "status");
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

  function end(text) { return /[.!?]$/.test(text) ? text : text + "."; }

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href; a.textContent = text;
    return a;
  }

  function sentence() {
    var span = document.createElement("span");
    for (var i = 0; i < arguments.length; i++) {
      var part = arguments[i];
      span.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
    }
    return span;
  }

  // The quota line, read again from the server after each answer.
  function refreshQuota() {
    if (!root.dataset.quotaUrl) return;
    var req = new XMLHttpRequest();
    req.open("GET", root.dataset.quotaUrl);
    req.setRequestHeader("Accept", "application/json");
    req.onload = function () {
      if (req.status !== 200) return;
      var body = JSON.parse(req.responseText);
      if (quota && body.text) quota.textContent = body.text;
      if (!body.can_submit) {
        input.disabled = true;
        send.disabled = true;
        chosen.textContent = body.reason || "Your team cannot submit to this phase now.";
      }
    };
    req.send();
  }

  function finished(sub, page) {
    var again = " To submit again, choose a file.";
    if (sub.status === "scored" && judged) {
      step("scored", "done");
      barText.textContent = "Accepted for the judges.";
      show("ok", sentence("Accepted: " + sub.image_count + " images, kept for the judges' rating " +
                          "(this phase has no formula score).", " ", link(page, "See the submission"), "." + again));
    } else if (sub.status === "scored") {
      step("scored", "done");
      barText.textContent = "Scored.";
      var score = sub.mean && typeof sub.mean.score === "number" ? sub.mean.score.toFixed(2) : "?";
      show("ok", sentence("Scored: " + score + ". ", link(page, "See the per-image results"), "." + again));
    } else {
      step("scoring", "bad");
      barText.textContent = judged ? "The check failed." : "Scoring failed.";
      show("error", sentence((judged ? "The final check failed" : "Scoring failed") +
                             " (this does not count against your quota): " + (sub.error || "unknown error") + " ",
                             link(page, "Details")));
    }
    var next = result.querySelector("a");
    if (next) next.focus();  // the button that started it is disabled now: go on from here
    refreshQuota();
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
      barText.textContent = sub.status === "scoring"
        ? (judged ? "Checking on the server…" : "Scoring on the server…" + done)
        : "Waiting for a worker…";
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
    show("info", sentence("Submission #" + body.id + " accepted and queued. ", link(page, "Open it")));
    refreshQuota();
    poll(body.status_url || ("/api/submissions/" + body.id), page);
  }

  // A refusal that is not about the images: say what it is, without a failed "checking" step.
  var REFUSALS = {
    403: "Not allowed",
    409: "Not possible now",
    413: "Too large",
    429: "Submission limit reached",
    503: "The server is busy",
    507: "The server's disk is full"
  };

  function refused(status, text) {
    var why = explain(status, text);
    var again = " Choose the file again to retry.";
    if (status === 400 || status === 422) {
      step("check", "bad");
      show("error", "Not accepted (nothing was stored; your quota is unchanged): " + end(why.message) +
                    " Fix the problems below, then choose the corrected file.", why.problems);
    } else {
      steps.hidden = true;
      var label = REFUSALS[status] || ("Refused (" + status + ")");
      var retry = xhr.getResponseHeader("Retry-After");
      var wait = retry && status >= 500 ? " Try again in " + retry + " s." : "";
      var stored = /nothing was stored/i.test(why.message) ? "" : " Nothing was stored.";
      show("error", label + " (HTTP " + status + "): " + end(why.message) + wait + stored +
                    (status === 429 || status === 403 ? "" : again), why.problems);
    }
    forget("");
    input.focus();
    refreshQuota();
  }

  // The factsheet's fields (when the phase asks for one in the form): checked by the browser
  // first, then sent as multipart fields factsheet.<name> before the file; the server checks
  // them again and names each wrong field.
  function factsheetFields() {
    return Array.prototype.slice.call(root.querySelectorAll("[name^='factsheet.']"));
  }

  function upload() {
    if (!file || busy) return;
    var invalid = factsheetFields().filter(function (el) { return !el.checkValidity(); });
    if (invalid.length) { invalid[0].reportValidity(); return; }
    var sending = file;
    busy = true;
    send.disabled = true;
    input.disabled = true;
    cancel.hidden = false;
    area.hidden = false;
    steps.hidden = false;
    result.hidden = true;
    bar.classList.remove("done");
    step("upload");
    setProgress(0, "Starting upload…");
    var form = new FormData();
    form.append("phase", root.dataset.phase);
    factsheetFields().forEach(function (el) {
      if (el.value.trim() !== "") form.append(el.name, el.value);
    });
    form.append("file", sending, sending.name);
    xhr = new XMLHttpRequest();
    xhr.open("POST", root.dataset.uploadUrl);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      setProgress(e.loaded / e.total, size(e.loaded) + " of " + size(e.total) + " uploaded");
    };
    xhr.upload.onload = function () {
      setProgress(1, "Uploaded; checking every image…");
      step("check");
    };
    xhr.onload = function () {
      cancel.hidden = true;
      if (xhr.status === 202 || xhr.status === 200) {
        forget("Sent: " + sending.name + ". To submit again, choose a file.");
        accepted(xhr.responseText);
        return;
      }
      refused(xhr.status, xhr.responseText);
    };
    xhr.onerror = function () {
      cancel.hidden = true;
      step("upload", "bad");
      show("error", "The upload was interrupted (network error). It may or may not have arrived: " +
                    "look at your team's recent submissions before choosing the file again.");
      forget("");
    };
    xhr.onabort = function () {
      cancel.hidden = true;
      step("upload", "bad");
      show("info", "Upload cancelled. Nothing was stored. Choose the file again to send it.");
      forget("");
    };
    xhr.send(form);
  }

  input.addEventListener("change", function () { choose(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); if (!busy) zone.classList.add("over"); });
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
