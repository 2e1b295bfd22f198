// The maths behind the book's in-browser networks, with no page in sight:
// reading the weights file cnn_tutorial.export writes, the layers (conv2d,
// affine, relu, gelu, maxpool, gap, gmp, flatten, linear; one table,
// LAYERS), softmax,
// the forward pass, occlusion, receptive fields, the convolution
// explorer's window sums, and photos (centre crop, pixel order). The
// widgets draw; this module computes. Tested with `node --test tests/js/`.
// A tensor is { c, h, w, data: Float64Array } in (C, H, W) order; a weight
// is { shape, values: Float64Array }.
(function (root, factory) {
  const numerics = factory();
  if (typeof module === "object" && module.exports) module.exports = numerics;
  else (root.cnnTutorial = root.cnnTutorial || {}).numerics = numerics;
})(typeof self !== "undefined" ? self : this, () => {
  "use strict";
  const MAGIC = "CNNW", VERSION = 1;

  // IEEE 754 half precision (stored as uint16) to a number.
  function half(bits) {
    const sign = bits & 0x8000 ? -1 : 1, exp = (bits >> 10) & 0x1f, frac = bits & 0x3ff;
    if (exp === 0) return sign * frac * 2 ** -24;
    if (exp === 31) return frac ? NaN : sign * Infinity;
    return sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }

  // The file's header and tensors ({ shape, values: Float64Array }); any
  // damage is an Error that says what is wrong.
  function parseWeights(buffer) {
    const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer)
      : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    if (bytes.length < 12) throw new Error(`the weights file has ${bytes.length} bytes, too few for a header (truncated?)`);
    if (String.fromCharCode(...bytes.subarray(0, 4)) !== MAGIC) throw new Error(`not a weights file (it does not start with ${MAGIC})`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = view.getUint32(4, true), size = view.getUint32(8, true);
    if (version !== VERSION) throw new Error(`weights file version ${version}, this page reads version ${VERSION}`);
    if (12 + size > bytes.length) throw new Error("the weights file ends inside its header (truncated?)");
    let header;
    try {
      header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + size)));
    } catch (err) {
      throw new Error(`the weights file's header does not parse: ${err.message}`);
    }
    const width = { float16: 2, float32: 4 }[header.dtype];
    if (!width) throw new Error(`unknown dtype ${header.dtype} in the weights file`);
    const stored = (bytes.length - 12 - size) / width;
    if (stored !== header.values) throw new Error(`the weights file holds ${stored} values, its header says ${header.values} (truncated?)`);
    const at = 12 + size, tensors = {};
    for (const [name, t] of Object.entries(header.tensors || {})) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (!(t.offset >= 0 && t.offset + n <= header.values)) throw new Error(`${name} lies outside the weights file`);
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const pos = at + (t.offset + i) * width;
        values[i] = width === 2 ? half(view.getUint16(pos, true)) : view.getFloat32(pos, true);
      }
      tensors[name] = { shape: t.shape, values };
    }
    return { header, tensors };
  }

  const tensor = (c, h, w, data) => ({ c, h, w, data: data || new Float64Array(c * h * w) });
  // The output side of a k×k window over n cells padded by `pad` on each
  // side, stepping by `stride`: ⌊(n + 2·pad − k) / stride⌋ + 1 (< 1: none).
  const outSize = (n, k, pad, stride) => Math.floor((n + 2 * pad - k) / stride) + 1;

  function conv2d(t, weight, bias, pad, stride) {
    const [f, c, k] = weight.shape, W = weight.values;
    if (c !== t.c) throw new Error(`conv2d expects ${c} input channels, got ${t.c}`);
    const ho = outSize(t.h, k, pad, stride), wo = outSize(t.w, k, pad, stride);
    if (!(ho >= 1 && wo >= 1)) throw new Error(`a ${k}×${k} kernel does not fit in ${t.h}×${t.w} padded by ${pad}`);
    const out = tensor(f, ho, wo), o2 = out.data, x = t.data;
    for (let o = 0; o < f; o++) {
      const base = o * ho * wo;
      o2.fill(bias.values[o], base, base + ho * wo);
      for (let ch = 0; ch < c; ch++) {
        for (let m = 0; m < k; m++) {
          // output rows i whose input row i*stride + m - pad is inside
          const i0 = Math.max(0, Math.ceil((pad - m) / stride));
          const i1 = Math.min(ho, Math.floor((t.h - 1 + pad - m) / stride) + 1);
          for (let q = 0; q < k; q++) {
            const wv = W[((o * c + ch) * k + m) * k + q];
            const j0 = Math.max(0, Math.ceil((pad - q) / stride));
            const j1 = Math.min(wo, Math.floor((t.w - 1 + pad - q) / stride) + 1);
            for (let i = i0; i < i1; i++) {
              const row = (ch * t.h + i * stride + m - pad) * t.w - pad + q, to = base + i * wo;
              for (let j = j0; j < j1; j++) o2[to + j] += wv * x[row + j * stride];
            }
          }
        }
      }
    }
    return out;
  }

  function maxpool(t, size, stride = size) {
    const ho = outSize(t.h, size, 0, stride), wo = outSize(t.w, size, 0, stride), out = tensor(t.c, ho, wo);
    for (let ch = 0; ch < t.c; ch++) {
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++) {
          let best = -Infinity;
          for (let m = 0; m < size; m++) {
            for (let q = 0; q < size; q++) best = Math.max(best, t.data[(ch * t.h + i * stride + m) * t.w + j * stride + q]);
          }
          out.data[(ch * ho + i) * wo + j] = best;
        }
      }
    }
    return out;
  }

  const relu = (t) => tensor(t.c, t.h, t.w, t.data.map((v) => (v > 0 ? v : 0)));
  // GELU in PyTorch's tanh form (GELU(approximate="tanh")):
  // x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))).
  const GELU_K = Math.sqrt(2 / Math.PI);
  const gelu = (t) => tensor(t.c, t.h, t.w, t.data.map((v) => 0.5 * v * (1 + Math.tanh(GELU_K * (v + 0.044715 * v * v * v)))));

  function affine(t, scale, shift) {
    const out = tensor(t.c, t.h, t.w), n = t.h * t.w;
    for (let i = 0; i < t.data.length; i++) {
      const ch = Math.floor(i / n);
      out.data[i] = t.data[i] * scale.values[ch] + shift.values[ch];
    }
    return out;
  }

  function gap(t) {
    const out = tensor(t.c, 1, 1), n = t.h * t.w;
    for (let ch = 0; ch < t.c; ch++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += t.data[ch * n + i];
      out.data[ch] = sum / n;
    }
    return out;
  }

  // Global max pooling: each channel's largest value.
  function gmp(t) {
    const out = tensor(t.c, 1, 1), n = t.h * t.w;
    for (let ch = 0; ch < t.c; ch++) {
      let best = -Infinity;
      for (let i = 0; i < n; i++) best = Math.max(best, t.data[ch * n + i]);
      out.data[ch] = best;
    }
    return out;
  }

  function linear(t, weight, bias) {
    const [o, n] = weight.shape;
    if (n !== t.data.length) throw new Error(`linear expects ${n} inputs, got ${t.data.length}`);
    const out = tensor(o, 1, 1);
    for (let r = 0; r < o; r++) {
      let acc = bias.values[r];
      for (let c = 0; c < n; c++) acc += weight.values[r * n + c] * t.data[c];
      out.data[r] = acc;
    }
    return out;
  }

  function softmax(logits) {
    const top = Math.max(...logits), e = Array.from(logits, (v) => Math.exp(v - top));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / total);
  }

  // Every layer type once: the shape it gives (checking its tensors
  // against the shape [c, h, w] that reaches it; need(name, dims) returns a
  // tensor's shape), how it runs, and how it grows a receptive field
  // (null: each unit sees the whole input).
  const LAYERS = {
    conv2d: {
      shape(layer, [c, h, w], need, where) {
        const [f, cin, k, k2] = need(layer.weight, 4);
        if (cin !== c || k !== k2) throw new Error(`${where} expects ${cin} input channels, the layer before gives ${c}`);
        if (need(layer.bias, 1)[0] !== f) throw new Error(`${where}: bias and weight disagree on the number of filters`);
        return [f, outSize(h, k, layer.padding, layer.stride), outSize(w, k, layer.padding, layer.stride)];
      },
      run: (t, layer, T) => conv2d(t, T[layer.weight], T[layer.bias], layer.padding, layer.stride),
      field: ({ size, jump, start }, layer) => ({
        size: size + (layer.kernel - 1) * jump, jump: jump * layer.stride, start: start - layer.padding * jump }),
    },
    affine: {
      shape(layer, shape, need, where) {
        const c = shape[0];
        if (need(layer.scale, 1)[0] !== c || need(layer.shift, 1)[0] !== c) throw new Error(`${where} does not have ${c} channels`);
        return shape;
      },
      run: (t, layer, T) => affine(t, T[layer.scale], T[layer.shift]),
      field: (rf) => rf,
    },
    relu: { shape: (layer, shape) => shape, run: (t) => relu(t), field: (rf) => rf, activation: "ReLU" },
    gelu: { shape: (layer, shape) => shape, run: (t) => gelu(t), field: (rf) => rf, activation: "GELU" },
    maxpool: {
      shape: (layer, [c, h, w]) => [c, outSize(h, layer.size, 0, layer.stride), outSize(w, layer.size, 0, layer.stride)],
      run: (t, layer) => maxpool(t, layer.size, layer.stride),
      field: ({ size, jump, start }, layer) => ({ size: size + (layer.size - 1) * jump, jump: jump * layer.stride, start }),
    },
    gap: { shape: (layer, [c]) => [c, 1, 1], run: (t) => gap(t), field: () => null },
    gmp: { shape: (layer, [c]) => [c, 1, 1], run: (t) => gmp(t), field: () => null },
    flatten: { shape: (layer, [c, h, w]) => [c * h * w, 1, 1], run: (t) => tensor(t.data.length, 1, 1, t.data), field: () => null },
    linear: {
      shape(layer, [c, h, w], need, where) {
        const [o, n] = need(layer.weight, 2);
        if (n !== c * h * w) throw new Error(`${where} expects ${n} inputs, the layer before gives ${c * h * w}`);
        if (need(layer.bias, 1)[0] !== o) throw new Error(`${where}: bias and weight disagree on the number of outputs`);
        return [o, 1, 1];
      },
      run: (t, layer, T) => linear(t, T[layer.weight], T[layer.bias]),
      field: () => null,
    },
  };
  const layerKind = (layer, where = "a layer") => {
    if (!Object.hasOwn(LAYERS, layer.type)) throw new Error(`${where}: unknown layer type ${layer.type}`);
    return LAYERS[layer.type];
  };

  // The shape after each layer, checking every tensor against what reaches
  // it; a weights file that does not fit its own layers is an Error here,
  // before any reader input is run.
  function layerShapes(header, tensors) {
    const need = (name, dims) => {
      const t = tensors[name];
      if (!t) throw new Error(`the weights file has no tensor ${name}`);
      if (t.shape.length !== dims) throw new Error(`${name} has shape [${t.shape}], expected ${dims} dimensions`);
      return t.shape;
    };
    if (!header.input || !Array.isArray(header.input.shape) || header.input.shape.length !== 3) {
      throw new Error("the weights file does not say its input shape");
    }
    let shape = header.input.shape;
    const shapes = (header.layers || []).map((layer, index) => {
      const where = `layer ${index} (${layer.type}${layer.name ? " " + layer.name : ""})`;
      shape = layerKind(layer, where).shape(layer, shape, need, where);
      if (!(shape[1] >= 1 && shape[2] >= 1)) throw new Error(`${where} leaves no output (input too small)`);
      return shape;
    });
    if (!shapes.length) throw new Error("the weights file has no layers");
    const classes = header.classes, outputs = shape[0] * shape[1] * shape[2];
    if (classes && classes.length !== outputs) throw new Error(`${classes.length} class names for ${outputs} outputs`);
    return shapes;
  }

  // A network ready to run: parse, then check every shape.
  function loadModel(buffer) {
    const { header, tensors } = parseWeights(buffer);
    const shapes = layerShapes(header, tensors);
    return { header, tensors, layers: header.layers, shapes, input: header.input };
  }

  // Raw pixels (0..scale, (C, H, W) order) as the network sees them.
  function standardise(model, pixels) {
    const [c, h, w] = model.input.shape, { scale, mean, std } = model.input;
    if (!pixels || pixels.length !== c * h * w) throw new Error(`give ${c * h * w} pixel values (${c}×${h}×${w}, channel by channel)`);
    const t = tensor(c, h, w);
    for (let i = 0; i < t.data.length; i++) {
      const ch = Math.floor(i / (h * w)), v = Number(pixels[i]);
      if (!(v >= 0 && v <= scale)) throw new Error(`pixel values must lie in 0..${scale}, got ${pixels[i]}`);
      t.data[i] = (v / scale - mean[ch]) / std[ch];
    }
    return t;
  }

  // Every layer's output for a standardised input, and the probabilities.
  function forward(model, x) {
    let t = x;
    const outputs = [], T = model.tensors;
    for (const layer of model.layers) {
      t = layerKind(layer).run(t, layer, T);
      outputs.push(t);
    }
    return { outputs, logits: Array.from(t.data), probabilities: softmax(t.data) };
  }

  // Index of the layer whose output a reader looks at for the k-th conv
  // (counting from 1): as the next conv receives it, after the activation
  // (ReLU or GELU) that follows the conv, through any pooling or BatchNorm
  // in between (folded BatchNorm needs no layer); with { activated: false }
  // (or no activation before the next conv) the conv's own output.
  function convOutputIndex(layers, k, { activated = true } = {}) {
    const convs = layers.map((l, i) => (l.type === "conv2d" ? i : -1)).filter((i) => i >= 0);
    if (k < 1 || k > convs.length) throw new Error(`the network has ${convs.length} convolutions, not ${k}`);
    const conv = convs[k - 1];
    if (!activated) return conv;
    for (let i = conv + 1; i < layers.length && ["maxpool", "affine", "relu", "gelu"].includes(layers[i].type); i++) {
      if (LAYERS[layers[i].type].activation) return i;
    }
    return conv;
  }

  // Receptive field of the output of layer `index`: unit (i, j) sees input
  // rows start + i*jump .. start + i*jump + size - 1 (and so for columns).
  function receptiveField(layers, index) {
    let field = { size: 1, jump: 1, start: 0 };
    for (const layer of layers.slice(0, index + 1)) {
      field = layerKind(layer).field(field, layer);
      if (!field) return null;
    }
    return field;
  }

  // The input pixels unit (i, j) of that layer sees, clipped to the image:
  // { top, left, bottom, right } with bottom and right exclusive.
  function fieldBox(field, i, j, h, w) {
    const top = field.start + i * field.jump, left = field.start + j * field.jump;
    return { top: Math.max(0, top), left: Math.max(0, left),
      bottom: Math.min(h, top + field.size), right: Math.min(w, left + field.size) };
  }

  // Occlusion, step by step (the widget draws between steps): grey out one
  // patch × patch square at a time (0: the mean colour once standardised)
  // and record the drop in the target class's probability; each pixel gets
  // the mean drop over the squares that covered it. As
  // cnn_tutorial.attribution.occlusion. Yields the fraction done; returns
  // the map (h*w values, row by row).
  function* occlusionSteps(model, x, target, patch, stride) {
    const { c, h, w } = x, base = forward(model, x).probabilities[target];
    const drop = new Float64Array(h * w), count = new Float64Array(h * w);
    const tops = [];
    for (let top = 0; top + patch <= h; top += stride) tops.push(top);
    const lefts = [];
    for (let left = 0; left + patch <= w; left += stride) lefts.push(left);
    let done = 0;
    for (const top of tops) {
      for (const left of lefts) {
        const grey = tensor(c, h, w, Float64Array.from(x.data));
        for (let ch = 0; ch < c; ch++) {
          for (let r = top; r < top + patch; r++) grey.data.fill(0, (ch * h + r) * w + left, (ch * h + r) * w + left + patch);
        }
        const d = base - forward(model, grey).probabilities[target];
        for (let r = top; r < top + patch; r++) {
          for (let q = left; q < left + patch; q++) { drop[r * w + q] += d; count[r * w + q] += 1; }
        }
        done++;
        yield done / (tops.length * lefts.length);
      }
    }
    return drop.map((v, i) => (count[i] ? v / count[i] : 0));
  }

  function occlusion(model, x, target, patch, stride) {
    const steps = occlusionSteps(model, x, target, patch, stride);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  // The convolution explorer's data: nested arrays ([C][H][W] inputs,
  // [F][C][k][k] filters) to tensors and weights, and back.
  const fromNested = (x) => tensor(x.length, x[0].length, x[0][0].length, Float64Array.from(x.flat(2)));
  const weightOf = (w) => ({ shape: [w.length, w[0].length, w[0][0].length, w[0][0][0].length], values: Float64Array.from(w.flat(3)) });
  const toNested = (t) => Array.from({ length: t.c }, (_, ch) => Array.from({ length: t.h },
    (_, r) => Array.from(t.data.subarray((ch * t.h + r) * t.w, (ch * t.h + r + 1) * t.w))));

  // The input inside a ring of `pad` zeros.
  function padded(t, pad) {
    const h = t.h + 2 * pad, w = t.w + 2 * pad, out = tensor(t.c, h, w);
    for (let ch = 0; ch < t.c; ch++) {
      for (let r = 0; r < t.h; r++) out.data.set(t.data.subarray((ch * t.h + r) * t.w, (ch * t.h + r + 1) * t.w), (ch * h + r + pad) * w + pad);
    }
    return out;
  }

  // Output (f, i, j) of conv2d written out: for each input channel, the
  // window's [input, weight] pairs (padding zeros included) and their sum;
  // the value is the sums plus the bias, as conv2d computes it.
  function windowSum(t, weight, bias, f, i, j, pad, stride) {
    const [, c, k] = weight.shape, xp = padded(t, pad);
    if (c !== t.c) throw new Error(`conv2d expects ${c} input channels, got ${t.c}`);
    const o = outSize(t.h, k, pad, stride);
    if (!(i >= 0 && j >= 0 && i < o && j < o)) throw new Error(`no output cell (${i}, ${j})`);
    const channels = Array.from({ length: c }, (_, ch) => {
      const pairs = [];
      for (let m = 0; m < k; m++) {
        for (let q = 0; q < k; q++) {
          pairs.push([xp.data[(ch * xp.h + i * stride + m) * xp.w + j * stride + q], weight.values[((f * c + ch) * k + m) * k + q]]);
        }
      }
      return { pairs, sum: pairs.reduce((a, [x, w]) => a + x * w, 0) };
    });
    const b = bias.values[f];
    return { channels, bias: b, value: channels.reduce((a, ch) => a + ch.sum, b) };
  }

  // The largest centred square of a width × height photo: { x, y, size }.
  function centreCrop(width, height) {
    if (!(width >= 1 && height >= 1)) throw new Error(`a photo of ${width}×${height} pixels has nothing to crop`);
    const size = Math.min(width, height);
    return { x: Math.floor((width - size) / 2), y: Math.floor((height - size) / 2), size };
  }

  // RGBA pixels (canvas ImageData order) to (C, H, W) channel-major RGB.
  function rgbaToChw(rgba, h, w) {
    const out = new Uint8Array(3 * h * w);
    for (let p = 0; p < h * w; p++) for (let ch = 0; ch < 3; ch++) out[ch * h * w + p] = rgba[p * 4 + ch];
    return out;
  }

  // And back: (C, H, W) RGB to opaque RGBA.
  function chwToRgba(chw, h, w) {
    const out = new Uint8ClampedArray(4 * h * w).fill(255);
    for (let p = 0; p < h * w; p++) for (let ch = 0; ch < 3; ch++) out[p * 4 + ch] = chw[ch * h * w + p];
    return out;
  }

  // Indices of the k largest values, largest first.
  const topK = (values, k) => Array.from(values.keys()).sort((a, b) => values[b] - values[a]).slice(0, k);

  return {
    half, parseWeights, layerShapes, loadModel, standardise, forward, softmax, conv2d, maxpool, relu, gelu, affine, gap, gmp, linear,
    convOutputIndex, receptiveField, fieldBox, occlusionSteps, occlusion, centreCrop, rgbaToChw, topK, outSize,
    LAYERS, fromNested, weightOf, toNested, padded, windowSum, chwToRgba,
  };
});
