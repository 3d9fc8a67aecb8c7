// Sortable tables: click a <th data-sort="num|text"> of a table.sortable to sort by that column.
(function () {
  "use strict";
  function key(cell, kind) {
    if (kind === "num") {
      var v = parseFloat(cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent);
      return isNaN(v) ? -Infinity : v;
    }
    return cell.textContent.trim().toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("th[data-sort]");
    heads.forEach(function (th, index) {
      th.tabIndex = 0;
      function sort() {
        var body = table.tBodies[0];
        var kind = th.dataset.sort;
        var asc = !th.classList.contains("sorted-asc");
        var col = Array.prototype.indexOf.call(th.parentNode.children, th);
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col], kind), y = key(b.cells[col], kind);
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
        heads.forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  });
})();
