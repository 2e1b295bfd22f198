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
    fx.pixels.forEach((pixels, n) => {
      const map = N.occlusion(model, N.standardise(model, pixels), target[n], patch, stride);
      close(map, maps[n], 1e-6, `${name} occlusion ${n}`);
    });
  });

  test(`${name}: receptive fields equal cnn_tutorial.activations.receptive_field`, () => {
    const model = N.loadModel(load(fx.file));
    fx.fields.forEach((field, k) => {
      for (const afterRelu of [false, true]) {
        assert.deepEqual(N.receptiveField(model.layers, N.convOutputIndex(model.layers, k + 1, { afterRelu })), field);
      }
    });
  });
}

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

test("RGBA pixels become channel-major RGB", () => {
  const rgba = Uint8ClampedArray.from([1, 2, 3, 255, 4, 5, 6, 255]);
  assert.deepEqual(Array.from(N.rgbaToChw(rgba, 1, 2)), [1, 4, 2, 5, 3, 6]);
});

test("a receptive field is clipped to the image", () => {
  const field = { size: 8, jump: 2, start: -3 };
  assert.deepEqual(N.fieldBox(field, 0, 0, 32, 32), { top: 0, left: 0, bottom: 5, right: 5 });
  assert.deepEqual(N.fieldBox(field, 5, 15, 32, 32), { top: 7, left: 27, bottom: 15, right: 32 });
});

test("top classes come largest first", () => {
  assert.deepEqual(N.topK([0.1, 0.5, 0.05, 0.35], 3), [1, 3, 0]);
});
