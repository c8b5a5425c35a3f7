// Draws the dashboard's charts with the vendored Chart.js; the numbers come from the page itself
// (the "rv-dashboard-data" JSON block, the same roll-ups as the tables and the CSV exports).
(function () {
  "use strict";
  // Okabe-Ito: colours told apart with colour-blindness too.
  var palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

  function draw() {
    var source = document.getElementById("rv-dashboard-data");
    if (!source || typeof Chart === "undefined") { return; }
    var specs = JSON.parse(source.textContent);
    document.querySelectorAll(".rv-dash-card").forEach(function (card) {
      var spec = specs[card.dataset.metric];
      var canvas = card.querySelector("canvas");
      if (!spec || !canvas) { return; }
      var bar = spec.chart === "bar";
      var datasets = spec.datasets.map(function (d, i) {
        var colour = bar ? palette.slice(0, d.data.length) : palette[i % palette.length];
        return {
          label: d.label, data: d.data, borderColor: colour, backgroundColor: colour,
          spanGaps: true, tension: 0.2, pointRadius: 2
        };
      });
      new Chart(canvas, {
        type: bar ? "bar" : "line",
        data: { labels: spec.labels, datasets: datasets },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          indexAxis: bar && spec.labels.length > 6 ? "y" : "x",
          plugins: { legend: { display: !bar && datasets.length > 1 } },
          scales: bar && spec.labels.length > 6
            ? { x: { beginAtZero: true, title: { display: !!spec.unit, text: spec.unit } } }
            : { y: { beginAtZero: true, title: { display: !!spec.unit, text: spec.unit } } }
        }
      });
      card.dataset.drawn = "true";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
}());
