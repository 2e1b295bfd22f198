// Convolution explorer (chapter 2): choose n, k, p, s (and the numbers of
// input channels and filters) and watch the window step over the padded
// input while the output fills in, with the worked sum of the current cell
// (per channel, plus the bias, when there are several) and the output-size
// formula evaluated live. The maths is numerics.js's (outSize, conv2d,
// windowSum); this file draws.
// Test hook: window.cnnTutorial.convExplorer.{set, outputSize, select,
// workedSum, state, input, weights, bias, output}.
(() => {
  "use strict";
  const ns = window.cnnTutorial, N = ns.numerics;
  const PARAMS = [
    ["n", "input size n"], ["k", "kernel size k"], ["p", "padding p"], ["s", "stride s"],
    ["channels", "input channels"], ["filters", "filters"],
  ];
  const CELL = 28; // SVG units per grid cell

  // As cnn_tutorial.conv.worked_sum prints a factor: 3, or (−1).
  const factor = (v) => (v < 0 ? `(\u2212${-v})` : String(v));
  const products = (pairs) => pairs.map(([a, b]) => `${factor(a)}×${factor(b)}`).join(" + ");

  // One grid as SVG: cells coloured along a ramp with their numbers. Values
  // with a negative entry use the diverging ramp centred on 0 (signedStops).
  function grid(values, { stops, signed = false, signedStops, pad = 0, shown = Infinity, win, mark, unused = Infinity, label, zoom = 0.9 }) {
    const rows = values.length, cols = values[0].length, flat = values.flat();
    if (signedStops && flat.some((v) => v < 0)) { signed = true; stops = signedStops; }
    const vmax = Math.max(...flat.map(Math.abs)) || 1;
    const vmin = signed ? -vmax : Math.min(0, ...flat);
    const w = cols * CELL + 8, h = rows * CELL + 8;
    const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" role="img" aria-label="${label}" style="width:${Math.round(w * zoom)}px">`];
    parts.push('<g transform="translate(4 4)" font-size="17" text-anchor="middle" dominant-baseline="central">');
    values.forEach((row, r) => row.forEach((v, c) => {
      const x = c * CELL, y = r * CELL, index = r * cols + c;
      const inPad = r < pad || c < pad || r >= rows - pad || c >= cols - pad;
      if (index >= shown) {
        parts.push(`<rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" class="cnn-empty"/>`);
        return;
      }
      if (inPad) {
        parts.push(`<rect x="${x + 1}" y="${y + 1}" width="${CELL - 2}" height="${CELL - 2}" class="cnn-pad"/>`,
          `<text x="${x + CELL / 2}" y="${y + CELL / 2}" fill="#666">0</text>`);
        return;
      }
      const color = ns.rampColor(stops, (v - vmin) / (vmax - vmin));
      parts.push(`<rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="${ns.css(color)}" stroke="#fff"/>`,
        `<text x="${x + CELL / 2}" y="${y + CELL / 2}" fill="${ns.textOn(color)}"${Math.abs(v) >= 10 ? ' font-size="14"' : ""}>${ns.fmt(v)}</text>`);
    }));
    if (unused < rows) { // rows and columns no window position reaches
      const reach = unused * CELL;
      parts.push(`<path d="M${reach} 0H${cols * CELL}V${rows * CELL}H0V${reach}H${reach}Z" class="cnn-unused"/>`);
    }
    if (win) {
      parts.push(`<rect x="${win.c * CELL}" y="${win.r * CELL}" width="${win.k * CELL}" height="${win.k * CELL}" class="cnn-window" stroke="${win.color}"/>`);
    }
    if (mark) {
      parts.push(`<rect x="${mark.c * CELL}" y="${mark.r * CELL}" width="${CELL}" height="${CELL}" fill="none" stroke-width="4" stroke="${mark.color}"/>`);
    }
    parts.push("</g></svg>");
    return parts.join("");
  }

  // A captioned group of grids (SVG strings) on the stage.
  function panel(svgs, caption) {
    const art = ns.el("div", { class: "cnn-panel-art" });
    art.innerHTML = svgs.join("");
    return ns.el("div", { class: "cnn-panel" }, art, ns.el("div", { class: "cnn-panel-caption", text: caption }));
  }

  function mount(root, cfg, fallback, widget) {
    const el = ns.el, on = widget.on;
    const state = { ...cfg.start, t: 0, timer: null };
    const inputs = {};
    const controls = el("div", { class: "cnn-controls", role: "group", "aria-label": "Convolution settings" });
    for (const [key, label] of PARAMS) {
      const [lo, hi] = cfg.ranges[key];
      const id = widget.id(`cnn-conv-${key}`);
      const out = el("output", { for: id, text: state[key] });
      const input = el("input", { type: "range", id, min: lo, max: hi, step: 1, value: state[key] });
      on(input, "input", () => {
        state[key] = Number(input.value);
        out.textContent = input.value;
        reset();
      });
      inputs[key] = { input, out };
      controls.append(el("label", { for: id }, el("span", { text: label }), input, out));
    }
    const formula = el("p", { class: "cnn-formula" });
    const message = el("p", { class: "cnn-message", role: "alert" });
    const stage = el("div", {
      class: "cnn-stage", tabindex: "0", role: "group",
      "aria-label": "Input, kernel and output. Arrow keys move the window by one output cell, Home and End jump to the first and last, Space plays or pauses.",
    });
    const sum = el("div", { class: "cnn-worked", "aria-live": "polite" });
    const button = (text, action) => {
      const b = el("button", { type: "button", text });
      on(b, "click", action);
      return b;
    };
    const play = button("▶ play", () => (state.timer ? pause() : start()));
    const buttons = el("div", { class: "cnn-buttons", role: "group", "aria-label": "Step through output cells" },
      button("« first", () => go(0)),
      button("◀ back", () => go(state.t - 1)),
      play,
      button("step ▶", () => go(state.t + 1)));
    fallback.hidden = true;
    const help = el("p", { class: "cnn-help", text: "Keyboard: click the drawing (or Tab to it), then arrow keys move the window by one output cell, Home and End jump, Space plays or pauses. With several input channels, each filter has one kernel per channel: the output adds the channels' sums and the filter's bias." });
    root.append(el("div", { class: "cnn-explorer" }, controls, formula, message, buttons, sum, stage, help));

    // The input, filters and biases of the current setting, as numerics.js takes them.
    function data() {
      const { n, k, channels, filters } = state;
      const x = cfg.input.slice(0, channels).map((ch) => ch.slice(0, n).map((row) => row.slice(0, n)));
      const w = cfg.weights[k].slice(0, filters).map((f) => f.slice(0, channels));
      return { x, w, b: cfg.bias.slice(0, filters), t: N.fromNested(x), weight: N.weightOf(w), bias: { values: Float64Array.from(cfg.bias.slice(0, filters)) } };
    }

    let current = null, result = null; // the data, and the convolution { o, out, cells }
    function render() {
      const { n, k, p, s, channels, filters } = state, several = channels > 1 || filters > 1;
      current = data();
      const numerator = n + 2 * p - k, o = N.outSize(n, k, p, s);
      result = o >= 1 ? { o, out: N.conv2d(current.t, current.weight, current.bias, p, s) } : null;
      formula.textContent = `n_out = ⌊(n + 2p − k) / s⌋ + 1 = ⌊(${n} + 2·${p} − ${k}) / ${s}⌋ + 1`
        + ` = ⌊${ns.fmt(numerator)} / ${s}⌋ + 1 = ${ns.fmt(o)}`
        + (o < 1 ? " → no output (needs k ≤ n + 2p)" : "");
      const reach = (o - 1) * s + k, left = n + 2 * p - reach, zoom = several ? 0.7 : 0.9;
      const xp = N.toNested(N.padded(current.t, p));
      const side = n + 2 * p, color = cfg.colors.window;
      const cell = result ? { i: Math.floor(state.t / o), j: state.t % o } : null;
      const inputPanel = xp.map((plane, c) => grid(plane, {
        stops: cfg.colors.input, pad: p, zoom, unused: result ? reach : Infinity,
        win: cell && { r: cell.i * s, c: cell.j * s, k, color },
        label: `padded ${side} by ${side} input${several ? ` channel ${c}` : ""}${cell ? `, window at row ${cell.i * s}, column ${cell.j * s}` : ""}`,
      }));
      const kernelPanels = current.w.map((f, fi) => panel(f.map((slice, c) => grid(slice, {
        stops: cfg.colors.kernel, signed: true, zoom,
        label: `${k} by ${k} kernel${several ? ` of filter ${fi} for channel ${c}` : ""}`,
      })), several ? `filter ${fi}: one kernel per channel, bias ${ns.fmt(current.b[fi])}` : "kernel"));
      const stageParts = [panel(inputPanel, several ? "input channels, in order (padding dashed)" : "input (padding dashed)"), ...kernelPanels];
      if (!result) {
        message.textContent = `No output: the ${k}×${k} kernel does not fit in the padded input, `
          + `which is only n + 2p = ${side} cells wide. Make k smaller or n or p larger.`;
        stage.replaceChildren(...stageParts);
        sum.replaceChildren();
        return;
      }
      message.textContent = "";
      if (left > 0) {
        formula.textContent += `. The floor leaves the last ${left === 1 ? "row and column" : `${left} rows and columns`}`
          + " of the padded input unused (greyed).";
      }
      result.cells = N.toNested(result.out).map((plane, f) => {
        const cellSum = N.windowSum(current.t, current.weight, current.bias, f, cell.i, cell.j, p, s);
        const terms = several ? cellSum.channels.map((ch) => `(${products(ch.pairs)})`).join(" + ") : products(cellSum.channels[0].pairs);
        const head = `output${filters > 1 ? ` ${f}` : ""}(${cell.i}, ${cell.j}) = ${terms}`;
        const text = several
          ? `${head} + ${factor(cellSum.bias)} = ${[...cellSum.channels.map((ch) => ch.sum), cellSum.bias].map(factor).join(" + ")} = ${ns.fmt(cellSum.value)}`
          : `${head} = ${ns.fmt(cellSum.value)}`;
        stageParts.push(panel([grid(plane, {
          stops: cfg.colors.output, signedStops: cfg.colors.kernel, shown: state.t + 1, mark: { r: cell.i, c: cell.j, color },
          label: `${o} by ${o} output${filters > 1 ? ` ${f}` : ""}, ${state.t + 1} of ${o * o} cells computed`,
        })], filters > 1 ? `output channel ${f}` : "output"));
        return { f, i: cell.i, j: cell.j, value: cellSum.value, terms, sums: cellSum.channels.map((ch) => ch.sum), bias: cellSum.bias, text };
      });
      stage.replaceChildren(...stageParts);
      sum.replaceChildren(...result.cells.map((c, f) => el("div", { text: c.text + (f === 0 ? `   (cell ${state.t + 1} of ${o * o})` : "") })));
    }
    function go(t) {
      if (!result) return;
      state.t = Math.max(0, Math.min(result.o * result.o - 1, t));
      render();
    }
    function start() {
      if (!result) return;
      if (state.t >= result.o * result.o - 1) state.t = -1;
      sum.setAttribute("aria-live", "off");
      play.textContent = "‖ pause";
      state.timer = setInterval(widget.guard(() => {
        if (!result || state.t >= result.o * result.o - 1) pause();
        else go(state.t + 1);
      }), 700);
      go(state.t + 1);
    }
    function pause() {
      clearInterval(state.timer);
      state.timer = null;
      sum.setAttribute("aria-live", "polite");
      play.textContent = "▶ play";
    }
    function reset() {
      pause();
      state.t = 0;
      render();
    }
    on(stage, "keydown", (e) => {
      const o = result ? result.o : 0;
      const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: o, ArrowUp: -o };
      if (e.key in moves) {
        const t = state.t + moves[e.key];
        if (result && t >= 0 && t < o * o) go(t);
      }
      else if (e.key === "Home") go(0);
      else if (e.key === "End") go(Infinity);
      else if (e.key === " " || e.key === "Enter") state.timer ? pause() : start();
      else return;
      e.preventDefault();
    });
    render();

    const keys = PARAMS.map(([key]) => key);
    return {
      set(params) {
        for (const [key, value] of Object.entries(params)) {
          if (!(key in cfg.ranges)) throw new Error(`convExplorer.set: unknown parameter ${key} (use ${keys.join(", ")})`);
          const [lo, hi] = cfg.ranges[key];
          if (!Number.isInteger(value) || value < lo || value > hi) {
            throw new Error(`convExplorer.set: ${key} = ${value} is not an integer in ${lo}..${hi}`);
          }
        }
        for (const [key, value] of Object.entries(params)) {
          state[key] = value;
          inputs[key].input.value = value;
          inputs[key].out.textContent = value;
        }
        reset();
        return this.state();
      },
      outputSize: () => (result ? result.o : null),
      select(i, j) {
        if (!result || !(i >= 0 && j >= 0 && i < result.o && j < result.o)) {
          throw new Error(`convExplorer.select: no output cell (${i}, ${j})`);
        }
        go(i * result.o + j);
      },
      // the current cell's sum for filter f: { f, i, j, value, terms, sums, bias, text }
      workedSum: (f = 0) => (result ? { ...result.cells[f] } : null),
      state: () => ({ ...Object.fromEntries(keys.map((key) => [key, state[key]])), outputSize: result ? result.o : null }),
      input: () => structuredClone(current.x),        // [C][n][n]
      weights: () => structuredClone(current.w),      // [F][C][k][k]
      bias: () => current.b.slice(),                  // [F]
      output: () => (result ? N.toNested(result.out) : null), // [F][n_out][n_out]
    };
  }

  ns.mount("conv-explorer", "convExplorer", mount);
})();
