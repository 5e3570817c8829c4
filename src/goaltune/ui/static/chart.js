// A small line chart drawn as SVG: goaltune's dashboard ships it so the pages work offline.
// draw(element, series, options): series = [{label, points: [[x, y], ...], color, dashed}].
(function () {
  "use strict";
  var COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function ticks(low, high, count) {
    if (high === low) { high = low + 1; }
    var step = Math.pow(10, Math.floor(Math.log10((high - low) / count)));
    var err = (high - low) / count / step;
    step *= err >= 5 ? 10 : err >= 2 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) out.push(+t.toPrecision(12));
    return out;
  }

  function label(value) {
    var abs = Math.abs(value);
    if (abs >= 1e6) return (value / 1e6).toPrecision(3) + "M";
    if (abs >= 1e4) return (value / 1e3).toPrecision(3) + "k";
    return String(+value.toPrecision(4));
  }

  function draw(target, series, options) {
    options = options || {};
    var width = target.clientWidth || 800, height = options.height || 320;
    var pad = {left: 56, right: 16, top: 12, bottom: 40};
    var all = [];
    series.forEach(function (s) { s.points.forEach(function (p) { if (isFinite(p[0]) && isFinite(p[1])) all.push(p); }); });
    target.innerHTML = "";
    var svg = el("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height, class: "chart-svg", role: "img"});
    target.appendChild(svg);
    if (!all.length) {
      svg.appendChild(el("text", {x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty"}, options.empty || "no points yet"));
      return svg;
    }
    var xs = all.map(function (p) { return p[0]; }), ys = all.map(function (p) { return p[1]; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (x1 === x0) x1 = x0 + 1;
    var margin = (y1 - y0) * 0.05 || 0.5; y0 -= margin; y1 += margin;
    var sx = function (x) { return pad.left + (x - x0) / (x1 - x0) * (width - pad.left - pad.right); };
    var sy = function (y) { return height - pad.bottom - (y - y0) / (y1 - y0) * (height - pad.top - pad.bottom); };
    ticks(y0, y1, 5).forEach(function (t) {
      svg.appendChild(el("line", {x1: pad.left, x2: width - pad.right, y1: sy(t), y2: sy(t), class: "grid"}));
      svg.appendChild(el("text", {x: pad.left - 6, y: sy(t) + 4, "text-anchor": "end", class: "tick"}, label(t)));
    });
    ticks(x0, x1, 8).forEach(function (t) {
      svg.appendChild(el("text", {x: sx(t), y: height - pad.bottom + 16, "text-anchor": "middle", class: "tick"}, label(t)));
    });
    svg.appendChild(el("text", {x: (width + pad.left) / 2, y: height - 6, "text-anchor": "middle", class: "axis"}, options.xLabel || ""));
    svg.appendChild(el("text", {x: 12, y: pad.top + (height - pad.top - pad.bottom) / 2, "text-anchor": "middle", class: "axis",
      transform: "rotate(-90 12 " + (pad.top + (height - pad.top - pad.bottom) / 2) + ")"}, options.yLabel || ""));
    var legend = document.createElement("div");
    legend.className = "legend";
    series.forEach(function (s, i) {
      var points = s.points.filter(function (p) { return isFinite(p[0]) && isFinite(p[1]); });
      var color = s.color || COLORS[i % COLORS.length];
      var d = points.map(function (p, j) { return (j ? "L" : "M") + sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1); }).join("");
      var path = el("path", {d: d || "M0,0", class: "series", stroke: color, fill: "none", "stroke-width": 2,
        "data-label": s.label, "data-points": points.length});
      if (s.dashed) path.setAttribute("stroke-dasharray", "6 4");
      svg.appendChild(path);
      if (points.length <= 25) {  // few points (goal evaluations, validation): mark each one
        points.forEach(function (p) { svg.appendChild(el("circle", {cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: color})); });
      }
      var key = document.createElement("span");
      key.innerHTML = '<i style="border-color:' + color + (s.dashed ? ';border-top-style:dashed' : '') + '"></i>';
      key.appendChild(document.createTextNode(s.label + " (" + points.length + ")"));
      legend.appendChild(key);
    });
    target.appendChild(legend);
    return svg;
  }

  // Loss series of one run's curve rows (`x`: "step" or "tokens_seen").
  function lossSeries(rows, x, label, withVal) {
    var pick = function (column) {
      return rows.filter(function (r) { return r[x] !== null && r[column] !== null; }).map(function (r) { return [r[x], r[column]]; });
    };
    var out = [{label: (label ? label + " " : "") + "train", points: pick("train_loss")}];
    var val = pick("val_loss");
    if (withVal && val.length) out.push({label: (label ? label + " " : "") + "validation", points: val, dashed: true});
    return out;
  }

  window.GoaltuneChart = {draw: draw, lossSeries: lossSeries, COLORS: COLORS};
})();
