// Draw a digit (chapter 3): the chapter's trained digits CNN, run in the
// page (numerics.js) on the weights exported when the book was built. The 32×32 pad is
// reduced to 8×8 the way the scikit-learn digits were made: each cell counts
// the inked pixels of a 4×4 block (0–16).
// Each finger, pen or mouse draws its own stroke.
// Test hook: window.cnnTutorial.digitPad.{ready, setPixels, pixels, probabilities, featureMaps}.
(() => {
  "use strict";
  const ns = window.cnnTutorial, N = ns.numerics;
  const PAD = 32, SIDE = 8, BLOCK = 4, BRUSH = 1.6;
  // Order in which a 4×4 block's pixels are inked to show a count (Bayer dither).
  const DITHER = [0, 10, 2, 8, 5, 15, 7, 13, 1, 11, 3, 9, 4, 14, 6, 12];

  function mount(root, cfg, fallback, widget) {
    const el = ns.el, on = widget.on;
    const bitmap = new Uint8Array(PAD * PAD);
    let pixels = new Array(SIDE * SIDE).fill(0), model = null, result = null;
    let cursor = { x: PAD / 2, y: PAD / 2 }, keyboardPen = false, showCursor = false;
    const pens = new Map(); // pointer id -> where that pointer's stroke is

    const pad = el("canvas", {
      class: "cnn-pad", width: PAD * 7, height: PAD * 7, tabindex: "0", role: "application",
      "aria-roledescription": "drawing pad", "aria-label": "Drawing pad, 32 by 32 pixels",
      "aria-describedby": widget.id("cnn-pad-help"),
    });
    const help = el("p", {
      id: widget.id("cnn-pad-help"), class: "cnn-help",
      text: "Draw with the mouse, a finger or a pen. By keyboard: arrow keys move the pen (a ring, filled while the pen is down), "
        + "Space puts it down or lifts it, Delete clears. A test digit exists only as its 8×8 counts, so the pad shows each "
        + "block's count as that many inked pixels.",
    });
    const input = el("canvas", { class: "cnn-input", role: "img", "aria-label": "The 8 by 8 input the network sees" });
    const bars = ns.probabilityBars(Array.from({ length: 10 }, (_, d) => String(d)), cfg.colors.bar), probs = bars.element;
    const verdict = el("p", { class: "cnn-verdict", "aria-live": "polite" });
    const status = el("p", { class: "cnn-message", role: "status", text: "Loading the trained network…" });
    const clear = el("button", { type: "button", text: "Clear" });
    on(clear, "click", () => setBitmap(null));
    const presets = el("div", { class: "cnn-buttons", role: "group", "aria-label": "Test digits to load" },
      el("span", { text: "Test digits:" }));
    cfg.presets.forEach((preset) => {
      const b = el("button", { type: "button", "aria-label": `Load a test digit ${preset.label}`, text: preset.label });
      on(b, "click", () => api.setPixels(preset.pixels));
      presets.append(b);
    });
    const maps = {};
    const mapBlocks = ["conv1", "conv2"].map((name) => {
      maps[name] = el("canvas", { class: "cnn-maps", role: "img", "aria-label": `${name} feature maps` });
      return el("div", { class: "cnn-map-block" },
        el("div", { class: "cnn-panel-caption", text: `${name} feature maps (channels in order, row by row), before ReLU: red positive, blue negative, one scale per layer` }),
        maps[name]);
    });
    const left = el("div", { class: "cnn-panel" }, pad, el("div", { class: "cnn-panel-caption", text: "draw here (32×32)" }));
    const middle = el("div", { class: "cnn-panel" }, input, el("div", { class: "cnn-panel-caption", text: "8×8 input (0–16)" }));
    const right = el("div", { class: "cnn-panel cnn-prob-panel" }, probs, verdict);
    root.append(el("div", { class: "cnn-pad-ui" },
      el("div", { class: "cnn-stage" }, left, middle, right),
      el("div", { class: "cnn-buttons" }, clear), presets, help, status, ...mapBlocks));

    // The bitmap indices of the 4×4 block behind input pixel i, row by row.
    function block(i) {
      const r0 = Math.floor(i / SIDE) * BLOCK, c0 = (i % SIDE) * BLOCK;
      return Array.from({ length: BLOCK * BLOCK }, (_, b) => (r0 + Math.floor(b / BLOCK)) * PAD + c0 + (b % BLOCK));
    }
    // 8×8 counts of inked pixels per 4×4 block, as the digits were made.
    function downsample() {
      pixels = pixels.map((_, i) => block(i).reduce((count, at) => count + bitmap[at], 0));
    }
    function setBitmap(values) {
      bitmap.fill(0);
      if (values) {
        values.forEach((v, i) => {
          const on = Math.round(v);
          block(i).forEach((at, b) => { if (DITHER[b] < on) bitmap[at] = 1; });
        });
        pixels = Array.from(values, Number);
      } else downsample();
      update();
    }
    function ink(x, y) {
      for (let r = Math.floor(y - BRUSH); r <= y + BRUSH; r++) {
        for (let c = Math.floor(x - BRUSH); c <= x + BRUSH; c++) {
          if (r >= 0 && c >= 0 && r < PAD && c < PAD && (r + 0.5 - y) ** 2 + (c + 0.5 - x) ** 2 <= BRUSH ** 2) {
            bitmap[r * PAD + c] = 1;
          }
        }
      }
    }
    function stroke(from, to) {
      const steps = Math.max(1, Math.ceil(Math.hypot(to.x - from.x, to.y - from.y) / 0.5));
      for (let i = 0; i <= steps; i++) ink(from.x + ((to.x - from.x) * i) / steps, from.y + ((to.y - from.y) * i) / steps);
      downsample();
      update();
    }
    function drawPad() {
      const ctx = pad.getContext("2d"), u = pad.width / PAD;
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, pad.width, pad.height);
      ctx.fillStyle = "#000";
      for (let i = 0; i < bitmap.length; i++) if (bitmap[i]) ctx.fillRect((i % PAD) * u, Math.floor(i / PAD) * u, u, u);
      ctx.strokeStyle = "#bbb";
      ctx.lineWidth = 1;
      for (let b = 1; b < SIDE; b++) {
        const at = b * BLOCK * u + 0.5;
        ctx.beginPath(); ctx.moveTo(at, 0); ctx.lineTo(at, pad.height); ctx.moveTo(0, at); ctx.lineTo(pad.width, at); ctx.stroke();
      }
      if (showCursor && document.activeElement === pad) { // the keyboard pen
        ctx.strokeStyle = ctx.fillStyle = cfg.colors.bar;
        ctx.lineWidth = 3;
        ctx.beginPath();
        ctx.arc(cursor.x * u, cursor.y * u, BRUSH * u, 0, 2 * Math.PI);
        if (keyboardPen) ctx.fill();
        ctx.stroke();
      }
    }
    function update() {
      drawPad();
      ns.paintTiles(input, { c: 1, h: SIDE, w: SIDE, data: pixels.map((v) => v / 16) }, 1, cfg.colors.digit, false, 1);
      if (!model) return;
      const run = N.forward(model, N.standardise(model, pixels));
      result = { probabilities: run.probabilities, maps: {} };
      // the maps as the captions say: each conv's output, before its ReLU
      for (const [k, name] of [[1, "conv1"], [2, "conv2"]]) result.maps[name] = run.outputs[N.convOutputIndex(model.layers, k, { activated: false })];
      const p = result.probabilities, [best] = bars.show(p);
      const empty = !pixels.some((v) => v > 0);
      verdict.textContent = empty
        ? "The pad is empty: these are the network's answers for a blank image. Draw a digit."
        : `The network reads a ${best} (${(100 * p[best]).toFixed(1)} %).`;
      probs.classList.toggle("cnn-muted", empty);
      for (const [name, canvas] of Object.entries(maps)) {
        const t = result.maps[name];
        ns.paintTiles(canvas, t, t.w > 4 ? 8 : 16, cfg.colors.signed, true);
      }
    }

    const point = (e) => {
      const box = pad.getBoundingClientRect();
      return { x: ((e.clientX - box.left) / box.width) * PAD, y: ((e.clientY - box.top) / box.height) * PAD };
    };
    on(pad, "pointerdown", (e) => {
      showCursor = false;
      pad.setPointerCapture(e.pointerId);
      const at = point(e);
      pens.set(e.pointerId, at);
      stroke(at, at);
    });
    on(pad, "pointermove", (e) => {
      const from = pens.get(e.pointerId);
      if (!from) return;
      const next = point(e);
      stroke(from, next);
      pens.set(e.pointerId, next);
    });
    for (const type of ["pointerup", "pointercancel"]) on(pad, type, (e) => pens.delete(e.pointerId));
    on(pad, "keydown", (e) => {
      const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      showCursor = true;
      if (e.key in moves) {
        const [dx, dy] = moves[e.key], from = { ...cursor };
        cursor = { x: Math.min(PAD - 0.5, Math.max(0.5, cursor.x + dx)), y: Math.min(PAD - 0.5, Math.max(0.5, cursor.y + dy)) };
        if (keyboardPen) stroke(from, cursor);
        else drawPad();
      } else if (e.key === " " || e.key === "Enter") {
        keyboardPen = !keyboardPen;
        if (keyboardPen) stroke(cursor, cursor);
        else drawPad();
      } else if (e.key === "Delete" || e.key === "Backspace") setBitmap(null);
      else return;
      e.preventDefault();
    });
    on(pad, "focus", drawPad);
    on(pad, "blur", () => { keyboardPen = false; drawPad(); });

    const api = {
      setPixels(values) {
        if (!values || values.length !== SIDE * SIDE || !Array.from(values).every((v) => Number.isFinite(v) && v >= 0 && v <= 16)) {
          throw new Error("digitPad.setPixels: give 64 numbers between 0 and 16 (an 8×8 digit, row by row)");
        }
        setBitmap(values);
      },
      pixels: () => pixels.slice(),
      probabilities: () => (result ? result.probabilities.slice() : null),
      featureMaps: () => (result ? Object.fromEntries(Object.entries(result.maps).map(([k, t]) => [k, Array.from(t.data)])) : null),
    };
    update();
    if (cfg.teach) {
      let original = null;   // the chapter's weights while the pad runs fine-tuned ones
      api.teach = teachPanel(root.querySelector(".cnn-pad-ui"), cfg, {
        pixels: () => pixels.slice(),
        clear: () => setBitmap(null),
        useNetwork(parameters) {   // null: back to the chapter's network
          if (!model) return;
          original = original || Object.fromEntries(Object.keys(parameters || {}).map((k) => [k, model.tensors[k].values]));
          for (const [k, v] of Object.entries(parameters || original)) model.tensors[k].values = Float64Array.from(v);
          update();
        },
      });
    }

    api.ready = ns.whenLoaded(ns.loadModel(cfg.weights, cfg.input), cfg.weights, { status, fallback }, (m) => {
      model = m;
      update();
    });
    return api;
  }


  // Teach it your handwriting: the reader's drawings, labelled and kept
  // either to fine-tune on or to test with; fine-tuning runs in a Web
  // Worker (trainer.js) from the chapter's trained weights, each step on all
  // the training drawings plus replayed training digits. Nothing leaves the
  // page. Hook: digitPad.teach.{add(label, role), drawings(), fineTune()}.
  function teachPanel(parent, cfg, pad) {
    const el = ns.el, t = cfg.teach, drawings = { train: [], test: [] };
    const label = el("select", { id: "cnn-teach-label" },
      ...Array.from({ length: 10 }, (_, d) => el("option", { value: String(d), text: String(d) })));
    const addTrain = el("button", { type: "button", text: "Add to my training examples" });
    const addTest = el("button", { type: "button", text: "Add to my test drawings" });
    const tune = el("button", { type: "button", text: "Fine-tune on my examples", disabled: "" });
    const restore = el("button", { type: "button", text: "Back to the chapter's network", hidden: "" });
    const forget = el("button", { type: "button", text: "Forget my drawings" });
    const counts = el("p", { class: "cnn-help", role: "status", "aria-live": "polite" });
    const result = el("div", { class: "cnn-teach-result", "aria-live": "polite" });
    parent.append(el("div", { class: "cnn-teach", role: "group", "aria-labelledby": "cnn-teach-title" },
      el("p", { id: "cnn-teach-title", class: "cnn-teach-title", text: "Teach it your handwriting" }),
      el("p", { class: "cnn-help", text: "Draw a digit on the pad, say which digit it is, and keep it as a training example or as a "
        + `test drawing. Fine-tuning trains a copy of the network for ${t.steps} steps (Adam, learning rate ${t.lr}) on all your `
        + `training examples, each step together with ${t.replay} of the book's training digits so that it does not forget them, `
        + "then shows how it reads your test drawings before and after. Your drawings never leave this page." }),
      el("div", { class: "cnn-buttons" }, el("label", { for: "cnn-teach-label", text: "This drawing is a" }), label, addTrain, addTest),
      counts, el("div", { class: "cnn-buttons" }, tune, restore, forget), result));

    let trainer = null;
    const starting = ns.startTrainer({ weights: cfg.weights, data: t.data, counts: t.counts, recipe: t.recipe, seed: t.seed })
      .then((w) => (trainer = w));
    starting.catch((err) => { counts.textContent = `Fine-tuning is not available here (${err.message}).`; });
    const describe = (list) => (list.length ? `${list.length} (${list.map((d) => d.label).join(", ")})` : "none");
    function refresh() {
      if (!trainer && counts.textContent.startsWith("Fine-tuning is not")) return;
      counts.textContent = `My training examples: ${describe(drawings.train)}. My test drawings: ${describe(drawings.test)}.`;
      tune.disabled = !drawings.train.length || !drawings.test.length;
    }
    function add(digit, role) {
      const pixels = pad.pixels();
      if (!pixels.some((v) => v > 0)) throw new Error("the pad is empty: draw a digit first");
      drawings[role].push({ label: digit, pixels });
      pad.clear();
      refresh();
      return { train: drawings.train.length, test: drawings.test.length };
    }
    const pct = (v) => `${(100 * v).toFixed(1)} %`;
    const correct = (probs) => probs.filter((p, i) => p.indexOf(Math.max(...p)) === drawings.test[i].label).length;
    async function fineTune() {
      if (!drawings.train.length || !drawings.test.length) throw new Error("add at least one training example and one test drawing");
      await starting;
      tune.disabled = true;
      result.textContent = "Fine-tuning…";
      const out = await trainer.request("fineTune", { train: drawings.train, test: drawings.test,
        steps: t.steps, replay: t.replay, lr: t.lr });
      const n = drawings.test.length;
      out.accuracyBefore = correct(out.before) / n;
      out.accuracyAfter = correct(out.after) / n;
      const rows = drawings.test.map((d, i) => {
        const cell = (p) => { const best = p.indexOf(Math.max(...p)); return `reads ${best}, ${pct(p[d.label])} on ${d.label}`; };
        return el("tr", {}, el("td", { text: String(d.label) }), el("td", { text: cell(out.before[i]) }), el("td", { text: cell(out.after[i]) }));
      });
      result.replaceChildren(
        el("p", { class: "cnn-teach-verdict", text: `Your test drawings read correctly: ${correct(out.before)} of ${n} before, `
          + `${correct(out.after)} of ${n} after. The book's ${t.counts.test} test digits: ${pct(out.testAccuracy)} after fine-tuning.` }),
        el("table", { class: "cnn-teach-table" },
          el("thead", {}, el("tr", {}, el("th", { text: "drawn" }), el("th", { text: "before" }), el("th", { text: "after" }))),
          el("tbody", {}, ...rows)),
        el("p", { class: "cnn-help", text: "The pad above now runs the fine-tuned network." }));
      pad.useNetwork(out.parameters);
      restore.hidden = false;
      tune.disabled = false;
      return out;
    }
    const report = (fn) => () => {
      try { return fn(); } catch (err) { counts.textContent = err.message.charAt(0).toUpperCase() + err.message.slice(1) + "."; }
    };
    addTrain.addEventListener("click", report(() => add(Number(label.value), "train")));
    addTest.addEventListener("click", report(() => add(Number(label.value), "test")));
    tune.addEventListener("click", () => fineTune().catch((err) => (result.textContent = `Fine-tuning failed: ${err.message}`)));
    restore.addEventListener("click", () => { pad.useNetwork(null); restore.hidden = true; });
    forget.addEventListener("click", () => { drawings.train = []; drawings.test = []; result.replaceChildren(); refresh(); });
    refresh();
    return {
      add(digit, role) {
        if (!(Number.isInteger(digit) && digit >= 0 && digit <= 9) || !(role in drawings)) {
          throw new Error("teach.add: give a digit 0-9 and \"train\" or \"test\"");
        }
        return add(digit, role);
      },
      drawings: () => JSON.parse(JSON.stringify(drawings)),
      fineTune,
    };
  }

  ns.mount("digit-pad", "digitPad", mount);
})();
