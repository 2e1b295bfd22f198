// Time numerics.js's forward pass on a weights file (for scripts/bench.py):
//   node scripts/bench_forward.js FILE [REPEATS]
// prints {"median_ms": ..., "occlusion_s": ...} for one random image.
"use strict";
const fs = require("node:fs");
const N = require("../book/_ext/static/widgets/numerics.js");

const [file, repeats = "30"] = process.argv.slice(2);
const model = N.loadModel(fs.readFileSync(file));
const size = model.input.shape.reduce((a, b) => a * b, 1);
let seed = 1;
const pixels = Array.from({ length: size }, () => (seed = (seed * 48271) % 2147483647) % (model.input.scale + 1));
const x = N.standardise(model, pixels);
for (let i = 0; i < 3; i++) N.forward(model, x); // warm up the JIT
const times = [];
for (let i = 0; i < Number(repeats); i++) {
  const start = process.hrtime.bigint();
  N.forward(model, x);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
times.sort((a, b) => a - b);
const start = process.hrtime.bigint();
N.occlusion(model, x, 0, 4, 2);
const occlusion = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ median_ms: times[Math.floor(times.length / 2)], occlusion_s: occlusion }));
