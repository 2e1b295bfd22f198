// numerics_train.js against PyTorch: fixtures written by
// tests/test_train_widget.py (it sets CNN_TRAIN_FIXTURES and runs this file).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const N = require("../../book/_ext/static/widgets/numerics.js");
const T = require("../../book/_ext/static/widgets/numerics_train.js");

const folder = process.env.CNN_TRAIN_FIXTURES;
const load = (file) => fs.readFileSync(path.join(folder, file));

if (!folder) {
  test("training fixtures (tests/test_train_widget.py writes them)", { skip: "CNN_TRAIN_FIXTURES is not set" }, () => {});
} else {
  const fx = JSON.parse(load("train.json"));
  const digits = T.readDigits(load(fx.data), fx.counts);
  const fresh = () => N.loadModel(load(fx.weights));
  const batch = (model, indices) => [indices.map((i) => N.standardise(model, digits.train.pixels[i])),
    indices.map((i) => digits.train.labels[i])];

  test("the digits file reads back as the library's digits", () => {
    assert.equal(digits.train.pixels.length, fx.counts.train);
    assert.equal(digits.test.labels.length, fx.counts.test);
    assert.deepEqual(digits.train.labels.slice(0, 50), fx.train_labels);
    assert.deepEqual(Array.from(digits.train.pixels[3]), fx.train_pixels_3);
    assert.throws(() => T.readDigits(load(fx.data).subarray(1), fx.counts), /expected/);
  });

  test("every parameter's gradient equals autograd's (relative error <= 1e-6)", () => {
    const model = fresh();
    const { loss, grads } = T.gradients(model, ...batch(model, fx.gradient.indices));
    assert.ok(Math.abs(loss - fx.gradient.loss) <= 1e-9 * fx.gradient.loss, `loss ${loss} vs ${fx.gradient.loss}`);
    assert.deepEqual(Object.keys(grads), Object.keys(fx.gradient.grads));
    for (const [name, expected] of Object.entries(fx.gradient.grads)) {
      let worst = 0, scale = 0;
      expected.forEach((v, i) => { worst = Math.max(worst, Math.abs(grads[name][i] - v)); scale = Math.max(scale, Math.abs(v)); });
      assert.ok(scale > 0 && worst / scale <= 1e-6, `${name}: relative error ${worst / scale}`);
    }
  });

  for (const [name, run] of Object.entries(fx.runs)) {
    test(`${name}: ${run.batches.length} optimiser steps give PyTorch's weights (within 1e-5)`, () => {
      const model = fresh(), opt = T.optimizer(run.config);
      for (const indices of run.batches) T.step(model, opt, ...batch(model, indices));
      let moved = 0;
      for (const [param, expected] of Object.entries(run.params)) {
        const got = model.tensors[param].values, start = fresh().tensors[param].values;
        expected.forEach((v, i) => {
          assert.ok(Math.abs(got[i] - v) <= 1e-5, `${param}[${i}]: ${got[i]} vs PyTorch ${v}`);
          moved = Math.max(moved, Math.abs(v - start[i]));
        });
      }
      assert.ok(moved > 1e-3, "the weights moved");
    });
  }

  test("what cannot be trained is refused with a message", () => {
    const model = fresh();
    assert.throws(() => T.gradients(model, ...batch(model, [0, 1]).map((a, k) => (k ? a.slice(1) : a))), /as many labels/);
    assert.throws(() => T.gradients(model, [N.standardise(model, digits.train.pixels[0])], [10]), /label 10/);
    assert.throws(() => T.optimizer({ optimizer: "rmsprop", lr: 1 }), /unknown optimiser/);
    assert.throws(() => T.parameterNames({ layers: [{ type: "affine" }] }), /cannot be trained/);
  });

  test("the page's shuffle is a seeded permutation", () => {
    const order = T.shuffled(100, 3);
    assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(T.shuffled(100, 3), order);
    assert.notDeepEqual(T.shuffled(100, 4), order);
  });
}
