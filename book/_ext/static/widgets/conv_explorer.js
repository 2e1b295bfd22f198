// Convolution explorer (chapter 2): choose n, k, p, s and watch the window
// step over the padded input while the output fills in, with the worked sum
// of the current cell and the output-size formula evaluated live.
// Test hook: window.cnnTutorial.convExplorer.{set, outputSize, select, workedSum, state}.
(() => {
  "use strict";
  const ns = window.cnnTutorial;
  const PARAMS = [
    ["n", "input size n"], ["k", "kernel size k"], ["p", "padding p"], ["s", "stride s"],
  ];
  const CELL = 28; // SVG units per grid cell

  // The n×n corner of the input inside a ring of p zeros.
  function padded(input, n, p) {
    const side = n + 2 * p, inside = (i) => i >= p && i < n + p;
    return Array.from({ length: side }, (_, r) => Array.from({ length: side },
      (_, c) => (inside(r) && inside(c) ? input[r - p][c - p] : 0)));
  }
  // Every output cell of the (already padded) input, with its worked sum.
  function conv(xp, kernel, s) {
    const k = kernel.length, o = Math.floor((xp.length - k) / s) + 1;
    const cells = [];
    for (let i = 0; i < o; i++) {
      for (let j = 0; j < o; j++) {
        const terms = [];
        let value = 0;
        for (let m = 0; m < k; m++) {
          for (let q = 0; q < k; q++) {
            const a = xp[i * s + m][j * s + q], b = kernel[m][q];
            terms.push(`${factor(a)}×${factor(b)}`);
            value += a * b;
          }
        }
        cells.push({ i, j, value, terms: terms.join(" + ") });
      }
    }
    return { o, cells };
  }
  // As cnn_tutorial.conv.worked_sum prints a factor: 3, or (−1).
  const factor = (v) => (v < 0 ? `(\u2212${-v})` : String(v));

  // One grid as SVG: cells coloured along a ramp with their numbers. Values
  // with a negative entry use the diverging ramp centred on 0 (signedStops).
  function grid(values, { stops, signed = false, signedStops, pad = 0, shown = Infinity, win, mark, unused = Infinity, label }) {
    const rows = values.length, cols = values[0].length, flat = values.flat();
    if (signedStops && flat.some((v) => v < 0)) { signed = true; stops = signedStops; }
    const vmax = Math.max(...flat.map(Math.abs)) || 1;
    const vmin = signed ? -vmax : Math.min(0, ...flat);
    const w = cols * CELL + 8, h = rows * CELL + 8;
    const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" role="img" aria-label="${label}" style="width:${Math.round(w * 0.9)}px">`];
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
        `<text x="${x + CELL / 2}" y="${y + CELL / 2}" fill="${ns.textOn(color)}"${Math.abs(v) >= 10 ? ' font-size="13"' : ""}>${ns.fmt(v)}</text>`);
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

  function mount(root, cfg, fallback) {
    const el = ns.el;
    const state = { ...cfg.start, t: 0, timer: null };
    const inputs = {};
    const controls = el("div", { class: "cnn-controls", role: "group", "aria-label": "Convolution settings" });
    for (const [key, label] of PARAMS) {
      const [lo, hi] = cfg.ranges[key];
      const id = `cnn-conv-${key}`;
      const out = el("output", { for: id, text: state[key] });
      const input = el("input", { type: "range", id, min: lo, max: hi, step: 1, value: state[key] });
      input.addEventListener("input", () => {
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
    const panels = ["input (padding dashed)", "kernel", "output"].map((caption) => {
      const box = el("div", { class: "cnn-panel" });
      box.append(el("div", { class: "cnn-panel-art" }), el("div", { class: "cnn-panel-caption", text: caption }));
      stage.append(box);
      return box.firstChild;
    });
    const sum = el("p", { class: "cnn-worked", "aria-live": "polite" });
    const button = (text, action) => {
      const b = el("button", { type: "button", text });
      b.addEventListener("click", action);
      return b;
    };
    const play = button("▶ play", () => (state.timer ? pause() : start()));
    const buttons = el("div", { class: "cnn-buttons", role: "group", "aria-label": "Step through output cells" },
      button("« first", () => go(0)),
      button("◀ back", () => go(state.t - 1)),
      play,
      button("step ▶", () => go(state.t + 1)));
    fallback.hidden = true;
    const help = el("p", { class: "cnn-help", text: "Keyboard: click the drawing (or Tab to it), then arrow keys move the window by one output cell, Home and End jump, Space plays or pauses." });
    root.append(el("div", { class: "cnn-explorer" }, controls, formula, message, buttons, sum, stage, help));

    let result = null; // the current convolution: { o, cells }
    function render() {
      const { n, k, p, s } = state;
      const xp = padded(cfg.input, n, p);
      result = k > n + 2 * p ? null : conv(xp, cfg.kernels[k], s);
      const numerator = n + 2 * p - k, o = Math.floor(numerator / s) + 1;
      formula.textContent = `n_out = ⌊(n + 2p − k) / s⌋ + 1 = ⌊(${n} + 2·${p} − ${k}) / ${s}⌋ + 1`
        + ` = ⌊${ns.fmt(numerator)} / ${s}⌋ + 1 = ${ns.fmt(o)}`
        + (o < 1 ? " → no output (needs k ≤ n + 2p)" : "");
      const reach = (o - 1) * s + k, left = n + 2 * p - reach;
      const kernel = cfg.kernels[k];
      panels[1].innerHTML = grid(kernel, { stops: cfg.colors.kernel, signed: true, label: `${k} by ${k} kernel` });
      if (!result) {
        message.textContent = `No output: the ${k}×${k} kernel does not fit in the padded input, `
          + `which is only n + 2p = ${n + 2 * p} cells wide. Make k smaller or n or p larger.`;
        panels[0].innerHTML = grid(xp, { stops: cfg.colors.input, pad: p, label: `padded ${n + 2 * p} by ${n + 2 * p} input` });
        panels[2].innerHTML = "";
        sum.textContent = "";
        return;
      }
      message.textContent = "";
      if (left > 0) {
        formula.textContent += `. The floor leaves the last ${left === 1 ? "row and column" : `${left} rows and columns`}`
          + " of the padded input unused (greyed).";
      }
      const cell = result.cells[state.t], color = cfg.colors.window;
      panels[0].innerHTML = grid(xp, {
        stops: cfg.colors.input, pad: p, win: { r: cell.i * s, c: cell.j * s, k, color }, unused: reach,
        label: `padded ${n + 2 * p} by ${n + 2 * p} input, window at row ${cell.i * s}, column ${cell.j * s}`,
      });
      const out = Array.from({ length: o }, (_, i) => result.cells.slice(i * o, (i + 1) * o).map((c) => c.value));
      panels[2].innerHTML = grid(out, {
        stops: cfg.colors.output, signedStops: cfg.colors.kernel, shown: state.t + 1, mark: { r: cell.i, c: cell.j, color },
        label: `${o} by ${o} output, ${state.t + 1} of ${o * o} cells computed`,
      });
      sum.textContent = `output(${cell.i}, ${cell.j}) = ${cell.terms} = ${ns.fmt(cell.value)}`
        + `   (cell ${state.t + 1} of ${o * o})`;
    }
    function go(t) {
      if (!result) return;
      state.t = Math.max(0, Math.min(result.cells.length - 1, t));
      render();
    }
    function start() {
      if (!result) return;
      if (state.t >= result.cells.length - 1) state.t = -1;
      sum.setAttribute("aria-live", "off");
      play.textContent = "‖ pause";
      state.timer = setInterval(() => {
        if (state.t >= result.cells.length - 1) pause();
        else go(state.t + 1);
      }, 700);
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
    stage.addEventListener("keydown", (e) => {
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

    ns.convExplorer = {
      set(params) {
        for (const [key, value] of Object.entries(params)) {
          if (!(key in cfg.ranges)) throw new Error(`convExplorer.set: unknown parameter ${key} (use n, k, p, s)`);
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
      workedSum: () => (result ? { ...result.cells[state.t], text: sum.textContent } : null),
      state: () => ({ n: state.n, k: state.k, p: state.p, s: state.s, outputSize: result ? result.o : null }),
    };
  }

  ns.mount("conv-explorer", mount);
})();
