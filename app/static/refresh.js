// A pending submission's page: poll its status and reload once it is scored or failed.
(function () {
  "use strict";
  var pending = document.getElementById("pending");
  if (!pending) return;
  var url = pending.dataset.statusUrl;
  function poll() {
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
  }
  setTimeout(poll, 2000);
})();
