// The judging viewer: synchronized zoom/pan over the input and every result, flicking against the
// input, and per protocol: keyboard scoring (rating), picking the best k of each image (best-k),
// or choosing the better of two results (pairwise, the next pair given by the server). Every
// score, pick or choice is POSTed at once (kept in localStorage and re-sent until the server has
// it); the judges' guide, and a finished state once everything is judged.
(function () {
  "use strict";
  const body = document.body;
  const mode = body.dataset.mode;            // "rate" (judges) or "inspect" (organisers)
  const source = body.dataset.source;        // where the trials come from
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const views = document.getElementById("views");
  const PENDING_KEY = "raim-judge-pending:" + source;
  const ZOOM_STEP = 1.25, MIN_SCALE = 0.02, MAX_SCALE = 64;
  const BRIEF_KEY = "raim-judge-brief-hidden";
  // What each criterion asks and what its ends mean, from the page (#criteria-guide).
  const GUIDE = {};
  document.querySelectorAll("#criteria-guide > div").forEach((d) => {
    GUIDE[d.dataset.name] = {title: d.dataset.title, low: d.dataset.low, high: d.dataset.high,
                             question: d.dataset.question};
  });

  let trials = [];
  let index = 0;
  let selected = 0;        // index into the panels of results (not the input)
  let flicked = false;     // the selected result currently shows the input instead
  let view = null;         // {scale, x, y}, shared by every viewport
  let natural = null;      // {w, h} of the current trial's images
  let finishedShown = false;
  let fitted = false;      // the view is as fit() left it (a window resize fits again)
  let total = 0;           // what the server counts to judge (pairwise: the pairs asked)
  const ENDPOINTS = {"rating": "/api/judge/ratings", "best-k": "/api/judge/picks",
                     "pairwise": "/api/judge/comparisons"};

  // --- saving -------------------------------------------------------------------------
  function pending() {
    try { return JSON.parse(localStorage.getItem(PENDING_KEY) || "[]"); } catch (e) { return []; }
  }
  function setPending(list) { localStorage.setItem(PENDING_KEY, JSON.stringify(list)); }
  function showSave(text, kind) {
    const el = document.getElementById("savestate");
    el.textContent = text; el.className = "jsave " + (kind || "");
    body.dataset.saved = kind === "saved" ? "true" : "false";
  }
  async function post(item) {
    // items queued before protocols existed are ratings: {trial_id, scores, criteria}
    const response = await fetch(item.url || ENDPOINTS.rating, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(item.body || item)});
    if (response.status >= 400 && response.status < 500) {
      const problem = await response.json().catch(() => ({}));
      return {dropped: true, detail: problem.detail || ("HTTP " + response.status)};
    }
    if (!response.ok) { throw new Error("HTTP " + response.status); }
    return response.json();
  }
  let flushing = false;
  async function flush() {
    if (flushing) { return; }
    flushing = true;
    try {
      let queue = pending();
      while (queue.length) {
        let answer;
        try { answer = await post(queue[0]); } catch (e) {
          showSave("offline: " + queue.length + " unsaved, retrying", "pending"); return;
        }
        queue = pending(); queue.shift(); setPending(queue);
        if (answer.dropped) { showSave("not saved: " + answer.detail, "pending"); continue; }
        if (answer.next) { arrived(answer.next); }
        setProgress(answer.progress);
      }
      showSave("all saved", "saved");
    } finally { flushing = false; }
  }
  function save(trial, candidate) {
    // the overall score, with any criteria already chosen for this result
    const item = {trial_id: trial.trial_id, scores: {[candidate.label]: candidate.score}};
    const chosen = Object.entries(candidate.criteria || {}).filter(([, v]) => v !== null && v !== undefined);
    if (chosen.length) { item.criteria = {[candidate.label]: Object.fromEntries(chosen)}; }
    queue(ENDPOINTS.rating, item);
  }
  function saveCriterion(trial, candidate, name, value) {
    queue(ENDPOINTS.rating, {trial_id: trial.trial_id, scores: {[candidate.label]: candidate.score},
                             criteria: {[candidate.label]: {[name]: value}}});
  }
  function queue(url, body) {
    const list = pending();
    list.push({url: url, body: body});
    setPending(list);
    showSave("saving…", "pending");
    flush();
  }
  setInterval(flush, 3000);
  window.addEventListener("online", flush);

  // --- progress -----------------------------------------------------------------------
  function setProgress(p) {
    if (!p) { return; }
    const done = p.total > 0 && p.rated >= p.total;
    document.getElementById("progress").textContent = p.rated + " / " + p.total + " rated" + (done ? " \u2713" : "");
    body.dataset.rated = p.rated;
    body.dataset.finished = done ? "true" : "false";
    if (done && mode === "rate" && !finishedShown) { showFinished(p.total); }
  }
  function showFinished(total) {
    const box = document.getElementById("finished");
    if (!box) { return; }
    finishedShown = true;
    document.getElementById("finished-count").textContent =
      (trials.some((t) => t.protocol === "pairwise")
        ? "You have compared all " + total + " pair" + (total === 1 ? "" : "s") + "."
        : "You have rated all " + total + " image" + (total === 1 ? "" : "s") + ".");
    box.hidden = false;
    box.querySelector("button").focus();
  }
  function hideFinished() {
    const box = document.getElementById("finished");
    if (box) { box.hidden = true; }
  }
  function localProgress() {
    setProgress({rated: trials.filter((t) => t.rated).length, total: Math.max(total, trials.length)});
  }

  // --- viewer -------------------------------------------------------------------------
  function apply() {
    if (!view) { return; }
    const t = "translate(" + view.x + "px," + view.y + "px) scale(" + view.scale + ")";
    views.querySelectorAll(".viewport img").forEach((img) => { img.style.transform = t; });
    views.querySelectorAll(".viewport").forEach((vp) => vp.classList.toggle("pixelated", view.scale >= 2));
    body.dataset.scale = view.scale.toFixed(4);
  }
  function smallestViewport() {
    // every view shows the same window onto the image: fit the smallest one
    let best = null;
    views.querySelectorAll(".viewport").forEach((vp) => {
      if (!best || vp.clientWidth * vp.clientHeight < best.clientWidth * best.clientHeight) { best = vp; }
    });
    return best;
  }
  function fit() {
    const vp = smallestViewport();
    if (!vp || !natural) { return; }
    const scale = Math.min(vp.clientWidth / natural.w, vp.clientHeight / natural.h);
    view = {scale: scale, x: (vp.clientWidth - natural.w * scale) / 2,
            y: (vp.clientHeight - natural.h * scale) / 2};
    fitted = true;
    apply();
  }
  function zoomAt(factor, cx, cy) {
    if (!view) { return; }
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
    const k = scale / view.scale;
    view = {scale: scale, x: cx - (cx - view.x) * k, y: cy - (cy - view.y) * k};
    fitted = false;
    apply();
  }
  function zoomCentre(factor) {
    const vp = smallestViewport();
    if (vp) { zoomAt(factor, vp.clientWidth / 2, vp.clientHeight / 2); }
  }
  function actualPixels() {
    // one image pixel on one device pixel
    zoomCentre((1 / (window.devicePixelRatio || 1)) / view.scale);
  }
  function attach(vp) {
    vp.addEventListener("wheel", (event) => {
      event.preventDefault();
      const r = vp.getBoundingClientRect();
      zoomAt(event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP, event.clientX - r.left, event.clientY - r.top);
    }, {passive: false});
    vp.addEventListener("pointerdown", (event) => {
      if (!view) { return; }
      vp.setPointerCapture(event.pointerId);
      let lastX = event.clientX, lastY = event.clientY;
      const move = (e) => {
        view.x += e.clientX - lastX; view.y += e.clientY - lastY;
        lastX = e.clientX; lastY = e.clientY; fitted = false; apply();
      };
      const up = () => { vp.removeEventListener("pointermove", move); vp.removeEventListener("pointerup", up); };
      vp.addEventListener("pointermove", move);
      vp.addEventListener("pointerup", up);
    });
  }

  // --- one trial ----------------------------------------------------------------------
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function panel(label, url, candidate) {
    const box = el("section", {"class": "panel", "data-label": label});
    box.appendChild(el("div", {"class": "plabel"}, label));
    const vp = el("div", {"class": "viewport"});
    const img = el("img", {"alt": label, "draggable": "false", "src": url});
    vp.appendChild(img);
    box.appendChild(vp);
    attach(vp);
    if (candidate) { box.addEventListener("click", () => select(candidatePanels().indexOf(box))); }
    return box;
  }
  function candidatePanels() { return Array.from(views.querySelectorAll(".panel.candidate")); }
  function scoreButtons(trial, candidate, box) {
    const [low, high] = trial.scale;
    const row = el("div", {"class": "scores"});
    for (let v = low; v <= high; v += 1) {
      const b = el("button", {"type": "button", "data-score": String(v)}, String(v));
      b.addEventListener("click", (event) => { event.stopPropagation(); give(candidate, box, v); });
      row.appendChild(b);
    }
    box.appendChild(row);
    if (trial.criteria.length) {
      const grid = el("div", {"class": "criteria"});
      grid.addEventListener("click", (event) => event.stopPropagation());
      trial.criteria.forEach((name) => {
        const info = GUIDE[name] || {title: name, low: "worst", high: "best", question: ""};
        const id = "criterion-" + candidate.label + "-" + name;
        const cell = el("div", {"class": "criterion"});
        cell.appendChild(el("label", {"for": id, "title": info.question}, info.title));
        const choice = el("select", {"id": id, "data-criterion": name,
                                     "aria-label": candidate.label + ": " + info.title + " (" + low + " " + info.low + ", " + high + " " + info.high + ")"});
        choice.appendChild(el("option", {"value": ""}, "—"));
        for (let v = low; v <= high; v += 1) {
          const text = v === low ? v + " · " + info.low : v === high ? v + " · " + info.high : String(v);
          choice.appendChild(el("option", {"value": String(v)}, text));
        }
        const given = (candidate.criteria || {})[name];
        if (given !== undefined && given !== null) { choice.value = String(given); }
        choice.addEventListener("change", () => {
          const value = choice.value === "" ? null : Number(choice.value);
          candidate.criteria = Object.assign({}, candidate.criteria, {[name]: value});
          if (value === null) { return; }
          if (candidate.score === null || candidate.score === undefined) {
            mark(candidate, box);  // kept here; sent with the overall score
            return;
          }
          saveCriterion(trial, candidate, name, value);
        });
        cell.appendChild(choice);
        grid.appendChild(cell);
      });
      box.appendChild(grid);
      box.appendChild(el("div", {"class": "chint"}, ""));
    }
    mark(candidate, box);
  }
  // --- best-k: pick exactly k results of each image ------------------------------------
  function pickButton(trial, candidate, box) {
    const row = el("div", {"class": "picks"});
    const b = el("button", {"type": "button", "class": "pick", "aria-pressed": "false"}, "Pick");
    b.addEventListener("click", (event) => { event.stopPropagation(); togglePick(candidate.label); });
    row.appendChild(b);
    box.appendChild(row);
  }
  function markPicks(trial) {
    const picked = trial.picked || [];
    candidatePanels().forEach((box) => {
      const on = picked.includes(box.dataset.label);
      box.classList.toggle("picked", on);
      box.dataset.picked = on ? "true" : "false";
      const b = box.querySelector("button.pick");
      if (b) { b.classList.toggle("on", on); b.setAttribute("aria-pressed", on ? "true" : "false"); b.textContent = on ? "Picked" : "Pick"; }
    });
    const status = document.getElementById("pickstate");
    if (status) {
      status.textContent = picked.length + " of " + trial.k + " picked" +
        (picked.length === trial.k ? " \u2713" : "");
    }
    body.dataset.picked = picked.slice().sort().join(",");
  }
  function togglePick(label) {
    const trial = trials[index];
    if (!trial || trial.protocol !== "best-k") { return; }
    let picked = (trial.picked || []).slice();
    if (picked.includes(label)) {
      picked = picked.filter((x) => x !== label);
    } else if (picked.length >= trial.k) {
      showSave(trial.k + " already picked: unpick one first", "pending");
      return;
    } else {
      picked.push(label);
    }
    trial.picked = picked.sort();
    trial.rated = picked.length === trial.k;
    markPicks(trial);
    localProgress();
    queue(ENDPOINTS["best-k"], {trial_id: trial.trial_id, picked: trial.picked});
  }

  // --- pairwise: the better of two results ------------------------------------------------
  function choiceBar(trial) {
    const bar = el("div", {"class": "choices", "role": "group", "aria-label": "Which result is better?"});
    const options = [["left", "A (left) is better", "1"], ["tie", "About the same", "3"], ["right", "B (right) is better", "2"]];
    options.forEach(([value, text, key]) => {
      if (value === "tie" && !trial.ties) { return; }
      const b = el("button", {"type": "button", "data-choice": value, "title": "key " + key}, text + " (" + key + ")");
      b.addEventListener("click", () => { choose(value); b.blur(); });
      bar.appendChild(b);
    });
    return bar;
  }
  function markChoice(trial) {
    document.querySelectorAll(".choices button").forEach((b) => b.classList.toggle("on", b.dataset.choice === trial.choice));
    body.dataset.choice = trial.choice || "";
  }
  function choose(value) {
    const trial = trials[index];
    if (!trial || trial.protocol !== "pairwise" || (value === "tie" && !trial.ties)) { return; }
    trial.choice = value;
    trial.rated = true;
    markChoice(trial);
    localProgress();
    queue(ENDPOINTS.pairwise, {trial_id: trial.trial_id, choice: value});
  }
  function arrived(next) {
    // the server's next pair: shown at once when the judge is on the pair just decided
    if (trials.some((t) => t.trial_id === next.trial_id)) { return; }
    trials.push(next);
    const current = trials[index];
    if (!current || current.rated) { show(trials.length - 1); }
  }

  function mark(candidate, box) {
    box.dataset.score = candidate.score === null || candidate.score === undefined ? "" : String(candidate.score);
    box.classList.toggle("rated", !!box.dataset.score);
    box.querySelectorAll(".scores button").forEach((b) => b.classList.toggle("on", b.dataset.score === box.dataset.score));
    const hint = box.querySelector(".chint");
    if (hint) {
      const waiting = !box.dataset.score && Object.values(candidate.criteria || {}).some((v) => v !== null && v !== undefined);
      hint.textContent = waiting ? "Criteria are saved with the overall score: give it with the buttons or keys 1\u20130." : "";
    }
  }
  function give(candidate, box, value) {
    const trial = trials[index];
    candidate.score = value;
    mark(candidate, box);
    trial.rated = trial.candidates.every((c) => c.score !== null && c.score !== undefined);
    localProgress();
    save(trial, candidate);
  }
  function select(i) {
    const panels = candidatePanels();
    if (!panels.length) { return; }
    if (flicked) { flick(); }
    selected = (i + panels.length) % panels.length;
    panels.forEach((p, k) => p.classList.toggle("selected", k === selected));
    body.dataset.selected = panels[selected].dataset.label;
  }
  function flick() {
    const panels = candidatePanels();
    const trial = trials[index];
    if (!panels.length || !trial) { return; }
    const box = panels[selected];
    const img = box.querySelector("img");
    flicked = !flicked;
    img.src = flicked ? trial.input_url : trial.candidates[selected].image_url;
    box.classList.toggle("flicked", flicked);
    box.querySelector(".plabel").textContent = flicked ? "input" : trial.candidates[selected].label;
    body.dataset.flicked = flicked ? "true" : "false";
    apply();
  }
  function show(i) {
    if (!trials.length) {
      views.innerHTML = "";
      views.appendChild(el("div", {"class": "jdone"}, mode === "rate"
        ? "Nothing to rate right now: no rating campaign is open for you. The organisers will tell you when one opens."
        : "This submission holds no images."));
      return;
    }
    index = Math.max(0, Math.min(trials.length - 1, i));
    flicked = false; body.dataset.flicked = "false";
    const trial = trials[index];
    views.innerHTML = "";
    // a pair sits side by side with its input; more results in a square-ish grid
    views.style.setProperty("--cols", String(trial.protocol === "pairwise" ? 3
      : Math.min(4, Math.ceil(Math.sqrt(trial.candidates.length + 1)))));
    const input = panel("input", trial.input_url, false);
    input.classList.add("input");
    views.appendChild(input);
    const protocol = trial.protocol || "rating";
    body.dataset.protocol = protocol;
    trial.candidates.forEach((candidate, k) => {
      const shown = protocol === "pairwise" ? candidate.label + (k === 0 ? " (left)" : " (right)") : candidate.label;
      const box = panel(candidate.label, candidate.image_url, true);
      box.querySelector(".plabel").textContent = shown;
      box.classList.add("candidate");
      if (mode === "rate" && protocol === "best-k") { pickButton(trial, candidate, box); }
      else if (mode === "rate" && protocol === "rating") { scoreButtons(trial, candidate, box); }
      views.appendChild(box);
    });
    const bar = document.getElementById("protocolbar");
    if (bar) {
      bar.innerHTML = "";
      bar.hidden = protocol === "rating";
      if (protocol === "best-k") {
        bar.appendChild(el("span", {}, "Pick the best " + trial.k + " results of this image."));
        bar.appendChild(el("span", {"id": "pickstate", "class": "pickstate", "aria-live": "polite"}));
        markPicks(trial);
      } else if (protocol === "pairwise") {
        bar.appendChild(el("span", {}, "Which result is the better restoration of the input?"));
        bar.appendChild(choiceBar(trial));
        markChoice(trial);
      }
    }
    document.getElementById("position").textContent = "Image " + (index + 1) + " of " + trials.length;
    body.dataset.trial = String(index);
    const first = views.querySelector(".viewport img");
    const ready = () => {
      const size = {w: first.naturalWidth, h: first.naturalHeight};
      const sameSize = natural && natural.w === size.w && natural.h === size.h;
      natural = size;
      // the same zoom and pan carry over to an image of the same size (to compare like with
      // like); another size starts fitted and centred
      if (!view || !sameSize) { fit(); } else { apply(); }
    };
    if (first.complete && first.naturalWidth) { ready(); } else { first.addEventListener("load", ready, {once: true}); }
    select(0);
  }

  // --- keyboard -----------------------------------------------------------------------
  function onKey(event) {
    if (event.target.tagName === "SELECT" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    const key = event.key;
    if (event.target.tagName === "BUTTON" && (key === "Enter" || key === " ")) { return; }
    const finished = document.getElementById("finished");
    if (finished && !finished.hidden) {
      if (key === "Escape") { hideFinished(); event.preventDefault(); }
      return;
    }
    const trial = trials[index];
    if (!trial) { return; }
    const protocol = trial.protocol || "rating";
    if (mode === "rate" && protocol === "best-k" && (key === "1" || (event.shiftKey && /^[A-Z]$/.test(key)))) {
      const label = key === "1" ? trial.candidates[selected].label : key;
      const at = trial.candidates.findIndex((c) => c.label === label);
      if (at >= 0) { select(at); togglePick(label); }
      event.preventDefault();
      return;
    }
    if (mode === "rate" && protocol === "pairwise" && ["1", "2", "3"].includes(key)) {
      choose({"1": "left", "2": "right", "3": "tie"}[key]);
      event.preventDefault();
      return;
    }
    if (/^[a-zA-Z]$/.test(key)) {
      const at = trial.candidates.findIndex((c) => c.label === key.toUpperCase());
      if (at >= 0) { select(at); event.preventDefault(); }
      return;
    }
    if (mode === "rate" && protocol === "rating" && /^[0-9]$/.test(key)) {
      const [low, high] = trial.scale;
      const value = key === "0" ? 10 : Number(key);
      if (value >= low && value <= high) {
        const box = candidatePanels()[selected];
        give(trial.candidates[selected], box, value);
        if (selected < trial.candidates.length - 1) { select(selected + 1); }
      }
      event.preventDefault();
      return;
    }
    const actions = {" ": flick, "ArrowRight": () => select(selected + 1), "ArrowLeft": () => select(selected - 1),
      "+": () => zoomCentre(ZOOM_STEP), "=": () => zoomCentre(ZOOM_STEP), "-": () => zoomCentre(1 / ZOOM_STEP),
      ".": actualPixels, ",": fit, "]": () => show(index + 1), "Enter": () => show(index + 1),
      "[": () => show(index - 1), "?": toggleHelp};
    if (actions[key]) { event.preventDefault(); actions[key](); }
  }
  function toggleHelp() { const h = document.getElementById("help"); h.hidden = !h.hidden; }
  function toggleBrief() {
    const brief = document.getElementById("brief");
    if (!brief) { return; }
    brief.hidden = !brief.hidden;
    try { localStorage.setItem(BRIEF_KEY, brief.hidden ? "1" : ""); } catch (e) { /* private mode */ }
    fit();
  }
  function review() { hideFinished(); show(0); }
  document.addEventListener("keydown", onKey);
  document.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", () => {
    const act = {prev: () => show(index - 1), next: () => show(index + 1), fit: fit, actual: actualPixels,
      zoomin: () => zoomCentre(ZOOM_STEP), zoomout: () => zoomCentre(1 / ZOOM_STEP), flick: flick,
      help: toggleHelp, brief: toggleBrief, review: review}[b.dataset.action];
    if (act) { act(); b.blur(); }
  }));
  const brief = document.getElementById("brief");
  if (brief && localStorage.getItem(BRIEF_KEY)) { brief.hidden = true; }
  window.addEventListener("resize", () => { if (fitted) { fit(); } else if (view) { apply(); } });

  // --- start --------------------------------------------------------------------------
  async function load() {
    const response = await fetch(source, {credentials: "same-origin", headers: {"Accept": "application/json"}});
    if (!response.ok) {
      views.appendChild(el("div", {"class": "jdone"}, "Could not load the images (HTTP " + response.status + ")."));
      return;
    }
    const data = await response.json();
    trials = data.trials;
    total = data.progress ? data.progress.total : trials.length;
    const protocols = new Set(trials.map((t) => t.protocol || "rating"));
    if (trials.length) {
      document.querySelectorAll("[data-brief]").forEach((n) => { n.hidden = !protocols.has(n.dataset.brief); });
    }
    const rated = trials.find((t) => (t.protocol || "rating") === "rating");
    if (rated) {
      document.querySelectorAll(".scale-low").forEach((n) => { n.textContent = String(rated.scale[0]); });
      document.querySelectorAll(".scale-high").forEach((n) => { n.textContent = String(rated.scale[1]); });
      const criteria = document.querySelector(".jbrief-criteria");
      if (criteria) { criteria.hidden = !rated.criteria.length; }
    }
    // scores given while offline win over what the server had
    pending().forEach((item) => {
      const given = item.body || item;
      const trial = trials.find((t) => t.trial_id === given.trial_id);
      if (!trial) { return; }
      if (given.picked) { trial.picked = given.picked; trial.rated = given.picked.length === trial.k; return; }
      if (given.choice) { trial.choice = given.choice; trial.rated = true; return; }
      Object.entries(given.scores || {}).forEach(([label, value]) => {
        const c = trial.candidates.find((x) => x.label === label);
        if (c) { c.score = value; }
      });
    });
    if (data.progress) { setProgress(data.progress); } else { localProgress(); }
    const next = trials.findIndex((t) => !t.rated);
    show(next >= 0 ? next : 0);
    body.dataset.ready = "true";
    if (mode === "rate") { flush(); }
  }
  load();
})();
