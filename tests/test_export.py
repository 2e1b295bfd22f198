"""The weights file the browser widgets run (cnn_tutorial.export), and the
JavaScript maths (numerics.js) against it: these tests write fixtures from
PyTorch and run `node --test tests/js/` on them."""
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import edited_header
from torch import nn

from cnn_tutorial import activations, attribution, conv, models, widgets
from cnn_tutorial.export import (
    Exported,
    export_weights,
    layers_and_tensors,
    read_weights,
    run_layers,
)

ROOT = Path(__file__).resolve().parents[1]
JS_TESTS = sorted((ROOT / "tests/js").glob("*.test.js"))


def _gap_bn(seed: int = 0) -> nn.Module:
    """A small GapCNN: BatchNorm after a pool (kept as a per-channel
    affine layer) and right after a conv (folded)."""
    torch.manual_seed(seed)
    return models.GapCNN(3, (4, 6), n_classes=5)


def _with_statistics(model: nn.Module, shape, seed: int = 0) -> nn.Module:
    """``model`` with BatchNorm running statistics that are not 0 and 1 (a
    few training-mode passes) and non-trivial affine parameters."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.5
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.uniform_(-0.5, 0.5, generator=generator)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, *shape, generator=generator) * 2 + 0.3)
    return model.eval()


def _whitened(seed: int = 0) -> nn.Module:
    """A small WhitenedCNN (two blocks, 16 x 16 input): GELU (tanh form),
    BatchNorm after a pool and after a conv, global max pooling, a Scale
    after the linear layer."""
    torch.manual_seed(seed)
    model = models.WhitenedCNN((4, 6), stem_width=6, n_classes=5)
    return model.whiten(torch.randn(40, 3, 16, 16))


CASES = {  # name: (model, input shape, scale, mean, std, dtype)
    "digits": (lambda: models.digits_cnn(seed=1), (1, 8, 8), 16.0, None, None,
               "float32"),
    "cifar_bn": (lambda: _with_statistics(models.cifar_cnn(batch_norm=True,
                                                           seed=2),
                                          (3, 32, 32)),
                 (3, 32, 32), 255.0, (0.49, 0.48, 0.45), (0.25, 0.24, 0.26),
                 "float32"),
    "gap_bn": (lambda: _with_statistics(_gap_bn(), (3, 16, 16)), (3, 16, 16),
               255.0, (0.5, 0.4, 0.3), (0.2, 0.3, 0.25), "float32"),
    "cifar_half": (lambda: models.cifar_cnn(seed=3), (3, 32, 32), 255.0,
                   (0.49, 0.48, 0.45), (0.25, 0.24, 0.26), "float16"),
    "whitened": (lambda: _with_statistics(_whitened(), (3, 16, 16)),
                 (3, 16, 16), 255.0, (0.5, 0.4, 0.3), (0.2, 0.3, 0.25),
                 "float32"),
}


def _shown_after(leaves: list[nn.Module], conv: nn.Module) -> nn.Module:
    """The layer whose output a reader sees for ``conv``: the activation
    after it, through pooling or BatchNorm (else the conv itself)."""
    for layer in leaves[leaves.index(conv) + 1:]:
        if isinstance(layer, (nn.ReLU, nn.GELU)):
            return layer
        if not isinstance(layer, (nn.MaxPool2d, nn.BatchNorm2d)):
            break
    return conv


def _export(name: str, folder: Path) -> tuple[nn.Module, Path]:
    build, shape, scale, mean, std, dtype = CASES[name]
    model = build().eval()
    path = export_weights(model, folder / f"{name}.bin", input_shape=shape,
                          scale=scale, mean=mean, std=std, dtype=dtype)
    return model, path


def _fixture(name: str, folder: Path) -> dict:
    """What the JS must reproduce for one exported model: every layer's
    output and the probabilities for two raw inputs, occlusion for the
    first, and the receptive field of each conv's output."""
    model, path = _export(name, folder)
    exported = Exported(path)
    c, h, w = exported.header["input"]["shape"]
    scale = exported.header["input"]["scale"]
    pixels = torch.randint(0, int(scale) + 1, (2, c, h, w),
                           generator=torch.Generator().manual_seed(7))
    x = exported.standardise(pixels)
    with torch.no_grad():
        outputs = exported.outputs(x)
        probabilities = outputs[-1].softmax(1)
        target = probabilities.argmax(1)
        # the first input only: occlusion in JS is many forward passes
        occlusion = attribution.occlusion(exported, x[:1], target[:1])
    leaves = [m for m in model.modules() if not list(m.children())]
    convs = [m for m in leaves if isinstance(m, nn.Conv2d)]

    def field(layer: nn.Module) -> dict:
        f = activations.receptive_field(activations.layers_until(model,
                                                                 layer))
        return {"size": f.size, "jump": f.jump, "start": f.start}
    return {
        "file": path.name,
        "pixels": pixels.flatten(1).tolist(),
        "outputs": [[o[i].flatten().tolist() for o in outputs]
                    for i in range(2)],
        "probabilities": probabilities.tolist(),
        "occlusion": {"patch": attribution.OCCLUSION_PATCH,
                      "stride": attribution.OCCLUSION_STRIDE,
                      "target": target[:1].tolist(),
                      "maps": occlusion.flatten(1).tolist()},
        "fields": [{"conv": field(m), "shown": field(_shown_after(leaves, m))}
                   for m in convs],
    }


def _damaged(folder: Path) -> dict:
    """Broken copies of a good file, and the error each must raise."""
    _, good = _export("digits", folder)
    raw = good.read_bytes()

    def three_channels(header):                   # conv1 wants 1 channel
        header["input"]["shape"] = [3, 8, 8]

    cases = {
        "truncated.bin": (raw[:-10], "truncated"),
        "header_cut.bin": (raw[:40], "ends inside its header"),
        "not_weights.bin": (b"<!DOCTYPE html><html></html>",
                            "not a weights file"),
        "mismatch.bin": (edited_header(raw, three_channels),
                         "expects 1 input channels, the layer before gives 3"),
    }
    for name, (data, _) in cases.items():
        (folder / name).write_bytes(data)
    return {name: message for name, (_, message) in cases.items()}


def _convolutions() -> dict:
    """What the convolution explorer must compute: PyTorch's output side
    for every setting its sliders offer (None: the kernel does not fit),
    and torch.nn.functional.conv2d of its own input and filters (3
    channels, 2 filters, with bias) for a few settings."""
    ranges = [range(lo, hi + 1) for lo, hi in
              (widgets.CONV_RANGES[name] for name in "nkps")]
    sizes = [[n, k, p, s, conv.torch_output_size(n, k, p, s)
              if k <= n + 2 * p else None]
             for n, k, p, s in itertools.product(*ranges)]
    runs = []
    for n, k, p, s in [(5, 3, 0, 1), (7, 4, 2, 3), (12, 5, 3, 2),
                       (3, 1, 1, 1), (6, 2, 1, 2)]:
        x = widgets.explorer_input()[:, :n, :n]
        w, b = widgets.explorer_filters(k), widgets.CONV_BIAS
        out = torch.nn.functional.conv2d(
            torch.tensor(x[None], dtype=torch.float64),
            torch.tensor(w, dtype=torch.float64),
            torch.tensor(b, dtype=torch.float64), stride=s, padding=p)[0]
        runs.append({"x": x.tolist(), "w": w.tolist(), "b": list(b),
                     "p": p, "s": s, "out": out.tolist()})
    return {"sizes": sizes, "runs": runs}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("js-fixtures")
    cases = {name: _fixture(name, folder) for name in CASES}
    x = torch.cat([torch.linspace(-12, 12, 241, dtype=torch.float64),
                   torch.tensor([-40.0, -1e-8, 0.0, 1e-8, 40.0],
                                dtype=torch.float64)])
    gelu = {"x": x.tolist(),
            "y": torch.nn.functional.gelu(x, approximate="tanh").tolist()}
    (folder / "cases.json").write_text(json.dumps(
        {"models": cases, "damaged": _damaged(folder),
         "conv": _convolutions(), "gelu": gelu}))
    return folder


@pytest.mark.slow
def test_node_numerics_match_pytorch(fixtures):
    """numerics.js (forward pass, occlusion, receptive fields, the file
    format) against PyTorch, under `node --test`."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed (apt-get install nodejs)")
        pytest.skip("node is not installed (apt-get install nodejs)")
    assert JS_TESTS, "no tests/js/*.test.js"
    result = subprocess.run(
        [node, "--test", *map(str, JS_TESTS)], capture_output=True,
        text=True, env={**os.environ, "CNN_FIXTURES": str(fixtures)},
        timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout


def test_batchnorm_is_folded_or_kept_as_a_per_channel_affine(tmp_path):
    model, path = _export("gap_bn", tmp_path)
    header, tensors = read_weights(path)
    kinds = [layer["type"] for layer in header["layers"]]
    # stem: conv (BN folded) -> relu; each block: conv -> pool -> BN
    # (affine: a pool sits between) -> relu, then conv (folded) -> relu
    assert kinds[:2] == ["conv2d", "relu"]
    assert kinds[2:6] == ["conv2d", "maxpool", "affine", "relu"]
    assert kinds[-3:] == ["gap", "flatten", "linear"]
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(Exported(path)(x.double()),
                                   model(x).double(), atol=1e-5, rtol=0)


def test_float16_files_hold_the_weights_rounded_once(tmp_path):
    model, path = _export("cifar_half", tmp_path)
    _, tensors = read_weights(path)
    for name, t in model.state_dict().items():
        assert torch.equal(tensors[name], t.half().double()), name
    assert path.stat().st_size < 2 * sum(t.numel() for t in
                                         model.state_dict().values()) + 4096


def test_export_refuses_what_the_browser_cannot_run(tmp_path):
    with pytest.raises(ValueError, match="Sigmoid layers cannot be run"):
        layers_and_tensors(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sigmoid()))

    class Skip(nn.Module):        # a forward its layers do not describe
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)
            self.flat = nn.Flatten()

        def forward(self, x):
            return self.flat(x + self.conv(x))

    with pytest.raises(ValueError, match="do not reproduce its forward"):
        export_weights(Skip(), tmp_path / "skip.bin", input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match="mean and std need 3 values"):
        export_weights(models.cifar_cnn(), tmp_path / "x.bin",
                       input_shape=(3, 32, 32), mean=(0.5,), std=(1,))
    with pytest.raises(ValueError, match="dtype must be one of"):
        export_weights(models.cifar_cnn(), tmp_path / "x.bin",
                       input_shape=(3, 32, 32), dtype="int8")
    bad = tmp_path / "cut.bin"
    _, good = _export("digits", tmp_path)
    bad.write_bytes(good.read_bytes()[:-6])
    with pytest.raises(ValueError, match="truncated"):
        read_weights(bad)


def test_the_whitened_network_exports_with_gelu_global_max_and_scale(tmp_path):
    """The ladder's top network: GELU (tanh form), BatchNorm after a pool
    kept as an affine layer, global max pooling, and the head's 1/9 folded
    into the linear layer; the file's layers reproduce the model."""
    from cnn_tutorial.models import cifar_whitened_cnn

    torch.manual_seed(0)
    model = cifar_whitened_cnn(0).whiten(torch.randn(50, 3, 32, 32)).eval()
    for bn in (m for m in model.modules()
               if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_var.uniform_(0.5, 2)
        bn.bias.data.uniform_(-1, 1)
    path = export_weights(model, tmp_path / "w.bin",
                                 input_shape=(3, 32, 32), dtype="float32")
    header, tensors = read_weights(path)
    kinds = [layer["type"] for layer in header["layers"]]
    assert {"gelu", "gmp", "affine"} <= set(kinds) and "relu" not in kinds
    x = torch.randn(3, 3, 32, 32)
    got = run_layers(header["layers"], tensors, x.double())[-1]
    assert torch.allclose(got.float(), model(x), atol=1e-4)
    exact = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.GELU())
    with pytest.raises(ValueError, match="approximate='tanh'"):
        export_weights(exact, tmp_path / "e.bin",
                              input_shape=(1, 8, 8))
