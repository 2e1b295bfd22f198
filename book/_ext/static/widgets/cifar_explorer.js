// The CIFAR-10 explorer (chapter 3): the chapter's trained 2-block CNN run in
// the page (numerics.js) on a test image or the reader's own photo, layer by
// layer: the three input channels, conv1's and conv2's maps (after ReLU,
// before pooling), the ten probabilities, a selected unit's receptive field
// and weights, and an occlusion map for the predicted class.
// Test hook: window.cnnTutorial.cifarExplorer.{ready, setImage, pixels,
// probabilities, featureMaps, occlusion, select, selection}.
(() => {
  "use strict";
  const ns = window.cnnTutorial, N = ns.numerics;
  const SIDE = 32, ZOOM = 5, CHANNELS = ["red", "green", "blue"];

  function mount(root, cfg, fallback) {
    const el = ns.el;
    let model = null, samples = null, pixels = null, result = null, source = "";
    let selected = { layer: "conv1", channel: 0, i: 16, j: 16 };
    let occlusionRun = null, generation = 0;

    // --- the page parts ------------------------------------------------------
    const status = el("p", { class: "cnn-message", role: "status", text: "Loading the trained network…" });
    const input = el("canvas", { class: "cnn-photo", width: SIDE * ZOOM, height: SIDE * ZOOM, role: "img", "aria-label": "The 32 by 32 input image" });
    const inputCaption = el("div", { class: "cnn-panel-caption" });
    const channels = CHANNELS.map((name) => el("canvas", { class: "cnn-channel", role: "img", "aria-label": `${name} channel` }));
    const occlusionCanvas = el("canvas", { class: "cnn-photo", width: SIDE * ZOOM, height: SIDE * ZOOM, role: "img", "aria-label": "Occlusion map" });
    const occlusionCaption = el("div", { class: "cnn-panel-caption", "aria-live": "polite" });
    const { patch, stride } = cfg.occlusion;
    const occlusionHelp = el("p", { class: "cnn-help", text: `Occlusion: each pixel is the mean drop in the predicted class's probability `
      + `when a grey ${patch}×${patch} square (stride ${stride}) covers it. Red: hiding it lowers the probability; blue: raises it; `
      + "white: no change (one scale, symmetric around 0)." });
    const probs = el("div", { class: "cnn-probs", role: "list", "aria-label": "Class probabilities" });
    const verdict = el("p", { class: "cnn-verdict", "aria-live": "polite" });
    const bars = [];

    const picker = el("input", { type: "file", accept: "image/*", id: "cnn-cifar-photo" });
    const thumbs = el("div", { class: "cnn-thumbs", role: "group", "aria-label": "Test images to load" });
    const layerGrids = {}, layerHelp = el("p", {
      id: "cnn-cifar-help", class: "cnn-help",
      text: "Click a map, or focus it and use the arrow keys to move the selected unit; Page Up and Page Down change the channel.",
    });
    const unitText = el("p", { class: "cnn-unit", "aria-live": "polite" });
    const kernelGrid = el("div", { class: "cnn-kernels" });
    const kernelCaption = el("div", { class: "cnn-panel-caption" });

    const panel = (child, caption) => el("div", { class: "cnn-panel" }, child, caption);
    const channelBlock = el("div", { class: "cnn-panel" },
      el("div", { class: "cnn-channel-row" }, ...channels.map((c, k) => el("div", { class: "cnn-panel" }, c, el("div", { class: "cnn-panel-caption", text: CHANNELS[k] })))),
      el("div", { class: "cnn-panel-caption", text: "the three input channels (bright = high)" }));

    // shown once the network has loaded; until then (or if it cannot load)
    // the static figure and one line of status
    const ui = el("div", { class: "cnn-cifar-ui", hidden: "" },
      el("div", { class: "cnn-stage" }, panel(input, inputCaption), panel(occlusionCanvas, occlusionCaption), channelBlock),
      el("div", { class: "cnn-prob-panel cnn-cifar-probs" }, probs, verdict),
      occlusionHelp,
      el("div", { class: "cnn-buttons" }, el("label", { for: "cnn-cifar-photo", text: "Your own photo (or drop one on the image): " }), picker),
      el("p", { class: "cnn-help", text: "A photo is cropped to its centre square and shrunk to 32×32 in your browser; it never leaves the page." }),
      thumbs, layerHelp,
      ...["conv1", "conv2"].map((name) => {
        layerGrids[name] = el("div", { class: "cnn-map-grid", tabindex: "0", role: "group", "aria-describedby": "cnn-cifar-help" });
        return el("div", { class: "cnn-map-block" },
          el("div", { class: "cnn-panel-caption cnn-map-title" }), layerGrids[name]);
      }),
      unitText, el("div", { class: "cnn-panel" }, kernelGrid, kernelCaption));
    root.append(status, ui);

    // --- drawing ---------------------------------------------------------------
    function drawInput() {
      const ctx = input.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      const img = ctx.createImageData(SIDE, SIDE), n = SIDE * SIDE;
      for (let p = 0; p < n; p++) img.data.set([pixels[p], pixels[n + p], pixels[2 * n + p], 255], p * 4);
      const small = el("canvas", { width: SIDE, height: SIDE });
      small.getContext("2d").putImageData(img, 0, 0);
      ctx.drawImage(small, 0, 0, SIDE * ZOOM, SIDE * ZOOM);
      const box = fieldOfSelection();
      if (box) {
        ctx.lineWidth = 3;
        ctx.strokeStyle = cfg.colors.window;
        ctx.strokeRect(box.left * ZOOM + 1.5, box.top * ZOOM + 1.5, (box.right - box.left) * ZOOM - 3, (box.bottom - box.top) * ZOOM - 3);
      }
      channels.forEach((canvas, c) => ns.paintTiles(canvas, { c: 1, h: SIDE, w: SIDE, data: Array.from(pixels.subarray(c * n, (c + 1) * n)) }, 1, cfg.colors.channel, false, 255));
    }

    function mapOf(name) {
      return result.outputs[N.convOutputIndex(model.layers, name === "conv1" ? 1 : 2)];
    }

    function drawMaps() {
      for (const [name, grid] of Object.entries(layerGrids)) {
        const t = mapOf(name), n = t.h * t.w;
        grid.previousSibling.textContent = `${name}: its ${t.c} maps of ${t.h}×${t.w} after ReLU, channel numbers above. `
          + "Each map on its own scale: palest 0, darkest its largest value; an all-pale map is 0 everywhere for this image.";
        if (grid.children.length !== t.c) {
          grid.replaceChildren(...Array.from({ length: t.c }, (_, c) => {
            const canvas = el("canvas", { class: "cnn-map", width: t.w, height: t.h });
            canvas.addEventListener("click", (e) => {
              const box = canvas.getBoundingClientRect();
              select(name, c, Math.floor(((e.clientY - box.top) / box.height) * t.h), Math.floor(((e.clientX - box.left) / box.width) * t.w));
              grid.focus();
            });
            return el("div", { class: "cnn-map-tile" }, el("span", { text: String(c) }), canvas);
          }));
        }
        [...grid.children].forEach((tile, c) => {
          const plane = { c: 1, h: t.h, w: t.w, data: t.data.subarray(c * n, (c + 1) * n) };
          let top = 0;
          for (const v of plane.data) top = Math.max(top, v);
          ns.paintTiles(tile.querySelector("canvas"), plane, 1, cfg.colors.maps, false, top || 1);
          const on = selected.layer === name && selected.channel === c;
          tile.classList.toggle("cnn-selected", on);
          if (on) {
            const ctx = tile.querySelector("canvas").getContext("2d");
            ctx.fillStyle = cfg.colors.window;
            ctx.fillRect(selected.j, selected.i, 1, 1);
          }
        });
        grid.setAttribute("aria-label", `${name} feature maps; selected: ${selected.layer === name ? `channel ${selected.channel}` : "none"}`);
      }
    }

    function fieldOfSelection() {
      if (!model) return null;
      const field = N.receptiveField(model.layers, N.convOutputIndex(model.layers, selected.layer === "conv1" ? 1 : 2));
      return N.fieldBox(field, selected.i, selected.j, SIDE, SIDE);
    }

    function drawUnit() {
      const t = mapOf(selected.layer), box = fieldOfSelection();
      const value = t.data[(selected.channel * t.h + selected.i) * t.w + selected.j];
      unitText.textContent = `Selected: ${selected.layer} channel ${selected.channel}, row ${selected.i}, column ${selected.j}: `
        + `${value.toFixed(3)}. It sees input rows ${box.top}–${box.bottom - 1} and columns ${box.left}–${box.right - 1} (outlined on the image).`;
      const conv = model.layers[N.convOutputIndex(model.layers, selected.layer === "conv1" ? 1 : 2, { afterRelu: false })];
      const w = model.tensors[conv.weight], [, cin, k] = w.shape;
      const kernel = w.values.subarray(selected.channel * cin * k * k, (selected.channel + 1) * cin * k * k);
      let top = 0;
      for (const v of kernel) top = Math.max(top, Math.abs(v));
      kernelGrid.replaceChildren(...Array.from({ length: cin }, (_, c) => {
        const canvas = el("canvas", { class: "cnn-kernel", width: k, height: k });
        ns.paintTiles(canvas, { c: 1, h: k, w: k, data: kernel.subarray(c * k * k, (c + 1) * k * k) }, 1, cfg.colors.signed, true, top);
        return el("div", { class: "cnn-map-tile" }, el("span", { text: selected.layer === "conv1" ? CHANNELS[c] : String(c) }), canvas);
      }));
      kernelCaption.textContent = `The ${cin} × ${k}×${k} weights of ${selected.layer} channel ${selected.channel}, one ${k}×${k} kernel per `
        + `${selected.layer === "conv1" ? "input colour" : "conv1 channel (after pooling)"}: red positive, blue negative, white 0 (largest |w| = ${top.toFixed(3)}).`;
    }

    function drawProbabilities() {
      const p = result.probabilities, top3 = N.topK(p, 3);
      bars.forEach(({ row, fill, value, rank }, d) => {
        const r = top3.indexOf(d);
        fill.style.width = `${(100 * p[d]).toFixed(1)}%`;
        value.textContent = `${(100 * p[d]).toFixed(1)} %`;
        rank.textContent = r >= 0 ? `#${r + 1}` : "";
        row.classList.toggle("cnn-top", r >= 0);
        row.setAttribute("aria-label", `${model.header.classes[d]}: ${(100 * p[d]).toFixed(1)} percent${r >= 0 ? `, rank ${r + 1}` : ""}`);
      });
      const best = top3[0];
      verdict.textContent = `The network's answer: ${model.header.classes[best]} (${(100 * p[best]).toFixed(1)} %).`;
    }

    function drawOcclusion(map) {
      const ctx = occlusionCanvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, occlusionCanvas.width, occlusionCanvas.height);
      if (!map) return;
      let top = 0;
      for (const v of map) top = Math.max(top, Math.abs(v));
      for (let r = 0; r < SIDE; r++) {
        for (let c = 0; c < SIDE; c++) {
          ctx.fillStyle = ns.css(ns.rampColor(cfg.colors.signed, (map[r * SIDE + c] / (top || 1) + 1) / 2));
          ctx.fillRect(c * ZOOM, r * ZOOM, ZOOM, ZOOM);
        }
      }
    }

    // --- computing -------------------------------------------------------------
    function update() {
      drawInput();
      if (!model) return;
      result = N.forward(model, N.standardise(model, pixels));
      drawProbabilities();
      drawMaps();
      drawUnit();
      startOcclusion();
    }

    // Occlusion needs one forward pass per patch position: computed in
    // slices between frames, restarted whenever the image changes.
    function startOcclusion() {
      const mine = ++generation, target = N.topK(result.probabilities, 1)[0], name = model.header.classes[target];
      const steps = N.occlusionSteps(model, N.standardise(model, pixels), target, patch, stride);
      drawOcclusion(null);
      let resolve;
      occlusionRun = { promise: new Promise((r) => (resolve = r)), map: null };
      const run = occlusionRun;
      const slice = () => {
        if (mine !== generation) return;
        const until = performance.now() + 30;
        for (;;) {
          const step = steps.next();
          if (step.done) {
            run.map = step.value;
            drawOcclusion(step.value);
            occlusionCaption.textContent = `occlusion for "${name}"`;
            resolve(Array.from(step.value));
            return;
          }
          occlusionCaption.textContent = `occlusion for "${name}": ${Math.round(100 * step.value)} %…`;
          if (performance.now() > until) break;
        }
        setTimeout(slice, 0);
      };
      slice();
    }

    function select(layer, channel, i, j) {
      if (!model) return;
      const t = mapOf(layer);
      const clamp = (v, hi) => Math.min(hi - 1, Math.max(0, Number.isFinite(v) ? v : 0));
      selected = { layer, channel: clamp(channel, t.c), i: clamp(i, t.h), j: clamp(j, t.w) };
      drawInput();
      drawMaps();
      drawUnit();
    }

    for (const [name, grid] of Object.entries(layerGrids)) {
      grid.addEventListener("keydown", (e) => {
        if (!model) return;
        const s = selected.layer === name ? { ...selected } : { layer: name, channel: 0, i: 0, j: 0 };
        const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
        if (e.key in moves) { s.i += moves[e.key][0]; s.j += moves[e.key][1]; }
        else if (e.key === "PageDown" || e.key === "]") s.channel += 1;
        else if (e.key === "PageUp" || e.key === "[") s.channel -= 1;
        else if (e.key === "Home") s.channel = 0;
        else if (e.key === "End") s.channel = mapOf(name).c - 1;
        else return;
        e.preventDefault();
        select(name, s.channel, s.i, s.j);
      });
    }

    // --- the reader's photo ------------------------------------------------------
    async function loadPhoto(file) {
      if (!file || !file.type.startsWith("image/")) {
        status.textContent = `${file ? file.name : "That"} is not an image file.`;
        return;
      }
      try {
        const bitmap = await createImageBitmap(file);
        const crop = N.centreCrop(bitmap.width, bitmap.height);
        const canvas = el("canvas", { width: SIDE, height: SIDE }), ctx = canvas.getContext("2d");
        ctx.imageSmoothingEnabled = true;
        ctx.imageSmoothingQuality = "high";
        ctx.drawImage(bitmap, crop.x, crop.y, crop.size, crop.size, 0, 0, SIDE, SIDE);
        status.textContent = "";
        setPixels(N.rgbaToChw(ctx.getImageData(0, 0, SIDE, SIDE).data, SIDE, SIDE), `your photo (${bitmap.width}×${bitmap.height}, centre square)`);
      } catch (err) {
        status.textContent = `Could not read ${file.name} as an image: ${err.message}`;
      }
    }
    picker.addEventListener("change", () => loadPhoto(picker.files[0]));
    input.addEventListener("dragover", (e) => e.preventDefault());
    input.addEventListener("drop", (e) => {
      e.preventDefault();
      loadPhoto(e.dataTransfer.files[0]);
    });

    function setPixels(u8, label) {
      pixels = Uint8Array.from(u8);
      source = label;
      inputCaption.textContent = `input (32×32): ${source}`;
      update();
    }

    function buildProbabilities() {
      model.header.classes.forEach((name) => {
        const fill = el("span", { class: "cnn-bar-fill" });
        fill.style.background = cfg.colors.bar;
        const value = el("span", { class: "cnn-prob-value" }), rank = el("span", { class: "cnn-rank" });
        const row = el("div", { class: "cnn-prob cnn-prob-named", role: "listitem" },
          el("span", { class: "cnn-prob-label", text: name }), el("span", { class: "cnn-bar", "aria-hidden": "true" }, fill), value, rank);
        probs.append(row);
        bars.push({ row, fill, value, rank });
      });
    }

    function buildThumbs() {
      const n = SIDE * SIDE * 3, groups = {};
      cfg.labels.forEach((label, k) => {
        const image = samples.subarray(k * n, (k + 1) * n);
        const canvas = el("canvas", { width: SIDE, height: SIDE, "aria-hidden": "true" });
        const img = canvas.getContext("2d").createImageData(SIDE, SIDE), m = SIDE * SIDE;
        for (let p = 0; p < m; p++) img.data.set([image[p], image[m + p], image[2 * m + p], 255], p * 4);
        canvas.getContext("2d").putImageData(img, 0, 0);
        const count = (groups[label] = groups[label] || el("div", { class: "cnn-thumb-group" }, el("span", { text: label }))).children.length;
        const button = el("button", { type: "button", class: "cnn-thumb", "aria-label": `Load test image ${count} of class ${label}` }, canvas);
        button.addEventListener("click", () => setPixels(image, `a test ${label}`));
        groups[label].append(button);
      });
      thumbs.replaceChildren(el("span", { text: "Test images:" }), ...Object.values(groups));
    }

    let loaded;
    const api = {
      ready: new Promise((resolve, reject) => (loaded = { resolve, reject })),
      setImage(u8) {
        if (!u8 || u8.length !== 3 * SIDE * SIDE || !Array.from(u8).every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
          throw new Error("cifarExplorer.setImage: give 3072 integers 0–255 (3×32×32, channel by channel: red, green, blue)");
        }
        setPixels(u8, "set from code");
      },
      pixels: () => (pixels ? Array.from(pixels) : null),
      probabilities: () => (result ? result.probabilities.slice() : null),
      featureMaps(name) {
        if (name !== "conv1" && name !== "conv2") throw new Error('featureMaps takes "conv1" or "conv2"');
        return result ? Array.from(mapOf(name).data) : null;
      },
      occlusion: () => (occlusionRun ? occlusionRun.promise : Promise.resolve(null)),
      select: (layer, channel, i, j) => select(layer, channel, i, j),
      selection: () => ({ ...selected, field: fieldOfSelection(), text: unitText.textContent }),
    };
    api.ready.catch(() => {});
    ns.cifarExplorer = api;

    Promise.all([
      ns.loadModel(cfg.weights, cfg.input),
      fetch(new URL(cfg.samples, ns.staticBase)).then((r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status} for the test images`);
        return r.arrayBuffer();
      }),
    ]).then(([m, buffer]) => {
      if (buffer.byteLength !== cfg.labels.length * 3 * SIDE * SIDE) {
        throw new Error(`the test images file has ${buffer.byteLength} bytes, expected ${cfg.labels.length * 3 * SIDE * SIDE}`);
      }
      if (!m.header.classes || m.header.classes.length !== 10) throw new Error("the weights file does not name ten classes");
      model = m;
      samples = new Uint8Array(buffer);
      buildProbabilities();
      buildThumbs();
      fallback.hidden = true;
      ui.hidden = false;
      status.textContent = "";
      setPixels(samples.subarray(0, 3 * SIDE * SIDE), `a test ${cfg.labels[0]}`);
      loaded.resolve(true);
    }).catch((err) => {
      status.textContent = ns.loadError(cfg.weights, err);
      loaded.reject(err);
    });
  }

  ns.mount("cifar-explorer", mount);
})();
