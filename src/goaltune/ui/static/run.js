// The run page: draws the loss curve and polls the run's JSON while it trains (no reload).
(function () {
  "use strict";
  var target = document.getElementById("loss-chart");
  var status = document.getElementById("status");
  var POLL_MS = 1500;

  function show(data) {
    var series = GoaltuneChart.lossSeries(data.rows, "step", "", true);
    series[0].color = GoaltuneChart.COLORS[0];
    if (series[1]) series[1].color = GoaltuneChart.COLORS[1];
    GoaltuneChart.draw(target, series, {xLabel: "step", yLabel: "loss", empty: "no loss logged yet", height: 260});
    target.dataset.points = data.rows.length;
    var goal = document.getElementById("goal-block");
    if (data.goal && data.goal.length) {
      goal.hidden = false;
      data.goal.forEach(function (s) { s.dashed = s.role === "guard"; });
      GoaltuneChart.draw(document.getElementById("goal-chart"), data.goal, {xLabel: "step", yLabel: "score (%)", height: 240});
    }
    if (status && data.status_text) status.textContent = data.status_text;
  }

  function poll() {
    fetch(target.dataset.src, {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (data) {
      show(data);
      if (data.status === "running") setTimeout(poll, POLL_MS);
    }).catch(function () { setTimeout(poll, POLL_MS * 4); });
  }

  if (target) poll();

  var table = document.getElementById("item-table");
  if (!table) return;
  var change = "", section = document.getElementById("item-section");
  function filter() {
    table.querySelectorAll("tbody tr").forEach(function (row) {
      var ok = (!change || row.dataset.change === change) && (!section.value || row.dataset.section === section.value);
      row.hidden = !ok;
    });
  }
  document.querySelectorAll("#item-filters button").forEach(function (button) {
    button.addEventListener("click", function () {
      change = button.dataset.change;
      document.querySelectorAll("#item-filters button").forEach(function (b) { b.classList.toggle("on", b === button); });
      filter();
    });
  });
  section.addEventListener("change", filter);
})();
