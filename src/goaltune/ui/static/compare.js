// The compare page: every selected run's loss curve on one chart, by step or by tokens seen.
(function () {
  "use strict";
  var target = document.getElementById("compare-chart");
  var runs = [];

  function redraw() {
    var x = document.querySelector("input[name=x-axis]:checked").value;
    var withVal = document.getElementById("show-val").checked;
    var series = [];
    runs.forEach(function (run, i) {
      GoaltuneChart.lossSeries(run.rows, x, run.label, withVal).forEach(function (s) {
        s.color = GoaltuneChart.COLORS[i % GoaltuneChart.COLORS.length];
        series.push(s);
      });
    });
    GoaltuneChart.draw(target, series, {xLabel: x === "step" ? "step" : "tokens seen", yLabel: "loss"});
  }

  fetch(target.dataset.src, {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (data) {
    runs = data.runs;
    redraw();
  });
  document.querySelectorAll("input[name=x-axis], #show-val").forEach(function (input) {
    input.addEventListener("change", redraw);
  });
})();
