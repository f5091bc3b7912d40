/* Draws the dashboard's chart (cumulative target against cumulative bottom-up, or for a
   ratio metric the monthly target level against the implied level) from the
   JSON the page embeds in <script type="application/json" id="chart-data">. The tables
   carry every figure; without JavaScript the page loses only the chart. Amounts arrive as
   exact decimal strings and become numbers here only to place points on the canvas. */
(function () {
  "use strict";
  var blob = document.getElementById("chart-data");
  var canvas = document.getElementById("chart");
  if (!blob || !canvas || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(blob.textContent);
  /* A level that cannot be computed arrives as null: a gap in the line, never a zero. */
  var number = function (text) { return text === null ? null : Number(text); };
  var digits = typeof data.decimals === "number" ? data.decimals : 0;
  var money = function (value) {
    return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits });
  };
  var chart = new window.Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [
        { label: data.target_label, data: data.target.map(number), borderColor: "#23395d",
          backgroundColor: "#23395d", borderDash: [6, 4], pointRadius: 0, tension: 0 },
        { label: data.bottom_up_label, data: data.bottom_up.map(number),
          borderColor: "#2e8540", backgroundColor: "#2e8540", pointRadius: 2, tension: 0 }
      ]
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: { y: { ticks: { callback: money },
                     title: { display: true, text: data.unit } } },
      plugins: { tooltip: { callbacks: { label: function (item) {
        return item.dataset.label + ": " + money(item.raw);
      } } } }
    }
  });
  canvas.setAttribute("data-drawn", String(chart.data.datasets.length));
}());
