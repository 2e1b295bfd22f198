// Shared by the book's in-browser explorers (conv_explorer.js, digit_pad.js):
// the window.cnnTutorial namespace, colour ramps from the library's colour
// maps, and mounting each widget once the page is parsed.
(() => {
  "use strict";
  const ns = (window.cnnTutorial = window.cnnTutorial || {});
  // Data files live next to the scripts, in _static/ (works at any URL depth).
  ns.staticBase = new URL(".", document.currentScript.src).href;

  const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

  // A colour at t in [0, 1] along evenly spaced hex stops, as [r, g, b].
  ns.rampColor = (stops, t) => {
    const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const a = rgb(stops[i]), b = rgb(stops[i + 1]), f = x - i;
    return a.map((v, c) => Math.round(v + (b[c] - v) * f));
  };
  ns.css = ([r, g, b]) => `rgb(${r},${g},${b})`;
  // Black or white text on a cell, as the book's figures choose it.
  ns.textOn = ([r, g, b]) => ((r + g + b) / 255 < 1.5 ? "#fff" : "#000");
  // A number as the figures print it, with a true minus sign.
  ns.fmt = (v) => (v < 0 ? "\u2212" + String(-v) : String(v));

  ns.el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
  };

  // Run mount(element, config) for every widget of a kind, after parsing.
  ns.mount = (kind, mount) => {
    const run = () => {
      for (const el of document.querySelectorAll(`.cnn-${kind}`)) {
        const fallback = el.querySelector(".cnn-widget-fallback");
        mount(el, JSON.parse(el.dataset.config), fallback);
      }
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
    else run();
  };
})();
