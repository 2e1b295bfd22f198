// The scaffold the book's in-browser explorers share (conv_explorer.js,
// digit_pad.js, cifar_explorer.js): the window.cnnTutorial namespace, colour
// ramps from the library's colour maps, loading a network, probability
// bars, painting images, and mounting each widget once the page is parsed,
// with its own hook, ids and error line.
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
  // Once `loading` (the network and whatever else a widget needs) has
  // arrived, start(value) and hide the static figure; if anything fails,
  // the figure stays with one line in `status`. Returns the widget's
  // `ready` promise (a rejection nobody awaits is not an uncaught error).
  ns.whenLoaded = (loading, file, { status, fallback }, start) => {
    const ready = loading.then((value) => {
      start(value);
      fallback.hidden = true;
      status.textContent = "";
      return true;
    }).catch((err) => {
      status.textContent = ns.loadError(file, err);
      throw err;
    });
    ready.catch(() => {});
    return ready;
  };

  // Probability bars, one row per class name. show(p) sets them and marks
  // the `ranks` most probable classes (numbered when more than one); it
  // returns their indices, most probable first.
  ns.probabilityBars = (classes, color, ranks = 1) => {
    const element = ns.el("div", { class: "cnn-probs", role: "list", "aria-label": "Class probabilities" });
    const rows = classes.map((name) => {
      const fill = ns.el("span", { class: "cnn-bar-fill" }), value = ns.el("span", { class: "cnn-prob-value" });
      const rank = ns.el("span", { class: "cnn-rank" });
      fill.style.background = color;
      const row = ns.el("div", { class: ranks > 1 ? "cnn-prob cnn-prob-named" : "cnn-prob", role: "listitem" },
        ns.el("span", { class: "cnn-prob-label", text: name }), ns.el("span", { class: "cnn-bar", "aria-hidden": "true" }, fill), value);
      if (ranks > 1) row.append(rank);
      element.append(row);
      return { row, fill, value, rank };
    });
    const show = (p) => {
      const top = ns.numerics.topK(p, ranks);
      rows.forEach(({ row, fill, value, rank }, d) => {
        const r = top.indexOf(d), percent = (100 * p[d]).toFixed(1);
        fill.style.width = `${percent}%`;
        value.textContent = `${percent} %`;
        rank.textContent = r >= 0 ? `#${r + 1}` : "";
        row.classList.toggle("cnn-top", r >= 0);
        row.setAttribute("aria-label", `${classes[d]}: ${percent} percent${ranks > 1 && r >= 0 ? `, rank ${r + 1}` : ""}`);
      });
      return top;
    };
    return { element, show };
  };

  // An RGB image given in (C, H, W) order, on a canvas of its own size.
  ns.paintImage = (canvas, chw, h, w) => {
    canvas.width = w;
    canvas.height = h;
    canvas.getContext("2d").putImageData(new ImageData(ns.numerics.chwToRgba(chw, h, w), w, h), 0, 0);
    return canvas;
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

  // What a widget's code gets from the page: ids unique on the page (the
  // first widget of a kind keeps the plain ones), and guard(fn) (for
  // timers) and on(target, type, fn) (for the reader's events), whose
  // errors (thrown, or a rejected promise) show as one line in the widget,
  // not only in the console; the reader's next event that succeeds clears it.
  function context(root, kind, index) {
    let line = null;
    const say = (text) => {
      if (!line && !text) return;
      if (!line) root.append((line = ns.el("p", { class: "cnn-message cnn-widget-error", role: "alert" })));
      line.textContent = text;
    };
    const report = (err) => {
      say(`Something went wrong in this explorer: ${err && err.message ? err.message : err}`);
      console.warn(`cnn-${kind}:`, err);
    };
    const guard = (fn, clears = false) => function (...args) {
      const done = () => clears && say("");
      try {
        const result = fn.apply(this, args);
        if (result && typeof result.then === "function") result.then(done, report);
        else done();
        return result;
      } catch (err) {
        report(err);
        return undefined;
      }
    };
    return {
      id: (name) => (index ? `${name}-${index + 1}` : name),
      guard, report,
      on: (target, type, fn) => target.addEventListener(type, guard(fn, true)),
    };
  }

  // Run mount(element, config, fallback, context) for every widget of a
  // kind, after parsing. Its return value is that widget's test hook:
  // element.cnnTutorial, listed in window.cnnTutorial.instances[hook], and
  // window.cnnTutorial[hook] is the page's first one. A widget that fails
  // to start keeps its static figure and says why in one line; the others
  // on the page are not affected.
  ns.instances = ns.instances || {};
  ns.mount = (kind, hook, mount) => {
    if (typeof hook === "function") [hook, mount] = [null, hook]; // sets its hook itself
    const run = () => {
      document.querySelectorAll(`.cnn-${kind}`).forEach((el, index) => {
        const fallback = el.querySelector(".cnn-widget-fallback");
        try {
          const api = mount(el, JSON.parse(el.dataset.config), fallback, context(el, kind, index));
          if (!hook) return;
          el.cnnTutorial = api;
          (ns.instances[hook] = ns.instances[hook] || []).push(api);
          if (!ns[hook]) ns[hook] = api;
        } catch (err) {
          if (fallback) fallback.hidden = false;
          el.append(ns.el("p", { class: "cnn-message", role: "status",
            text: `This explorer could not start (${err.message}); the static figure stays.` }));
          console.warn(`cnn-${kind}:`, err);
        }
      });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
    else run();
  };
})();
