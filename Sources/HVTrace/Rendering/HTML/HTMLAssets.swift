// The style sheet and the script every hvtrace HTML page carries inline (the page is one file:
// no network, no external scripts or fonts). The script draws the interactive flame graph from
// the JSON the page embeds, switches the histogram views, and marks the page ready
// (`<html data-views="ready">`) once everything is drawn.

enum HTMLAssets {
    static let style = #"""
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --panel: #ffffff; --back: #f3f5f9;
        --accent: #2f6fde; --warn: #b3261e; --ok: #1e7b3a; --p50: #1e7b3a; --p99: #c0392b; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--back); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
header { background: #1d2330; color: #fff; padding: 18px 28px 14px; }
header h1 { margin: 0; font-size: 21px; font-weight: 600; }
header .sub { color: #c5cbd6; margin-top: 3px; word-break: break-all; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 24px 40px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; margin: 16px 0;
          padding: 14px 18px 16px; }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 0; }
.hint { color: var(--muted); font-size: 12.5px; margin: -4px 0 10px; }
.banner { background: #fdecea; color: var(--warn); border: 1px solid #f3b8b3; border-radius: 8px;
          padding: 10px 16px; font-weight: 600; margin-top: 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; background: #fafbfd; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 19px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .d { color: var(--muted); font-size: 12px; }
.ok { color: var(--ok); font-weight: 600; }
.bad { color: var(--warn); font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: #f7f8fb; }
th:first-child, td:first-child, td.l, th.l { text-align: left; }
td.wrap { white-space: normal; text-align: left; }
.bar { display: inline-block; height: 9px; background: var(--accent); border-radius: 2px; vertical-align: middle; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 9px; font-size: 12px; font-weight: 600; }
.badge.regression { background: #fdecea; color: var(--warn); } .badge.improvement { background: #e6f4ea; color: var(--ok); }
.badge.unchanged { background: #eef0f4; color: var(--muted); } .badge.new, .badge.gone { background: #fff4e0; color: #8a5a00; }
.hists { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; }
.hist { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.hist .head { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; flex-wrap: wrap; }
.hist .stats { color: var(--muted); font-size: 12.5px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
.pair .side { font-size: 12px; color: var(--muted); margin: 4px 0 0; }
.toggle { display: inline-flex; border: 1px solid var(--line); border-radius: 5px; overflow: hidden; }
.toggle button { border: 0; background: #fff; padding: 2px 9px; font: inherit; font-size: 12px; cursor: pointer; color: var(--muted); }
.toggle button.on { background: var(--accent); color: #fff; }
.view-linear { display: none; }
.linear .view-linear { display: block; } .linear .view-log2 { display: none; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; }
.axis { fill: var(--muted); font-size: 10.5px; }
.mark50 { stroke: var(--p50); stroke-width: 1.5; stroke-dasharray: 4 3; } .mark99 { stroke: var(--p99); stroke-width: 1.5; stroke-dasharray: 4 3; }
.label50 { fill: var(--p50); font-size: 11px; font-weight: 600; } .label99 { fill: var(--p99); font-size: 11px; font-weight: 600; }
.timeline h3 { margin: 10px 0 2px; }
.flamebar { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
.flamebar input { font: inherit; padding: 3px 8px; border: 1px solid var(--line); border-radius: 5px; width: 320px; }
.flamebar button { font: inherit; font-size: 13px; padding: 3px 10px; border: 1px solid var(--line); border-radius: 5px; background: #fff; cursor: pointer; }
.flameinfo { font-size: 13px; color: var(--ink); min-height: 20px; margin: 4px 0 0; font-variant-numeric: tabular-nums; }
.flame rect { stroke: #fff; stroke-width: .6; cursor: pointer; }
.flame text { font-size: 11px; pointer-events: none; fill: #1d1d1d; }
.flame .dim rect { opacity: .55; }
.flame .match rect { fill: #c94bd6 !important; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin: 20px 0; }
"""#

    static let script = #"""
(function () {
  "use strict";
  function fmt(ticks, hz) {
    var ns = ticks * 1e9 / hz;
    if (ns < 1e3) return Math.round(ns) + " ns";
    if (ns < 1e6) return (ns / 1e3).toFixed(2) + " \u00b5s";
    if (ns < 1e9) return (ns / 1e6).toFixed(2) + " ms";
    return (ns / 1e9).toFixed(2) + " s";
  }
  function pct(part, whole) { return whole > 0 ? (part * 100 / whole).toFixed(2) + " %" : "-"; }
  function hashColor(name) {
    var h = 2166136261;
    for (var i = 0; i < name.length; i++) { h ^= name.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    var a = (h & 255) / 255, b = ((h >> 8) & 255) / 255, c = ((h >> 16) & 255) / 255;
    return "rgb(" + (205 + Math.round(50 * a)) + "," + Math.round(80 + 150 * b) + "," + Math.round(55 * c) + ")";
  }
  function diffColor(base, cand) {
    var larger = Math.max(base, cand);
    if (larger <= 0) return "rgb(210,210,210)";
    var ratio = (cand - base) / larger, s = Math.min(1, Math.abs(ratio) * 2);
    var fade = Math.round(210 - 170 * s), strong = Math.round(210 + 30 * s);
    return ratio >= 0 ? "rgb(" + strong + "," + fade + "," + fade + ")" : "rgb(" + fade + "," + fade + "," + strong + ")";
  }
  var NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function FlameGraph(box) {
    var data = JSON.parse(document.getElementById(box.getAttribute("data-source")).textContent);
    var hz = data.clockHz || 1e9, diff = !!data.diff, root = data.root;
    var W = 1180, H = 18, svg = box.querySelector("svg.flame"), info = box.querySelector(".flameinfo");
    var search = box.querySelector("input"), reset = box.querySelector("button.reset");
    var widthToggle = box.querySelector("button.width");
    var zoom = root, widthBy = "v", pattern = null, maxDepth = 0;
    (function annotate(node, parent, depth) {
      node.p = parent; node.d = depth; if (depth > maxDepth) maxDepth = depth;
      (node.c || []).forEach(function (child) { annotate(child, node, depth + 1); });
    })(root, null, 0);
    function value(node) { return widthBy === "b" ? (node.b || 0) : node.v; }
    function describe(node) {
      var text = node.n + " \u2014 total " + fmt(node.v, hz) + " (" + pct(node.v, root.v) + " of all";
      if (zoom !== root) text += ", " + pct(node.v, zoom.v) + " of " + zoom.n;
      text += "), self " + fmt(node.s, hz);
      if (diff) {
        var delta = node.v - (node.b || 0);
        text += "; base " + fmt(node.b || 0, hz) + ", change " + (delta >= 0 ? "+" : "\u2212") + fmt(Math.abs(delta), hz) +
          (node.b ? " (" + (delta >= 0 ? "+" : "") + (delta * 100 / node.b).toFixed(1) + " %)" : " (new)");
      }
      return text;
    }
    function matches(node) { return pattern !== null && pattern.test(node.n); }
    function render() {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      var height = (maxDepth + 1) * H + 2;
      svg.setAttribute("viewBox", "0 0 " + W + " " + height);
      svg.setAttribute("height", height);
      var frames = 0;
      function frame(node, x, width, dim) {
        var y = height - (node.d + 1) * H;
        var g = el("g", { "data-name": node.n }, svg);
        if (dim) g.setAttribute("class", "dim");
        if (matches(node)) g.setAttribute("class", (dim ? "dim " : "") + "match");
        var fill = diff ? diffColor(node.b || 0, node.v) : hashColor(node.n);
        el("rect", { x: x.toFixed(2), y: y, width: Math.max(0.5, width).toFixed(2), height: H - 1, rx: 2, fill: fill }, g);
        var chars = Math.floor((width - 6) / 6.5);
        if (chars >= 3) {
          var t = el("text", { x: (x + 3).toFixed(2), y: y + H - 5 }, g);
          t.textContent = node.n.length <= chars ? node.n : node.n.slice(0, chars - 2) + "..";
        }
        g.addEventListener("mouseenter", function () { info.textContent = describe(node); });
        g.addEventListener("click", function () { zoom = node; render(); info.textContent = describe(node); });
        frames++;
      }
      for (var a = zoom.p; a; a = a.p) frame(a, 0, W, true);
      var total = value(zoom);
      (function draw(node, x) {
        var width = total > 0 ? value(node) * W / total : 0;
        if (width < 0.3) return;
        frame(node, x, width, false);
        var cx = x;
        (node.c || []).forEach(function (child) { draw(child, cx); cx += total > 0 ? value(child) * W / total : 0; });
      })(zoom, 0);
      box.setAttribute("data-frames", frames);
      box.setAttribute("data-zoom", zoom.n);
      if (pattern !== null) {
        var matched = 0;
        (function sum(node) { if (matches(node)) { matched += node.v; return; } (node.c || []).forEach(sum); })(root);
        box.setAttribute("data-matched", matched);
        info.textContent = "matched " + fmt(matched, hz) + " (" + pct(matched, root.v) + " of all hypervisor time)";
      }
    }
    search.addEventListener("input", function () {
      var text = search.value.trim();
      if (!text) { pattern = null; box.removeAttribute("data-matched"); render(); info.textContent = ""; return; }
      try { pattern = new RegExp(text, "i"); } catch (e) { pattern = new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i"); }
      render();
    });
    reset.addEventListener("click", function () { zoom = root; render(); info.textContent = describe(root); });
    if (widthToggle) widthToggle.addEventListener("click", function () {
      widthBy = widthBy === "v" ? "b" : "v";
      widthToggle.textContent = widthBy === "v" ? "widths: candidate" : "widths: base";
      render();
    });
    render();
    info.textContent = root.v > 0 ? describe(root) + " \u2014 click a frame to zoom, type to search" : "no paired exits: nothing to draw";
  }

  function ready() {
    document.querySelectorAll(".toggle").forEach(function (toggle) {
      var target = document.getElementById(toggle.getAttribute("data-for"));
      toggle.querySelectorAll("button").forEach(function (button) {
        button.addEventListener("click", function () {
          toggle.querySelectorAll("button").forEach(function (b) { b.classList.toggle("on", b === button); });
          target.classList.toggle("linear", button.getAttribute("data-view") === "linear");
        });
      });
    });
    document.querySelectorAll(".flamebox").forEach(function (box) { FlameGraph(box); });
    document.documentElement.setAttribute("data-views", "ready");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready); else ready();
})();
"""#
}
