// Training in the page, with no page in sight: the backward pass of the
// layers the digits CNN uses (conv2d, relu, maxpool, flatten, linear),
// softmax cross-entropy, and the optimisers with torch.optim's semantics
// (Adam; SGD with momentum, optionally Nesterov). The forward pass is
// numerics.js's; a network is what numerics.loadModel returns, and its
// parameters are its tensors' Float64Arrays, updated in place.
// Tested with `node --test tests/js/` against PyTorch's autograd.
(function (root, factory) {
  const numerics = typeof module === "object" && module.exports
    ? require("./numerics.js") : root.cnnTutorial.numerics;
  const train = factory(numerics);
  if (typeof module === "object" && module.exports) module.exports = train;
  else root.cnnTutorial.train = train;
})(typeof self !== "undefined" ? self : this, (N) => {
  "use strict";
  const TRAINABLE = new Set(["conv2d", "relu", "maxpool", "flatten", "linear"]);

  // The state-dict names of the network's parameters, in order; a layer
  // this module cannot train is an Error naming it.
  function parameterNames(model) {
    const names = [];
    model.layers.forEach((layer, index) => {
      if (!TRAINABLE.has(layer.type)) {
        throw new Error(`layer ${index} (${layer.type}) cannot be trained in the page; only ${[...TRAINABLE].join(", ")}`);
      }
      if (layer.weight) names.push(layer.weight, layer.bias);
    });
    return names;
  }

  // The layers' outputs for one standardised input, each layer's input kept
  // for the backward pass.
  function forwardKeep(model, x) {
    const inputs = [], T = model.tensors;
    let t = x;
    for (const layer of model.layers) {
      inputs.push(t);
      if (layer.type === "conv2d") t = N.conv2d(t, T[layer.weight], T[layer.bias], layer.padding, layer.stride);
      else if (layer.type === "relu") t = N.relu(t);
      else if (layer.type === "maxpool") t = N.maxpool(t, layer.size, layer.stride);
      else if (layer.type === "flatten") t = { c: t.data.length, h: 1, w: 1, data: t.data };
      else t = N.linear(t, T[layer.weight], T[layer.bias]);
    }
    return { inputs, logits: t.data };
  }

  // d loss / d conv input, accumulating d loss / d weight and bias into gw
  // and gb; the loops are the forward pass's, run backwards.
  function conv2dBackward(x, g, weight, pad, stride, gw, gb, needInput) {
    const [f, c, k] = weight.shape, W = weight.values;
    const ho = g.h, wo = g.w, gx = needInput ? new Float64Array(x.data.length) : null;
    for (let o = 0; o < f; o++) {
      const base = o * ho * wo;
      for (let i = 0; i < ho * wo; i++) gb[o] += g.data[base + i];
      for (let ch = 0; ch < c; ch++) {
        for (let m = 0; m < k; m++) {
          const i0 = Math.max(0, Math.ceil((pad - m) / stride));
          const i1 = Math.min(ho, Math.floor((x.h - 1 + pad - m) / stride) + 1);
          for (let q = 0; q < k; q++) {
            const at = ((o * c + ch) * k + m) * k + q, wv = W[at];
            const j0 = Math.max(0, Math.ceil((pad - q) / stride));
            const j1 = Math.min(wo, Math.floor((x.w - 1 + pad - q) / stride) + 1);
            let acc = 0;
            for (let i = i0; i < i1; i++) {
              const row = (ch * x.h + i * stride + m - pad) * x.w - pad + q, from = base + i * wo;
              for (let j = j0; j < j1; j++) {
                const gv = g.data[from + j];
                acc += gv * x.data[row + j * stride];
                if (gx) gx[row + j * stride] += wv * gv;
              }
            }
            gw[at] += acc;
          }
        }
      }
    }
    return gx && { c: x.c, h: x.h, w: x.w, data: gx };
  }

  // Each output's gradient goes to the first largest input of its window
  // (PyTorch's rule for ties).
  function maxpoolBackward(x, g, size, stride) {
    const gx = new Float64Array(x.data.length);
    for (let ch = 0; ch < x.c; ch++) {
      for (let i = 0; i < g.h; i++) {
        for (let j = 0; j < g.w; j++) {
          let best = -Infinity, at = -1;
          for (let m = 0; m < size; m++) {
            for (let q = 0; q < size; q++) {
              const idx = (ch * x.h + i * stride + m) * x.w + j * stride + q;
              if (x.data[idx] > best) { best = x.data[idx]; at = idx; }
            }
          }
          gx[at] += g.data[(ch * g.h + i) * g.w + j];
        }
      }
    }
    return { c: x.c, h: x.h, w: x.w, data: gx };
  }

  function linearBackward(x, g, weight, gw, gb) {
    const [o, n] = weight.shape, W = weight.values, gx = new Float64Array(n);
    for (let r = 0; r < o; r++) {
      const gv = g.data[r];
      gb[r] += gv;
      for (let c = 0; c < n; c++) { gw[r * n + c] += gv * x.data[c]; gx[c] += W[r * n + c] * gv; }
    }
    return { c: n, h: 1, w: 1, data: gx };
  }

  // Mean softmax cross-entropy over a batch of standardised inputs `xs`
  // with integer `labels`, and its gradient for every parameter (as
  // loss.backward() leaves them in .grad): { loss, correct, grads }.
  function gradients(model, xs, labels) {
    if (!xs.length || xs.length !== labels.length) throw new Error(`give as many labels as inputs (got ${xs.length} inputs, ${labels.length} labels)`);
    const grads = {}, T = model.tensors;
    for (const name of parameterNames(model)) grads[name] = new Float64Array(T[name].values.length);
    let loss = 0, correct = 0;
    xs.forEach((x, n) => {
      const { inputs, logits } = forwardKeep(model, x), p = N.softmax(logits), y = labels[n];
      if (!(Number.isInteger(y) && y >= 0 && y < p.length)) throw new Error(`label ${y} is not a class 0..${p.length - 1}`);
      loss -= Math.log(p[y]) / xs.length;
      if (p.indexOf(Math.max(...p)) === y) correct++;
      let g = { c: p.length, h: 1, w: 1, data: Float64Array.from(p, (v, i) => (v - (i === y)) / xs.length) };
      for (let i = model.layers.length - 1; i >= 0; i--) {
        const layer = model.layers[i], x = inputs[i];
        if (layer.type === "conv2d") {
          g = conv2dBackward(x, g, T[layer.weight], layer.padding, layer.stride, grads[layer.weight], grads[layer.bias], i > 0);
        } else if (layer.type === "relu") {
          g = { ...g, data: g.data.map((v, j) => (x.data[j] > 0 ? v : 0)) };
        } else if (layer.type === "maxpool") g = maxpoolBackward(x, g, layer.size, layer.stride);
        else if (layer.type === "flatten") g = { c: x.c, h: x.h, w: x.w, data: g.data };
        else g = linearBackward(x, g, T[layer.weight], grads[layer.weight], grads[layer.bias]);
      }
    });
    return { loss, correct, grads };
  }

  // torch.optim.Adam (no amsgrad): one step() per call, state per parameter.
  function adam({ lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0 } = {}) {
    const [b1, b2] = betas, state = {};
    const opt = {
      lr, t: 0,
      step(model, grads) {
        opt.t += 1;
        const c1 = 1 - b1 ** opt.t, c2 = Math.sqrt(1 - b2 ** opt.t), size = opt.lr / c1;
        for (const [name, g] of Object.entries(grads)) {
          const p = model.tensors[name].values;
          const s = (state[name] = state[name] || { m: new Float64Array(p.length), v: new Float64Array(p.length) });
          for (let i = 0; i < p.length; i++) {
            const gi = g[i] + weightDecay * p[i];
            s.m[i] = b1 * s.m[i] + (1 - b1) * gi;
            s.v[i] = b2 * s.v[i] + (1 - b2) * gi * gi;
            p[i] -= (size * s.m[i]) / (Math.sqrt(s.v[i]) / c2 + eps);
          }
        }
      },
    };
    return opt;
  }

  // torch.optim.SGD with momentum (dampening 0), optionally Nesterov.
  function sgd({ lr, momentum = 0, nesterov = false, weightDecay = 0 } = {}) {
    if (!(lr > 0)) throw new Error(`SGD needs a learning rate > 0, got ${lr}`);
    const buffers = {};
    const opt = {
      lr,
      step(model, grads) {
        for (const [name, g] of Object.entries(grads)) {
          const p = model.tensors[name].values, d = g.map((v, i) => v + weightDecay * p[i]);
          if (momentum) {
            const buf = buffers[name];
            if (buf) for (let i = 0; i < d.length; i++) buf[i] = momentum * buf[i] + d[i];
            else buffers[name] = Float64Array.from(d);
            const b = buffers[name];
            for (let i = 0; i < d.length; i++) d[i] = nesterov ? d[i] + momentum * b[i] : b[i];
          }
          for (let i = 0; i < p.length; i++) p[i] -= opt.lr * d[i];
        }
      },
    };
    return opt;
  }

  // The optimiser of a recipe ({ optimizer: "adam" | "sgd", lr, ... }).
  function optimizer(recipe) {
    if (recipe.optimizer === "adam") return adam(recipe);
    if (recipe.optimizer === "sgd") return sgd(recipe);
    throw new Error(`unknown optimiser ${recipe.optimizer} (adam or sgd)`);
  }

  // One optimiser step on a batch: { loss, correct }.
  function step(model, opt, xs, labels) {
    const { loss, correct, grads } = gradients(model, xs, labels);
    opt.step(model, grads);
    return { loss, correct };
  }

  // Mean cross-entropy and accuracy on standardised inputs.
  function evaluate(model, xs, labels) {
    let loss = 0, correct = 0;
    xs.forEach((x, n) => {
      const p = N.forward(model, x).probabilities;
      loss -= Math.log(p[labels[n]]) / xs.length;
      if (p.indexOf(Math.max(...p)) === labels[n]) correct++;
    });
    return { loss, accuracy: correct / xs.length };
  }

  // 0..n-1 in a seeded random order (mulberry32 + Fisher–Yates): the page's
  // own shuffle, not torch.randperm.
  function shuffled(n, seed) {
    let a = seed >>> 0;
    const random = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  // The digits file cnn_tutorial.train_widget writes: { train, test }, each
  // { pixels: [Uint8Array(64)] (0-16), labels: [int] }.
  function readDigits(buffer, counts) {
    const bytes = new Uint8Array(buffer), side = 64, n = counts.train + counts.test;
    if (bytes.length !== n * (side + 1)) throw new Error(`the digits file has ${bytes.length} bytes, expected ${n * (side + 1)} for ${counts.train} + ${counts.test} digits`);
    const split = (first, count) => ({
      pixels: Array.from({ length: count }, (_, i) => bytes.subarray((first + i) * side, (first + i + 1) * side)),
      labels: Array.from(bytes.subarray(n * side + first, n * side + first + count)),
    });
    return { train: split(0, counts.train), test: split(counts.train, counts.test) };
  }

  return { readDigits, parameterNames, gradients, adam, sgd, optimizer, step, evaluate, shuffled };
});
