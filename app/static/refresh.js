// Pages that follow live state. A pending submission's page polls its status and reloads once it
// is scored or failed. The queue page (#queue-live) re-reads itself every few seconds and swaps
// that region in place, leaving the rest (a new token shown once, a half-typed form) untouched.
(function () {
  "use strict";
  var pending = document.getElementById("pending");
  if (pending) {
    var url = pending.dataset.statusUrl;
    var poll = function () {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (sub) {
          if (sub && (sub.status === "scored" || sub.status === "failed")) { window.location.reload(); return; }
          if (sub) {
            var badge = document.getElementById("status");
            badge.textContent = sub.status; badge.className = "badge " + sub.status;
          }
          setTimeout(poll, 2000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    };
    setTimeout(poll, 2000);
  }

  var live = document.getElementById("queue-live");
  if (live) {
    var every = 1000 * (parseInt(live.dataset.refreshSeconds, 10) || 5);
    var refresh = function () {
      if (document.hidden) { setTimeout(refresh, every); return; }
      fetch(window.location.pathname, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html) {
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("queue-live");
            if (fresh) { live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes)); }
            live.dataset.refreshedAt = String(Date.now());
          }
          setTimeout(refresh, every);
        })
        .catch(function () { setTimeout(refresh, 2 * every); });
    };
    setTimeout(refresh, every);
  }
})();
