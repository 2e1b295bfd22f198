// numerics.js against PyTorch: fixtures written by tests/test_export.py
// (run it, or `make test`; it sets CNN_FIXTURES and calls `node --test`).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const N = require("../../book/_ext/static/widgets/numerics.js");

const folder = process.env.CNN_FIXTURES;
const cases = folder ? JSON.parse(fs.readFileSync(path.join(folder, "cases.json"), "utf8")) : null;
const load = (file) => fs.readFileSync(path.join(folder, file));

function close(actual, expected, tol, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= tol, `${what}: largest difference ${worst} > ${tol}`);
}

test("fixtures are there (tests/test_export.py writes them)", () => {
  assert.ok(cases, "set CNN_FIXTURES: run `pytest tests/test_export.py`");
  assert.ok(Object.keys(cases.models).length >= 4);
});

for (const [name, fx] of Object.entries(cases ? cases.models : {})) {
  test(`${name}: every layer's output and the probabilities equal PyTorch's`, () => {
    const model = N.loadModel(load(fx.file));
    fx.pixels.forEach((pixels, n) => {
      const run = N.forward(model, N.standardise(model, pixels));
      fx.outputs[n].forEach((expected, i) => close(run.outputs[i].data, expected, 1e-6, `${name} input ${n} layer ${i} (${model.layers[i].type})`));
      close(run.probabilities, fx.probabilities[n], 1e-9, `${name} probabilities`);
      assert.deepEqual(model.shapes.map((s) => s.reduce((a, b) => a * b, 1)), fx.outputs[n].map((o) => o.length));
    });
  });

  test(`${name}: occlusion equals cnn_tutorial.attribution.occlusion`, () => {
    const model = N.loadModel(load(fx.file)), { patch, stride, target, maps } = fx.occlusion;
    assert.ok(maps.length > 0, `${name}: no occlusion maps`);
    maps.forEach((expected, n) => {
      const map = N.occlusion(model, N.standardise(model, fx.pixels[n]), target[n], patch, stride);
      close(map, expected, 1e-6, `${name} occlusion ${n}`);
    });
  });

  test(`${name}: receptive fields equal cnn_tutorial.activations.receptive_field`, () => {
    const model = N.loadModel(load(fx.file));
    fx.fields.forEach(({ conv, shown }, k) => {
      assert.deepEqual(N.receptiveField(model.layers, N.convOutputIndex(model.layers, k + 1, { activated: false })), conv);
      assert.deepEqual(N.receptiveField(model.layers, N.convOutputIndex(model.layers, k + 1)), shown);
    });
  });
}

test("the output size is PyTorch's for every setting of the convolution explorer", () => {
  for (const [n, k, p, s, size] of cases.conv.sizes) {
    const o = N.outSize(n, k, p, s);
    if (size === null) assert.ok(o < 1, `n=${n} k=${k} p=${p} s=${s}: ${o}`);
    else assert.equal(o, size, `n=${n} k=${k} p=${p} s=${s}`);
  }
  assert.ok(cases.conv.sizes.some((c) => c[4] === null) && cases.conv.sizes.length > 100);
  assert.throws(() => N.conv2d(N.fromNested([[[1, 2], [3, 4]]]), N.weightOf([[[[1, 1, 1], [1, 1, 1], [1, 1, 1]]]]), { values: [0] }, 0, 1),
    /3×3 kernel does not fit in 2×2 padded by 0/);
});

test("3 channels, 2 filters: conv2d and every window sum equal torch.nn.functional.conv2d", () => {
  for (const { x, w, b, p, s, out } of cases.conv.runs) {
    const t = N.fromNested(x), weight = N.weightOf(w), bias = { values: Float64Array.from(b) };
    const what = `n=${x[0].length} k=${w[0][0].length} p=${p} s=${s}`;
    assert.deepEqual(N.toNested(N.conv2d(t, weight, bias, p, s)), out, what);
    out.forEach((plane, f) => plane.forEach((row, i) => row.forEach((value, j) => {
      const cell = N.windowSum(t, weight, bias, f, i, j, p, s);
      assert.equal(cell.value, value, `${what} (${f}, ${i}, ${j})`);
      assert.equal(cell.channels.length, 3);
      cell.channels.forEach((ch) => assert.equal(ch.sum, ch.pairs.reduce((a, [u, v]) => a + u * v, 0)));
      assert.equal(cell.bias, b[f]);
    })));
    assert.throws(() => N.windowSum(t, weight, bias, 0, out[0].length, 0, p, s), /no output cell/);
  }
});

test("padding puts a ring of zeros around every channel", () => {
  const x = N.fromNested([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
  assert.deepEqual(N.toNested(N.padded(x, 1))[1], [[0, 0, 0, 0], [0, 5, 6, 0], [0, 7, 8, 0], [0, 0, 0, 0]]);
});

test("GELU is PyTorch's tanh form, from large negative to large positive inputs", () => {
  const { x, y } = cases.gelu, got = N.gelu({ c: 1, h: 1, w: x.length, data: Float64Array.from(x) }).data;
  x.forEach((v, i) => assert.ok(Math.abs(got[i] - y[i]) <= 1e-15 * Math.max(1, Math.abs(y[i])), `gelu(${v}) = ${got[i]}, PyTorch ${y[i]}`));
});

test("global max pooling takes each channel's largest value, negative ones too", () => {
  const t = N.fromNested([[[-3, -1], [-2, -5]], [[0, 7], [7, 2]]]);
  assert.deepEqual(Array.from(N.gmp(t).data), [-1, 7]);
  assert.deepEqual([N.gmp(t).c, N.gmp(t).h, N.gmp(t).w], [2, 1, 1]);
});

test("every layer type is in one table, and an unknown one is named", () => {
  assert.deepEqual(Object.keys(N.LAYERS).sort(), ["affine", "conv2d", "flatten", "gap", "gelu", "gmp", "linear", "maxpool", "relu"]);
  const model = N.loadModel(load(cases.models.digits.file));
  assert.throws(() => N.forward({ ...model, layers: [{ type: "dropout" }] }, N.standardise(model, new Array(64).fill(0))),
    /unknown layer type dropout/);
});

test("damaged weights files are refused with a message saying what is wrong", () => {
  for (const [file, message] of Object.entries(cases ? cases.damaged : {})) {
    assert.throws(() => N.loadModel(load(file)), (err) => err.message.includes(message), file);
  }
  assert.ok(Object.keys(cases.damaged).length >= 4);
});

test("bad pixels are refused, not run", () => {
  const model = N.loadModel(load(cases.models.digits.file));
  assert.throws(() => N.standardise(model, [1, 2, 3]), /give 64 pixel values/);
  assert.throws(() => N.standardise(model, new Array(64).fill(17)), /0\.\.16/);
  assert.throws(() => N.convOutputIndex(model.layers, 3), /2 convolutions, not 3/);
});

test("half precision decodes like IEEE 754", () => {
  assert.equal(N.half(0x3c00), 1);
  assert.equal(N.half(0xc000), -2);
  assert.equal(N.half(0x7bff), 65504);
  assert.equal(N.half(0x0001), 2 ** -24);
  assert.equal(N.half(0x7c00), Infinity);
  assert.ok(Number.isNaN(N.half(0x7e00)));
});

test("a photo is cropped to its centred square", () => {
  assert.deepEqual(N.centreCrop(640, 480), { x: 80, y: 0, size: 480 });
  assert.deepEqual(N.centreCrop(300, 301), { x: 0, y: 0, size: 300 });
  assert.deepEqual(N.centreCrop(32, 32), { x: 0, y: 0, size: 32 });
  assert.throws(() => N.centreCrop(0, 10), /nothing to crop/);
});

test("RGBA pixels become channel-major RGB, and back", () => {
  const rgba = Uint8ClampedArray.from([1, 2, 3, 255, 4, 5, 6, 255]);
  assert.deepEqual(Array.from(N.rgbaToChw(rgba, 1, 2)), [1, 4, 2, 5, 3, 6]);
  assert.deepEqual(N.chwToRgba(N.rgbaToChw(rgba, 1, 2), 1, 2), rgba);
});

test("a receptive field is clipped to the image", () => {
  const field = { size: 8, jump: 2, start: -3 };
  assert.deepEqual(N.fieldBox(field, 0, 0, 32, 32), { top: 0, left: 0, bottom: 5, right: 5 });
  assert.deepEqual(N.fieldBox(field, 5, 15, 32, 32), { top: 7, left: 27, bottom: 15, right: 32 });
});

test("top classes come largest first", () => {
  assert.deepEqual(N.topK([0.1, 0.5, 0.05, 0.35], 3), [1, 3, 0]);
});
