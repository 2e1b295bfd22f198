// Train it yourself (chapter 3): the digits CNN trained in the reader's
// browser, in a Web Worker (trainer_worker.js), from the initial weights
// models.digits_cnn(seed=0) has; live loss and accuracy curves and the
// first-layer filters. ns.startTrainer is also what the digit pad's
// "teach it your handwriting" panel fine-tunes with.
// Test hook: window.cnnTutorial.trainer.{ready, reset, step, parameters,
// recipe, evaluate, fit} (all but recipe return promises).
(() => {
  "use strict";
  const ns = window.cnnTutorial, SVG = "http://www.w3.org/2000/svg";

  // A worker holding a network (the weights file) and the digits, or an
  // Error saying why there is none.
  ns.startTrainer = async (cfg, onEvent = () => {}) => {
    if (typeof Worker === "undefined") throw new Error("this browser has no Web Workers");
    if (location.protocol === "file:") throw new Error("a page opened straight from disk cannot start a Web Worker; serve the built site (make serve)");
    const fetchBuffer = async (file) => {
      const response = await fetch(new URL(file, ns.staticBase));
      if (!response.ok) throw new Error(`${file}: HTTP ${response.status}`);
      return response.arrayBuffer();
    };
    const [weights, data] = await Promise.all([fetchBuffer(cfg.weights), fetchBuffer(cfg.data)]);
    const worker = new Worker(new URL("trainer_worker.js", ns.staticBase));
    const pending = new Map();
    let next = 0;
    const request = (type, args = {}) => new Promise((resolve, reject) => {
      pending.set(++next, { resolve, reject });
      worker.postMessage({ id: next, type, ...args });
    });
    worker.onmessage = ({ data: msg }) => {
      if (msg.event) return onEvent(msg);
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(msg.error));
      else resolve(msg.result);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      for (const { reject } of pending.values()) reject(new Error(e.message || "the training worker failed"));
      pending.clear();
    };
    const { parameters } = await request("init", { weights, data, counts: cfg.counts, recipe: cfg.recipe, seed: cfg.seed || 0 });
    return { request, parameters };
  };

  const svg = (tag, attrs = {}) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };

  // A small line chart in an <svg>: series of [x, y] points (line or dots).
  function chart(title, yLabel, yMax) {
    const W = 300, H = 160, L = 40, R = 8, TOP = 22, B = 30;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "cnn-chart", role: "img", "aria-label": title });
    const plot = svg("g");
    root.append(plot);
    return {
      root,
      draw(xMax, series, yTop = yMax) {
        plot.replaceChildren();
        const x = (v) => L + (v / xMax) * (W - L - R), y = (v) => TOP + (1 - Math.min(v, yTop) / yTop) * (H - TOP - B);
        const text = (s, tx, ty, anchor = "middle") => {
          const t = svg("text", { x: tx, y: ty, "text-anchor": anchor, class: "cnn-chart-text" });
          t.textContent = s;
          plot.append(t);
        };
        plot.append(svg("rect", { x: L, y: TOP, width: W - L - R, height: H - TOP - B, class: "cnn-chart-frame" }));
        for (const f of [0, 0.5, 1]) text(String(+(f * yTop).toPrecision(2)), L - 4, y(f * yTop) + 4, "end");
        text(title, W / 2, 14);
        text(`epoch (of ${xMax})`, (L + W - R) / 2, H - 6);
        text(yLabel, L, 14, "start");
        for (const s of series) {
          if (s.guide !== undefined) {
            plot.append(svg("line", { x1: L, x2: W - R, y1: y(s.guide), y2: y(s.guide), class: "cnn-chart-guide" }));
            continue;
          }
          if (!s.points.length) continue;
          if (s.dots) {
            for (const [px, py] of s.points) plot.append(svg("circle", { cx: x(px), cy: y(py), r: 3, fill: s.color }));
          } else {
            plot.append(svg("polyline", { points: s.points.map(([px, py]) => `${x(px)},${y(py)}`).join(" "),
              fill: "none", stroke: s.color, "stroke-width": 1.5, opacity: s.opacity || 1 }));
          }
        }
      },
    };
  }

  // Cosine similarity of each filter (rows of k*k values) to its start.
  function cosines(now, start, size) {
    const out = [];
    for (let f = 0; f < now.length / size; f++) {
      let dot = 0, a = 0, b = 0;
      for (let i = f * size; i < (f + 1) * size; i++) { dot += now[i] * start[i]; a += now[i] ** 2; b += start[i] ** 2; }
      out.push(dot / Math.sqrt(a * b));
    }
    return out;
  }
  const median = (v) => { const s = [...v].sort((a, b) => a - b); return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2; };
  const pct = (v) => `${(100 * v).toFixed(1)} %`;

  function mount(root, cfg, fallback) {
    const el = ns.el, recipe = cfg.recipe;
    const lrs = [...new Set([1e-3, 2e-3, recipe.lr, 1e-2, 2e-2])].sort((a, b) => a - b);
    const lrSelect = el("select", { id: "cnn-trainer-lr" },
      ...lrs.map((lr) => el("option", { value: String(lr), text: lr === recipe.lr ? `${lr} (the recipe's)` : String(lr) })));
    lrSelect.value = String(recipe.lr);
    const epochsInput = el("input", { id: "cnn-trainer-epochs", type: "number", min: "1", max: "50", value: String(cfg.epochs || recipe.epochs) });
    const trainButton = el("button", { type: "button", text: "Train", disabled: "" });
    const resetButton = el("button", { type: "button", text: "Reset", disabled: "" });
    const status = el("p", { class: "cnn-verdict", role: "status", "aria-live": "polite", text: "Loading the untrained network and the digits…" });
    const message = el("p", { class: "cnn-message", role: "status" });
    const lossChart = chart("Loss", "cross-entropy", 2.5), accChart = chart("Test accuracy", "%", 100);
    const filters = el("canvas", { class: "cnn-filters", role: "img", "aria-label": "The 32 first-layer filters, 3 by 3 each" });
    const drift = el("div", { class: "cnn-panel-caption" });
    const ui = el("div", { class: "cnn-trainer-ui" },
      el("div", { class: "cnn-buttons" }, trainButton, resetButton,
        el("label", { for: "cnn-trainer-lr", text: "Learning rate" }), lrSelect,
        el("label", { for: "cnn-trainer-epochs", text: "Epochs" }), epochsInput),
      status,
      el("div", { class: "cnn-stage" },
        el("div", { class: "cnn-panel cnn-chart-panel" }, lossChart.root,
          el("div", { class: "cnn-panel-caption", text: "line: each batch's training loss; dots: test loss after each epoch" })),
        el("div", { class: "cnn-panel cnn-chart-panel" }, accChart.root,
          el("div", { class: "cnn-panel-caption", text: "after each epoch, on the test digits; dashed: 95 %" })),
        el("div", { class: "cnn-panel" }, filters,
          el("div", { class: "cnn-panel-caption", text: "conv1's 32 filters, redrawn after every step (red positive, blue negative)" }), drift)),
      el("p", { class: "cnn-help", text: `Adam, batches of ${recipe.batchSize}, on the ${cfg.counts.train} training digits, `
        + `from the same initial weights as models.digits_cnn(seed=0); the ${cfg.counts.test} test digits are only evaluated. `
        + "The page shuffles the batches with its own seeded generator, not PyTorch's, so its curves differ from the cell's in detail." }));
    root.append(ui, message);

    let trainer = null, startFilters = null, steps = [], history = null, running = null;
    const epochs = () => Math.max(1, Math.min(50, Math.round(Number(epochsInput.value)) || 1));

    function drawCharts() {
      const xMax = Math.max(epochs(), history ? history.test_acc.length : 0);
      const epochDots = (key) => (history ? history[key].map((v, i) => [i + 1, v]) : []);
      lossChart.draw(xMax, [
        { points: steps, color: cfg.colors.line, opacity: 0.6 },
        { points: epochDots("test_loss"), color: cfg.colors.line, dots: true },
      ]);
      accChart.draw(xMax, [
        { guide: 95 },
        { points: epochDots("test_acc").map(([x, y]) => [x, 100 * y]), color: cfg.colors.line },
        { points: epochDots("test_acc").map(([x, y]) => [x, 100 * y]), color: cfg.colors.line, dots: true },
      ]);
    }
    function drawFilters(values) {
      const w = Float64Array.from(values);
      if (!startFilters) startFilters = w;
      ns.paintTiles(filters, { c: w.length / 9, h: 3, w: 3, data: w }, 8, cfg.colors.signed, true);
      const cos = cosines(w, startFilters, 9);
      drift.textContent = `median cosine similarity to the initial filters: ${median(cos).toFixed(2)} (lowest ${Math.min(...cos).toFixed(2)})`;
    }
    function onEvent(msg) {
      if (msg.event === "step") {
        steps.push([msg.epoch + msg.at / msg.of, msg.loss]);
        drawFilters(msg.filters);
        status.textContent = `Epoch ${msg.epoch + 1} of ${epochs()}: ${msg.at} of ${msg.of} training digits, batch loss ${msg.loss.toFixed(3)}`;
      } else {
        history = msg.history;
        const e = history.test_acc.length;
        status.textContent = `After epoch ${e}: test accuracy ${pct(history.test_acc[e - 1])}, `
          + `${history.seconds[e - 1].toFixed(1)} s of training`;
      }
      drawCharts();
    }
    function setRunning(value) {
      running = value;
      const finished = Boolean(history) && history.test_acc.length >= epochs();
      trainButton.textContent = running ? "Pause" : steps.length && !finished ? "Resume" : "Train";
      resetButton.disabled = lrSelect.disabled = epochsInput.disabled = Boolean(running);
    }
    async function reset() {
      await trainer.request("reset", { lr: Number(lrSelect.value) });
      steps = []; history = null; startFilters = null;
      drawFilters((await trainer.request("parameters"))[trainer.parameters[0]]);
      setRunning(null);
      status.textContent = "Untrained: press Train.";
      drawCharts();
      return true;
    }
    async function fit(n) {
      const done = history ? history.test_acc.length : 0;
      if (done >= n && running === null) {
        status.textContent = `Already trained for ${done} epochs: raise Epochs to train on, or Reset.`;
        return { ...history, paused: false };
      }
      setRunning(trainer.request("fit", { epochs: n }));
      try {
        const result = await running;
        if (!result.paused) status.textContent += ". Done.";
        return result;
      } finally {
        setRunning(null);
      }
    }

    let loaded;
    const api = {
      ready: new Promise((resolve, reject) => (loaded = { resolve, reject })),
      reset: () => reset(),
      step: (indices) => trainer.request("step", { indices: Array.from(indices) }),
      parameters: async () => Object.fromEntries(Object.entries(await trainer.request("parameters")).map(([k, v]) => [k, Array.from(v)])),
      recipe: () => ({ ...recipe }),
      evaluate: async () => (await trainer.request("evaluate")).accuracy,
      fit: ({ epochs: n } = {}) => fit(n),
    };
    api.ready.catch(() => {});
    ns.trainer = api;
    drawCharts();

    trainButton.addEventListener("click", () => {
      if (running) trainer.request("pause");
      else fit(epochs()).catch((err) => (message.textContent = `Training stopped: ${err.message}`));
    });
    resetButton.addEventListener("click", () => reset());
    lrSelect.addEventListener("change", () => trainer.request("setLearningRate", { lr: Number(lrSelect.value) }));
    epochsInput.addEventListener("change", () => { epochsInput.value = String(epochs()); drawCharts(); });

    ns.startTrainer(cfg, onEvent)
      .then(async (t) => {
        trainer = t;
        await reset();
        fallback.hidden = true;
        trainButton.disabled = false;
        loaded.resolve(true);
      })
      .catch((err) => {
        ui.hidden = true;
        message.textContent = `Training in the page is not available here (${err.message}); the static figure shows the cell's run.`;
        console.warn("cnn-trainer:", err);
        loaded.reject(err);
      });
  }

  ns.mount("trainer", mount);
})();
