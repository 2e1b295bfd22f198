// The CIFAR-10 explorer (chapter 3): the chapter's trained 2-block CNN run in
// the page (numerics.js) on a test image or the reader's own photo, layer by
// layer: the three input channels, conv1's and conv2's maps (after their
// activation, as the next conv receives them), the ten probabilities, a
// selected unit's receptive field and weights, and an occlusion map for the
// predicted class. A switch runs another network instead (the ladder's top
// rung), its file fetched only when the reader first picks it. The image
// shown is the one the reader chose last (a slower decode never replaces
// it); a photo's transparent parts are white; a file's problem is said
// beside the control it came from.
// Test hook: window.cnnTutorial.cifarExplorer.{ready, setImage, pixels,
// probabilities, logits, featureMaps, occlusion, select, selection,
// useNetwork, network}.
(() => {
  "use strict";
  const ns = window.cnnTutorial, N = ns.numerics;
  const SIDE = 32, ZOOM = 5, DETAIL = 128, CHANNELS = ["R", "G", "B"];

  function mount(root, cfg, fallback, widget) {
    const el = ns.el, on = widget.on;
    let model = null, samples = null, pixels = null, result = null, source = "";
    let selected = null, occlusionRun = null, generation = 0, choice = 0, bars = null;
    let current = 0, switching = 0, drawnModel = null;
    const { patch, stride } = cfg.occlusion;
    // the networks on the switch (none: only the one in cfg.weights), each
    // loaded once, when first needed
    const networks = cfg.networks && cfg.networks.length ? cfg.networks : [{ weights: cfg.weights }];
    const loads = [];
    const loadNetwork = (k) => (loads[k] = loads[k] || ns.loadModel(networks[k].weights, cfg.input).then((m) => {
      if (!m.header.classes || m.header.classes.length !== 10) throw new Error("the weights file does not name ten classes");
      return m;
    }));

    // --- the page parts ------------------------------------------------------
    const status = el("p", { class: "cnn-message", role: "status", text: "Loading the trained network…" });
    const input = el("canvas", { class: "cnn-photo", width: SIDE * ZOOM, height: SIDE * ZOOM, role: "img", "aria-label": "The 32 by 32 input image; drop a photo here" });
    const inputCaption = el("div", { class: "cnn-panel-caption" });
    const channels = CHANNELS.map((name) => el("canvas", { class: "cnn-channel", role: "img", "aria-label": `${name} channel` }));
    const occlusionCanvas = el("canvas", { class: "cnn-photo", width: SIDE * ZOOM, height: SIDE * ZOOM, role: "img", "aria-label": "Occlusion map" });
    const occlusionCaption = el("div", { class: "cnn-panel-caption" });
    const occlusionHelp = el("p", { class: "cnn-help", text: `Occlusion map: each pixel is the mean drop in the predicted class's probability `
      + `when a grey ${patch}×${patch} square (stride ${stride}) covers it. Red: hiding it lowers the probability; blue: hiding it raises it; `
      + "white: no change. One scale per image, symmetric around 0." });
    const probs = el("div");
    const verdict = el("p", { class: "cnn-verdict", "aria-live": "polite" });

    const photoId = widget.id("cnn-cifar-photo"), helpId = widget.id("cnn-cifar-help");
    // a photo's problem, beside the control it came from
    const pickerError = el("p", { class: "cnn-message", role: "alert", id: widget.id("cnn-cifar-photo-error") });
    const dropError = el("p", { class: "cnn-message", role: "alert" });
    const picker = el("input", { type: "file", accept: "image/*", id: photoId, "aria-describedby": pickerError.id });
    const thumbs = el("div", { class: "cnn-thumbs", role: "group", "aria-label": "Test images to load" });
    const ownScale = el("input", { type: "checkbox", id: widget.id("cnn-cifar-own-scale") });
    const layerGrids = {}, layerHelp = el("p", {
      id: helpId, class: "cnn-help",
      text: "Click a map to select it and the unit under the pointer; the selected map is shown enlarged beside (above, on a phone) "
        + "the maps, where a click picks a unit precisely. By keyboard, focus the maps: the arrow keys move the unit, "
        + "Page Up and Page Down (or [ and ]) change the channel, Home and End go to the first and last channel.",
    });
    const unitInput = el("canvas", { class: "cnn-detail", width: DETAIL, height: DETAIL, role: "img", "aria-label": "The input with the selected unit's receptive field" });
    const unitMap = el("canvas", { class: "cnn-detail cnn-pick", width: DETAIL, height: DETAIL, role: "img", "aria-label": "The selected map, enlarged; click to pick a unit" });
    const unitMapCaption = el("div", { class: "cnn-panel-caption" });
    const unitText = el("p", { class: "cnn-unit", "aria-live": "polite" });
    const kernelGrid = el("div", { class: "cnn-kernels" });
    const kernelCaption = el("div", { class: "cnn-panel-caption" });

    // the network switch: radio buttons (arrow keys move between them)
    const switchNote = el("p", { class: "cnn-help", role: "status" });
    const switchError = el("p", { class: "cnn-message", role: "alert" });
    const radios = networks.map((net, k) => el("input", { type: "radio", name: widget.id("cnn-cifar-network"), id: widget.id(`cnn-cifar-network-${k}`), value: String(k) }));
    const networkSwitch = networks.length < 2 ? el("div") : el("fieldset", { class: "cnn-networks" },
      el("legend", { text: "Network run in the page" }),
      ...networks.map((net, k) => el("label", { for: radios[k].id }, radios[k], el("span", { text: ` ${net.label}` }))),
      switchNote, switchError);
    radios.forEach((radio, k) => on(radio, "change", () => (radio.checked ? useNetwork(k) : undefined)));

    const panel = (child, ...captions) => el("div", { class: "cnn-panel" }, child, ...captions);
    const channelBlock = el("div", { class: "cnn-panel" },
      el("div", { class: "cnn-channel-row" }, ...channels.map((c, k) => panel(c, el("div", { class: "cnn-panel-caption", text: CHANNELS[k] })))),
      el("div", { class: "cnn-panel-caption cnn-narrow", text: "red, green, blue as pixel values 0–255 (bright = high); the network receives each standardised by its mean and spread" }));
    const unitPanel = el("div", { class: "cnn-unit-panel" },
      el("div", { class: "cnn-detail-row" },
        panel(unitInput, el("div", { class: "cnn-panel-caption", text: "receptive field" })),
        panel(unitMap, unitMapCaption)),
      unitText, kernelGrid, kernelCaption);

    // shown once the network has loaded; until then (or if it cannot load)
    // the static figure and one line of status
    const ui = el("div", { class: "cnn-cifar-ui", hidden: "" }, networkSwitch,
      el("div", { class: "cnn-stage" }, el("div", { class: "cnn-panel cnn-photo-panel" }, input, inputCaption, dropError),
        el("div", { class: "cnn-panel cnn-photo-panel" }, occlusionCanvas, occlusionCaption), channelBlock),
      occlusionHelp,
      el("div", { class: "cnn-prob-panel cnn-cifar-probs" }, probs, verdict),
      el("div", { class: "cnn-buttons" }, el("label", { for: photoId, text: "Your own photo (or drop one on the image): " }), picker),
      pickerError,
      el("p", { class: "cnn-help", text: "A photo is cropped to its centre square and shrunk to 32×32 in your browser; it never leaves the page." }),
      thumbs,
      el("div", { class: "cnn-explore" },
        el("div", { class: "cnn-explore-maps" }, layerHelp,
          el("label", { class: "cnn-check" }, ownScale, el("span", { text: " each map on its own colour scale (shows weak maps; they are then not comparable)" })),
          ...["conv1", "conv2"].map((name) => {
            layerGrids[name] = el("div", { class: "cnn-map-grid", tabindex: "0", role: "group", "aria-describedby": helpId });
            return el("div", { class: "cnn-map-block" }, el("div", { class: "cnn-panel-caption cnn-map-title" }), layerGrids[name]);
          })),
        unitPanel));
    root.append(status, ui);

    // --- drawing ---------------------------------------------------------------
    // A photo (uint8, (C, H, W)) on a canvas, `zoom` pixels per pixel, with
    // the selected unit's receptive field outlined.
    function drawPhoto(canvas, zoom) {
      const small = ns.paintImage(el("canvas"), pixels, SIDE, SIDE);
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(small, 0, 0, SIDE * zoom, SIDE * zoom);
      const box = fieldOfSelection();
      if (box) {
        ctx.lineWidth = 3;
        ctx.strokeStyle = cfg.colors.window;
        ctx.strokeRect(box.left * zoom + 1.5, box.top * zoom + 1.5, (box.right - box.left) * zoom - 3, (box.bottom - box.top) * zoom - 3);
      }
    }

    function drawInput() {
      drawPhoto(input, ZOOM);
      const n = SIDE * SIDE;
      channels.forEach((canvas, c) => ns.paintTiles(canvas, { c: 1, h: SIDE, w: SIDE, data: Array.from(pixels.subarray(c * n, (c + 1) * n)) }, 1, cfg.colors.channel, false, 255));
    }

    const convIndex = (name, activated = true) => N.convOutputIndex(model.layers, name === "conv1" ? 1 : 2, { activated });
    // What lies between a conv and the map shown for it, in words.
    const WORDS = { maxpool: (l) => `${l.size}×${l.size} max pooling`, affine: () => "BatchNorm", relu: () => "the ReLU", gelu: () => "the GELU" };
    function steps(name) {
      const words = model.layers.slice(convIndex(name, false) + 1, convIndex(name) + 1).map((l) => WORDS[l.type](l));
      return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
    }
    const mapOf = (name) => result.outputs[convIndex(name)];
    const plane = (t, c) => ({ c: 1, h: t.h, w: t.w, data: t.data.subarray(c * t.h * t.w, (c + 1) * t.h * t.w) });
    const largest = (values) => values.reduce((a, v) => Math.max(a, v), 0);

    // One map, `scale` canvas pixels per unit, a ring around unit `mark`.
    function paintMap(canvas, map, vmax, scale, mark) {
      const small = el("canvas");
      ns.paintTiles(small, map, 1, cfg.colors.maps, false, vmax || 1);
      canvas.width = map.w * scale;
      canvas.height = map.h * scale;
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
      if (mark) {
        ctx.lineWidth = Math.max(1, scale / 3);
        ctx.strokeStyle = cfg.colors.window;
        const pad = Math.max(1, scale / 4);
        ctx.strokeRect(mark.j * scale - pad, mark.i * scale - pad, scale + 2 * pad, scale + 2 * pad);
      }
    }

    function drawMaps() {
      for (const [name, grid] of Object.entries(layerGrids)) {
        const t = mapOf(name), layerMax = largest(t.data), zero = t.data.some((v) => v < 0) ? "0 or less" : "0";
        grid.previousSibling.textContent = `${name}: its ${t.c} maps of ${t.h}×${t.w} after ${steps(name)}, channel numbers above; `
          + (ownScale.checked ? `each map on its own scale, palest ${zero}, darkest that map's largest value`
            : `one colour scale for the layer, palest ${zero}, darkest ${layerMax.toFixed(2)}`) + ".";
        if (grid.children.length !== t.c || drawnModel !== model) {
          grid.replaceChildren(...Array.from({ length: t.c }, (_, c) => {
            const canvas = el("canvas", { class: "cnn-map" });
            on(canvas, "click", (e) => {
              const box = canvas.getBoundingClientRect(), shape = mapOf(name);
              select(name, c, Math.floor(((e.clientY - box.top) / box.height) * shape.h), Math.floor(((e.clientX - box.left) / box.width) * shape.w));
              grid.focus();
            });
            return el("div", { class: "cnn-map-tile" }, el("span", { text: String(c) }), canvas);
          }));
        }
        [...grid.children].forEach((tile, c) => {
          const map = plane(t, c), on = selected.layer === name && selected.channel === c;
          paintMap(tile.querySelector("canvas"), map, ownScale.checked ? largest(map.data) : layerMax, 4, on ? selected : null);
          tile.classList.toggle("cnn-selected", on);
        });
        grid.setAttribute("aria-label", `${name} feature maps; selected: ${selected.layer === name ? `channel ${selected.channel}` : "none"}`);
      }
      drawnModel = model;
    }

    function fieldOfSelection() {
      if (!model || !selected) return null;
      return N.fieldBox(N.receptiveField(model.layers, convIndex(selected.layer)), selected.i, selected.j, SIDE, SIDE);
    }

    function drawUnit() {
      const t = mapOf(selected.layer), box = fieldOfSelection(), map = plane(t, selected.channel);
      const value = map.data[selected.i * t.w + selected.j];
      drawPhoto(unitInput, DETAIL / SIDE);
      paintMap(unitMap, map, ownScale.checked ? largest(map.data) : largest(t.data), DETAIL / t.w, selected);
      unitMapCaption.textContent = `${selected.layer}, channel ${selected.channel}`;
      unitText.textContent = `Selected: ${selected.layer} channel ${selected.channel}, row ${selected.i}, column ${selected.j}: `
        + `${value.toFixed(3)}. It sees input rows ${box.top}–${box.bottom - 1} and columns ${box.left}–${box.right - 1} (outlined).`;
      const w = model.tensors[model.layers[convIndex(selected.layer, false)].weight], [, cin, k] = w.shape;
      const kernel = w.values.subarray(selected.channel * cin * k * k, (selected.channel + 1) * cin * k * k);
      const top = kernel.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      kernelGrid.replaceChildren(...Array.from({ length: cin }, (_, c) => {
        const canvas = el("canvas", { class: "cnn-kernel", width: k, height: k });
        ns.paintTiles(canvas, { c: 1, h: k, w: k, data: kernel.subarray(c * k * k, (c + 1) * k * k) }, 1, cfg.colors.signed, true, top);
        return el("div", { class: "cnn-map-tile" }, el("span", { text: selected.layer === "conv1" ? `from ${CHANNELS[c]}` : String(c) }), canvas);
      }));
      const pooled = model.layers.slice(convIndex("conv1") + 1, convIndex("conv2", false)).some((l) => l.type === "maxpool");
      kernelCaption.textContent = `Its weights: ${cin} kernels of ${k}×${k}, one per `
        + `${selected.layer === "conv1" ? "input colour" : `conv1 channel${pooled ? " (its pooled map)" : ""}`}; red positive, blue negative, white 0, `
        + `one scale (largest |w| = ${top.toFixed(3)}).`;
    }

    function drawProbabilities() {
      const p = result.probabilities, [best] = bars.show(p);
      verdict.textContent = `The network's answer: ${model.header.classes[best]} (${(100 * p[best]).toFixed(1)} %).`;
    }

    function drawOcclusion(map) {
      const ctx = occlusionCanvas.getContext("2d");
      ctx.fillStyle = map ? "#fff" : "#e4e4e4";      // grey while computing
      ctx.fillRect(0, 0, occlusionCanvas.width, occlusionCanvas.height);
      if (!map) return;
      const top = map.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      for (let r = 0; r < SIDE; r++) {
        for (let c = 0; c < SIDE; c++) {
          ctx.fillStyle = ns.css(ns.rampColor(cfg.colors.signed, (map[r * SIDE + c] / (top || 1) + 1) / 2));
          ctx.fillRect(c * ZOOM, r * ZOOM, ZOOM, ZOOM);
        }
      }
    }

    // The strongest conv1 unit of an image: what is selected at first.
    function strongestUnit() {
      const t = mapOf("conv1");
      let best = 0;
      t.data.forEach((v, k) => { if (v > t.data[best]) best = k; });
      const c = Math.floor(best / (t.h * t.w)), rest = best % (t.h * t.w);
      return { layer: "conv1", channel: c, i: Math.floor(rest / t.w), j: rest % t.w };
    }

    // --- computing -------------------------------------------------------------
    function update() {
      if (model) {
        result = N.forward(model, N.standardise(model, pixels));
        if (!selected) selected = strongestUnit();
      }
      drawInput();              // with the selected unit's field, if any
      if (!model) return;
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
            occlusionCaption.textContent = `occlusion for "${name}" (red: hiding lowers it)`;
            resolve(Array.from(step.value));
            return;
          }
          occlusionCaption.textContent = `occlusion for "${name}": computing, ${Math.round(100 * step.value)} %`;
          if (performance.now() > until) break;
        }
        setTimeout(widget.guard(slice), 0);
      };
      slice();
    }

    function select(layer, channel, i, j) {
      if (!model) return;
      const t = mapOf(layer);
      const clamp = (v, hi) => Math.min(hi - 1, Math.max(0, Number.isFinite(v) ? Math.floor(v) : 0));
      selected = { layer, channel: clamp(channel, t.c), i: clamp(i, t.h), j: clamp(j, t.w) };
      drawInput();
      drawMaps();
      drawUnit();
    }

    on(ownScale, "change", () => { if (result) { drawMaps(); drawUnit(); } });
    on(unitMap, "click", (e) => {
      if (!result) return;
      const box = unitMap.getBoundingClientRect(), t = mapOf(selected.layer);
      select(selected.layer, selected.channel, Math.floor(((e.clientY - box.top) / box.height) * t.h), Math.floor(((e.clientX - box.left) / box.width) * t.w));
    });
    for (const [name, grid] of Object.entries(layerGrids)) {
      // focusing another layer's maps selects its channel 0, at the centre
      on(grid, "focus", () => {
        if (result && selected.layer !== name) select(name, 0, mapOf(name).h / 2, mapOf(name).w / 2);
      });
      on(grid, "keydown", (e) => {
        if (!model) return;
        const s = { ...selected };
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
    // Any file is tried (a PNG without an extension is still a PNG). Only
    // the latest choice is shown: a choice made while an earlier photo is
    // still decoding wins, whichever decode ends last.
    async function loadPhoto(file, errorLine) {
      const mine = ++choice;
      if (!file) return;
      let bitmap;
      try {
        bitmap = await createImageBitmap(file);
      } catch (err) {
        if (mine !== choice) return;
        pickerError.textContent = dropError.textContent = "";
        errorLine.textContent = `${file.name} is not an image this browser can read; the current image stays.`;
        return;
      }
      if (mine !== choice) return bitmap.close();
      const { width, height } = bitmap, crop = N.centreCrop(width, height);
      const canvas = el("canvas", { width: SIDE, height: SIDE }), ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";                  // transparent parts on white
      ctx.fillRect(0, 0, SIDE, SIDE);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(bitmap, crop.x, crop.y, crop.size, crop.size, 0, 0, SIDE, SIDE);
      bitmap.close();
      setPixels(N.rgbaToChw(ctx.getImageData(0, 0, SIDE, SIDE).data, SIDE, SIDE), `your photo (${width}×${height}, centre square)`);
    }
    on(picker, "change", () => loadPhoto(picker.files[0], pickerError));
    on(input, "dragover", (e) => { e.preventDefault(); input.classList.add("cnn-drop"); });
    on(input, "dragleave", () => input.classList.remove("cnn-drop"));
    on(input, "drop", (e) => {
      e.preventDefault();
      input.classList.remove("cnn-drop");
      return loadPhoto(e.dataTransfer.files[0], dropError);
    });

    let thumbButtons = [];
    // Show an image (3×32×32 uint8); a good image clears a photo's error.
    function setPixels(u8, label, button = null) {
      pixels = Uint8Array.from(u8);
      pickerError.textContent = dropError.textContent = "";
      source = label;
      thumbButtons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      inputCaption.textContent = `input (32×32): ${source}`;
      update();
    }

    function buildThumbs() {
      const n = SIDE * SIDE * 3, groups = {};
      cfg.labels.forEach((label, k) => {
        const image = samples.subarray(k * n, (k + 1) * n);
        const canvas = ns.paintImage(el("canvas", { "aria-hidden": "true" }), image, SIDE, SIDE);
        const count = (groups[label] = groups[label] || el("div", { class: "cnn-thumb-group" }, el("span", { text: label }))).children.length;
        const button = el("button", { type: "button", class: "cnn-thumb", "aria-label": `Load test image ${count} of class ${label}` }, canvas);
        on(button, "click", () => {
          choice++;                            // a photo still decoding is dropped
          setPixels(image, `a test ${label}`, button);
        });
        groups[label].append(button);
        thumbButtons.push(button);
      });
      thumbs.replaceChildren(el("span", { class: "cnn-thumbs-title", text: "Test images:" }), ...Object.values(groups));
    }

    const api = {
      setImage(u8) {
        if (!u8 || u8.length !== 3 * SIDE * SIDE || !Array.from(u8).every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
          throw new Error("cifarExplorer.setImage: give 3072 integers 0–255 (3×32×32, channel by channel: red, green, blue)");
        }
        choice++;
        setPixels(u8, "set from code");
      },
      pixels: () => (pixels ? Array.from(pixels) : null),
      probabilities: () => (result ? result.probabilities.slice() : null),
      logits: () => (result ? result.logits.slice() : null),
      featureMaps(name) {
        if (name !== "conv1" && name !== "conv2") throw new Error('featureMaps takes "conv1" or "conv2"');
        return result ? Array.from(mapOf(name).data) : null;
      },
      occlusion: () => (occlusionRun ? occlusionRun.promise : Promise.resolve(null)),
      select: (layer, channel, i, j) => select(layer, channel, i, j),
      selection: () => ({ ...selected, field: fieldOfSelection(), text: unitText.textContent }),
      useNetwork: (k) => useNetwork(k),
      network: () => ({ index: current, label: networks[current].label }),
    };

    // Run network k instead: everything shown is recomputed for it, from
    // its strongest conv1 unit. The switch says when a file is loading; a
    // file that fails is named there and the current network stays.
    async function useNetwork(k) {
      if (!(Number.isInteger(k) && k >= 0 && k < networks.length)) throw new Error(`useNetwork takes 0..${networks.length - 1}, got ${k}`);
      const mine = ++switching;
      radios.forEach((r, i) => (r.checked = i === k));
      switchError.textContent = "";
      switchNote.textContent = loads[k] ? "" : `Loading ${networks[k].label.split(":")[0]} (${networks[k].kb} kB)…`;
      let m;
      try {
        m = await loadNetwork(k);
      } catch (err) {
        loads[k] = null;                 // a later try fetches it again
        if (mine !== switching) return;
        switchNote.textContent = "";
        radios.forEach((r, i) => (r.checked = i === current));
        switchError.textContent = `Could not load ${networks[k].label.split(":")[0]} (${networks[k].weights}): ${err.message}. The network before stays.`;
        return;
      }
      if (mine !== switching) return;   // the reader chose again meanwhile
      switchNote.textContent = "";
      current = k;
      model = m;
      selected = null;
      update();
    }
    const loading = Promise.all([
      loadNetwork(0),
      fetch(new URL(cfg.samples, ns.staticBase)).then((r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status} for the test images`);
        return r.arrayBuffer();
      }),
    ]);
    api.ready = ns.whenLoaded(loading, networks[0].weights, { status, fallback }, ([m, buffer]) => {
      if (buffer.byteLength !== cfg.labels.length * 3 * SIDE * SIDE) {
        throw new Error(`the test images file has ${buffer.byteLength} bytes, expected ${cfg.labels.length * 3 * SIDE * SIDE}`);
      }
      model = m;
      if (radios.length) radios[0].checked = true;
      samples = new Uint8Array(buffer);
      bars = ns.probabilityBars(model.header.classes, cfg.colors.bar, 3);
      probs.replaceChildren(bars.element);
      buildThumbs();
      ui.hidden = false;
      setPixels(samples.subarray(0, 3 * SIDE * SIDE), `a test ${cfg.labels[0]}`, thumbButtons[0]);
    });
    return api;
  }

  ns.mount("cifar-explorer", "cifarExplorer", mount);
})();
