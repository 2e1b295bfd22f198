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

  // A network from a weights file next to the scripts, checked against the
  // input shape the widget feeds it (numerics.js says what else is wrong).
  ns.loadModel = async (file, inputShape) => {
    const response = await fetch(new URL(file, ns.staticBase));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const model = ns.numerics.loadModel(await response.arrayBuffer());
    if (String(model.input.shape) !== String(inputShape)) {
      throw new Error(`the weights are for ${model.input.shape.join("×")} inputs, this widget feeds ${inputShape.join("×")}`);
    }
    return model;
  };
  // The one-line message a widget shows when its network cannot be loaded.
  ns.loadError = (file, err) => {
    const fromDisk = location.protocol === "file:"
      ? " Pages opened straight from disk cannot load it; serve the built site (make serve)." : "";
    return `Could not load the network (${file}): ${err.message}. The static figure stays.${fromDisk}`;
  };

  // Tiles (one per channel of { c, h, w, data }) on a canvas, one pixel per
  // value, on one colour scale: signed maps on a diverging ramp around 0,
  // others from 0 to `vmax` (default: the largest value, or 1).
  ns.paintTiles = (canvas, tiles, cols, stops, signed, vmax) => {
    const gap = 1, rows = Math.ceil(tiles.c / cols), tw = tiles.w + gap, th = tiles.h + gap;
    canvas.width = cols * tw - gap;
    canvas.height = rows * th - gap;
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(canvas.width, canvas.height);
    img.data.fill(255);
    let top = vmax;
    if (top === undefined) {
      top = 0;
      for (const v of tiles.data) top = Math.max(top, signed ? Math.abs(v) : v);
      if (!signed && top === 0) top = 1;
    }
    top = top || 1;
    for (let ch = 0; ch < tiles.c; ch++) {
      const x0 = (ch % cols) * tw, y0 = Math.floor(ch / cols) * th;
      for (let r = 0; r < tiles.h; r++) {
        for (let c = 0; c < tiles.w; c++) {
          const v = tiles.data[(ch * tiles.h + r) * tiles.w + c];
          const color = ns.rampColor(stops, signed ? (v / top + 1) / 2 : v / top);
          img.data.set(color, ((y0 + r) * canvas.width + x0 + c) * 4);
        }
      }
    }
    ctx.putImageData(img, 0, 0);
  };

  // Run mount(element, config, fallback) for every widget of a kind, after
  // parsing. A widget that fails to start keeps its static figure and says
  // why in one line; the others on the page are not affected.
  ns.mount = (kind, mount) => {
    const run = () => {
      for (const el of document.querySelectorAll(`.cnn-${kind}`)) {
        const fallback = el.querySelector(".cnn-widget-fallback");
        try {
          mount(el, JSON.parse(el.dataset.config), fallback);
        } catch (err) {
          if (fallback) fallback.hidden = false;
          el.append(ns.el("p", { class: "cnn-message", role: "status",
            text: `This explorer could not start (${err.message}); the static figure stays.` }));
          console.warn(`cnn-${kind}:`, err);
        }
      }
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
    else run();
  };
})();
