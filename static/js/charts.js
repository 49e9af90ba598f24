// Draws the dashboards' charts with Chart.js (static/vendor/chart.umd.min.js, from npm).
// Each <canvas data-chart="ID"> has its numbers in <script type="application/json" id="ID"> beside it: data,
// not code, so the content security policy (no inline script) allows it. The same numbers are in a table
// next to the chart, and the canvas has role="img" and an aria-label, so nothing depends on seeing it.
(function () {
  "use strict";

  if (window.coinsCharts) {
    // Loaded again by a boosted page change: draw the new page's charts with the library just loaded.
    window.coinsCharts.drawAll(document);
    return;
  }

  function colours(element) {
    var style = getComputedStyle(element);
    var list = [];
    for (var i = 1; i <= 6; i++) {
      var value = style.getPropertyValue("--chart-" + i).trim();
      if (value) list.push(value);
    }
    return list.length ? list : ["#8a5a00", "#1d4ed8", "#15803d", "#b91c1c", "#6d28d9", "#0f766e"];
  }

  function draw(canvas) {
    if (!window.Chart) return;
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) return;
    var spec;
    try {
      spec = JSON.parse(source.textContent);
    } catch (error) {
      return;
    }
    var existing = window.Chart.getChart(canvas);
    if (existing) existing.destroy();

    var style = getComputedStyle(canvas);
    var text = style.color;
    var grid = style.getPropertyValue("--chart-grid").trim() || "rgba(128,128,128,0.2)";
    var palette = colours(canvas);
    var doughnut = spec.type === "doughnut";
    var secondAxis = false;
    var many = spec.labels.length > 45;

    var datasets = spec.series.map(function (series, index) {
      var kind = series.kind || spec.type;
      var colour = palette[index % palette.length];
      var dataset = {
        label: series.label,
        data: series.values,
        backgroundColor: colour,
        borderColor: colour,
        borderWidth: kind === "line" ? 2 : 0,
        pointRadius: many ? 0 : 3,
        order: kind === "line" ? 0 : 1,
      };
      if (kind !== spec.type) dataset.type = kind;
      if (doughnut) {
        dataset.backgroundColor = spec.labels.map(function (_, i) { return palette[i % palette.length]; });
        dataset.borderColor = getComputedStyle(document.body).backgroundColor || "#fff";
        dataset.borderWidth = 2;
      } else if (!spec.horizontal) {
        dataset.yAxisID = series.axis === "y2" ? "y2" : "y";
        if (series.axis === "y2") secondAxis = true;
      }
      return dataset;
    });

    var suffix = spec.percent ? " %" : "";
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      indexAxis: spec.horizontal ? "y" : "x",
      plugins: {
        legend: { display: doughnut || datasets.length > 1, labels: { color: text } },
        tooltip: {
          callbacks: {
            label: function (item) {
              var value = item.raw === null ? "—" : Number(item.raw).toLocaleString() + suffix;
              return (item.dataset.label ? item.dataset.label + ": " : "") + value;
            },
          },
        },
      },
    };
    if (!doughnut) {
      var valueAxis = spec.horizontal ? "x" : "y";
      var categoryAxis = spec.horizontal ? "y" : "x";
      options.scales = {};
      options.scales[categoryAxis] = { ticks: { color: text, autoSkip: true, maxRotation: 0 }, grid: { display: false } };
      options.scales[valueAxis] = {
        beginAtZero: true,
        max: spec.percent ? 100 : undefined,
        stacked: !!spec.stacked,
        ticks: { color: text, precision: 0, callback: function (value) { return Number(value).toLocaleString() + suffix; } },
        grid: { color: grid },
      };
      if (secondAxis) {
        options.scales.y2 = {
          position: "right",
          beginAtZero: true,
          ticks: { color: text, precision: 0 },
          grid: { drawOnChartArea: false },
        };
      }
    }
    new window.Chart(canvas, { type: spec.type, data: { labels: spec.labels, datasets: datasets }, options: options });
  }

  function drawAll(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  window.coinsCharts = { drawAll: drawAll };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
  // Content swapped in by htmx, and a change of colour scheme (the colours come from CSS).
  document.addEventListener("htmx:load", function (event) { drawAll(event.detail.elt); });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () { drawAll(document); });
  }
})();
