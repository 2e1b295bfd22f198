// The Web Worker that trains the digits CNN for "Train it yourself" and
// fine-tunes it for "Teach it your handwriting" (trainer.js talks to it), so
// the page stays responsive. Requests are { id, type, ...args }; each gets
// { id, result } or { id, error }; during fit the worker also posts
// { event: "step" | "epoch", ... } for the live curves.
/* global importScripts */
importScripts("numerics.js", "numerics_train.js");
const N = self.cnnTutorial.numerics, T = self.cnnTutorial.train;
let initial, digits, recipe, seed, model, opt, run, pauseRequested = false;

const standardised = (split) => ({ xs: split.pixels.map((p) => N.standardise(model, p)), labels: split.labels });
const conv1 = () => model.tensors[model.layers.find((l) => l.type === "conv2d").weight].values;
const yieldToMessages = () => new Promise((resolve) => setTimeout(resolve, 0));

function fresh(lr) {
  model = N.loadModel(initial);
  opt = T.optimizer({ ...recipe, lr: lr ?? recipe.lr });
  // the page's own shuffle: epoch e visits the training digits in the order shuffled(n, seed + e)
  run = { epoch: 0, at: 0, order: null, sums: null, seconds: 0,
    history: { train_loss: [], train_acc: [], test_loss: [], test_acc: [], seconds: [] } };
}

const handlers = {
  init(msg) {
    ({ recipe, seed } = msg);
    initial = msg.weights;
    fresh();
    digits = T.readDigits(msg.data, msg.counts);
    digits = { train: standardised(digits.train), test: standardised(digits.test) };
    return { parameters: T.parameterNames(model) };
  },
  reset({ lr } = {}) {
    fresh(lr);
    return true;
  },
  setLearningRate({ lr }) {
    if (!(lr > 0)) throw new Error(`the learning rate must be > 0, got ${lr}`);
    opt.lr = lr;
    return lr;
  },
  step({ indices }) {
    const n = digits.train.labels.length;
    if (!Array.isArray(indices) || !indices.length || !indices.every((i) => Number.isInteger(i) && i >= 0 && i < n)) {
      throw new Error(`step: give a non-empty list of training-digit indices in 0..${n - 1}`);
    }
    return T.step(model, opt, indices.map((i) => digits.train.xs[i]), indices.map((i) => digits.train.labels[i]));
  },
  parameters: () => Object.fromEntries(T.parameterNames(model).map((name) => [name, model.tensors[name].values])),
  evaluate: () => T.evaluate(model, digits.test.xs, digits.test.labels),
  pause() {
    pauseRequested = true;
    return true;
  },
  // Train until `epochs` epochs since the last reset are done (resuming a
  // paused epoch), or until paused; resolves with the history.
  async fit({ epochs }) {
    if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error(`fit: epochs must be a whole number >= 1, got ${epochs}`);
    pauseRequested = false;
    const n = digits.train.labels.length, size = recipe.batchSize, h = run.history;
    while (run.epoch < epochs && !pauseRequested) {
      if (!run.order) { run.order = T.shuffled(n, seed + run.epoch); run.at = 0; run.sums = { loss: 0, correct: 0 }; }
      const started = performance.now(), indices = run.order.slice(run.at, run.at + size);
      const { loss, correct } = handlers.step({ indices });
      run.sums.loss += loss * indices.length;
      run.sums.correct += correct;
      run.at += indices.length;
      run.seconds += (performance.now() - started) / 1000;
      self.postMessage({ event: "step", epoch: run.epoch, at: run.at, of: n, loss, filters: conv1() });
      if (run.at >= n) {
        const started2 = performance.now(), test = handlers.evaluate();
        run.seconds += (performance.now() - started2) / 1000;
        h.train_loss.push(run.sums.loss / n);
        h.train_acc.push(run.sums.correct / n);
        h.test_loss.push(test.loss);
        h.test_acc.push(test.accuracy);
        h.seconds.push(run.seconds);
        run.epoch += 1;
        run.order = null;
        self.postMessage({ event: "epoch", history: h });
      }
      await yieldToMessages();
    }
    return { ...h, paused: run.epoch < epochs };
  },
  // Fine-tune a copy of the initial network (the trained one, for the pad) on the reader's drawings (each step:
  // all of them plus `replay` training digits drawn at random), and give
  // the probabilities of the held-out drawings before and after.
  fineTune({ train, test, steps, replay, lr }) {
    const tuned = N.loadModel(initial), tuner = T.optimizer({ ...recipe, lr });
    const prep = (list) => ({ xs: list.map((d) => N.standardise(tuned, d.pixels)), labels: list.map((d) => d.label) });
    const mine = prep(train), held = prep(test), order = T.shuffled(digits.train.labels.length, seed);
    const probabilities = () => held.xs.map((x) => N.forward(tuned, x).probabilities);
    const before = probabilities();
    for (let s = 0; s < steps; s++) {
      const extra = order.slice((s * replay) % order.length).slice(0, replay);
      T.step(tuned, tuner, [...mine.xs, ...extra.map((i) => digits.train.xs[i])],
        [...mine.labels, ...extra.map((i) => digits.train.labels[i])]);
    }
    const replayed = T.evaluate(tuned, digits.test.xs, digits.test.labels);
    return { before, after: probabilities(), testAccuracy: replayed.accuracy,
      parameters: Object.fromEntries(T.parameterNames(tuned).map((name) => [name, tuned.tensors[name].values])) };
  },
};

self.onmessage = async ({ data: { id, type, ...args } }) => {
  try {
    if (!handlers[type]) throw new Error(`unknown request ${type}`);
    if (type !== "init" && !model) throw new Error("the trainer has not been initialised");
    self.postMessage({ id, result: await handlers[type](args) });
  } catch (err) {
    self.postMessage({ id, error: err.message });
  }
};
