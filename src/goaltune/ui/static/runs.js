// The runs page: sort by a column, filter by text, model, verdict or status, pick runs to compare.
(function () {
  "use strict";
  var table = document.getElementById("runs");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var text = document.getElementById("filter-text");
  var selects = Array.prototype.slice.call(document.querySelectorAll(".filters select"));
  var button = document.getElementById("compare-button");
  var count = document.getElementById("row-count");

  document.querySelectorAll("td.started").forEach(function (cell) {
    cell.textContent = new Date(parseFloat(cell.dataset.epoch) * 1000).toLocaleString();
  });

  function filter() {
    var needle = text.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var ok = !needle || row.textContent.toLowerCase().indexOf(needle) >= 0;
      selects.forEach(function (select) {
        if (select.value && row.dataset[select.dataset.field] !== select.value) ok = false;
      });
      row.hidden = !ok;
      if (ok) shown += 1;
    });
    count.textContent = shown + " of " + rows.length + " runs";
  }

  function value(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
    if (!numeric) return raw.toLowerCase();
    var number = parseFloat(raw);
    return isNaN(number) ? null : number;
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
    var kind = header.dataset.sort;
    if (!kind) return;
    header.classList.add("sortable");
    header.addEventListener("click", function () {
      var down = header.dataset.dir === "asc";
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { delete h.dataset.dir; });
      header.dataset.dir = down ? "desc" : "asc";
      var numeric = kind === "num";
      rows.sort(function (a, b) {
        var x = value(a, index, numeric), y = value(b, index, numeric);
        if (x === y) return 0;
        if (x === null) return 1;  // unknown values last either way
        if (y === null) return -1;
        return (x < y ? -1 : 1) * (down ? -1 : 1);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });

  function picked() {
    return Array.prototype.slice.call(document.querySelectorAll("input.pick:checked")).map(function (b) { return b.value; });
  }
  document.querySelectorAll("input.pick").forEach(function (box) {
    box.addEventListener("change", function () { button.disabled = picked().length < 2; });
  });
  button.addEventListener("click", function () {
    window.location = "/compare?" + picked().map(function (id) { return "run=" + encodeURIComponent(id); }).join("&");
  });
  text.addEventListener("input", filter);
  selects.forEach(function (select) { select.addEventListener("change", filter); });
  filter();
})();
