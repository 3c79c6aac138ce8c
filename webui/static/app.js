// Progressive enhancement only: every page is complete without this file.
// Charts: hovering a bar shows its values in the caption; dragging across a chart zooms it to the
// selected days, double-click (or Escape) resets. SQL console: Ctrl+Enter runs the query.
"use strict";

(function () {
  function enhanceChart(svg) {
    var readout = svg.parentNode.querySelector(".readout");
    var initial = svg.getAttribute("viewBox");
    var parts = initial.split(" ").map(Number);
    var full = { x: parts[0], w: parts[2], h: parts[3] };
    var bars = Array.prototype.slice.call(svg.querySelectorAll("rect.bar"));
    var label = readout ? readout.textContent : "";
    var start = null;
    var band = null;

    function svgX(evt) {
      var pt = svg.createSVGPoint();
      pt.x = evt.clientX;
      pt.y = evt.clientY;
      return pt.matrixTransform(svg.getScreenCTM().inverse()).x;
    }

    bars.forEach(function (bar) {
      bar.addEventListener("mouseenter", function () {
        bar.classList.add("hover");
        if (readout) { readout.textContent = bar.getAttribute("data-tip"); }
      });
      bar.addEventListener("mouseleave", function () {
        bar.classList.remove("hover");
        if (readout) { readout.textContent = label; }
      });
    });

    svg.addEventListener("mousedown", function (evt) {
      start = svgX(evt);
      band = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      band.setAttribute("class", "selection");
      band.setAttribute("y", "0");
      band.setAttribute("height", String(full.h));
      band.setAttribute("x", String(start));
      band.setAttribute("width", "0");
      svg.appendChild(band);
      evt.preventDefault();
    });
    svg.addEventListener("mousemove", function (evt) {
      if (start === null || !band) { return; }
      var x = svgX(evt);
      band.setAttribute("x", String(Math.min(start, x)));
      band.setAttribute("width", String(Math.abs(x - start)));
    });
    function finish(evt) {
      if (start === null) { return; }
      var x = svgX(evt);
      var lo = Math.min(start, x);
      var width = Math.abs(x - start);
      if (band) { svg.removeChild(band); band = null; }
      start = null;
      if (width > 8) {
        svg.setAttribute("viewBox", lo + " 0 " + width + " " + full.h);
        svg.setAttribute("preserveAspectRatio", "none");
        var shown = bars.filter(function (b) {
          var bx = Number(b.getAttribute("x"));
          return bx >= lo && bx <= lo + width;
        });
        if (readout && shown.length) {
          label = "zoomed: " + shown[0].getAttribute("data-day") + " to " +
            shown[shown.length - 1].getAttribute("data-day") + " (double-click to reset)";
          readout.textContent = label;
        }
      }
    }
    svg.addEventListener("mouseup", finish);
    svg.addEventListener("mouseleave", function () { if (band) { svg.removeChild(band); band = null; } start = null; });
    function reset() {
      svg.setAttribute("viewBox", initial);
      svg.removeAttribute("preserveAspectRatio");
      label = svg.getAttribute("aria-label");
      if (readout) { readout.textContent = label; }
    }
    svg.addEventListener("dblclick", reset);
    document.addEventListener("keydown", function (evt) { if (evt.key === "Escape") { reset(); } });
    svg.setAttribute("data-enhanced", "1");
  }

  function enhanceConsole(form) {
    var area = form.querySelector("textarea");
    if (!area) { return; }
    area.addEventListener("keydown", function (evt) {
      if (evt.key === "Enter" && (evt.ctrlKey || evt.metaKey)) { form.submit(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("svg.chart[data-chart]"), enhanceChart);
    var form = document.getElementById("sql-form");
    if (form) { enhanceConsole(form); }
  });
})();
