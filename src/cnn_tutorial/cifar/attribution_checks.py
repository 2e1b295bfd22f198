"""Chapter 6's sanity checks of the five attribution methods on the cached
CIFAR-10 CNN (seed 0, the one whose weights are committed) and the cached
test images.

The CIFAR-10 run (``python -m cnn_tutorial.cifar``) measured the checks of
every seed with the mean-colour deletion and an older SmoothGrad noise.
What changed since is measured on seed 0 into a small artefact of its own,
beside the cache, by

    python -m cnn_tutorial.cifar.attribution_checks

(about 40 CPU-seconds): every check of SmoothGrad, and the blurred
deletion of every method. :func:`load` merges it with the cached seed-0
checks of the other methods, and refuses a file measured with other
weights, test images or settings.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from IPython.display import Markdown

from .. import attribution
from ..data import CIFAR10_CLASSES
from ..display import fmt_int, fmt_pct, markdown_table
from . import cache as cifar_cache

CHECKS_FILE = Path("book/_static/attribution_checks.json")
PAGE_CHECKS_FILE = CHECKS_FILE.relative_to("book")   # as pages see it
COMMAND = "python -m cnn_tutorial.cifar.attribution_checks"
# short names of the methods, for glue names
SLUGS = {"gradient": "gradient", "SmoothGrad": "smoothgrad",
         "integrated gradients": "ig", "occlusion": "occlusion",
         "Grad-CAM": "gradcam"}
FILLS = {"deletion": "grey", "deletion_blur": "blur"}


def settings() -> dict:
    """The library settings the checks depend on."""
    return {"smoothgrad_noise": attribution.SMOOTHGRAD_NOISE,
            "smoothgrad_samples": attribution.SMOOTHGRAD_SAMPLES,
            "ig_steps": attribution.IG_STEPS,
            "completeness_steps": attribution.COMPLETENESS_STEPS,
            "occlusion": [attribution.OCCLUSION_PATCH,
                          attribution.OCCLUSION_STRIDE],
            "blur_sigma": attribution.BLUR_SIGMA,
            "randomised_layers": list(attribution.RANDOMISED_LAYERS)}


def inputs(cache: cifar_cache.CifarCache) -> dict:
    """sha256 of the cached files the checks are computed from."""
    return {name: cifar_cache.sha256(cache.path(name))
            for name in ("cnn", "test_sample")}


NEW_METHOD = "SmoothGrad"      # whose every check is measured here


def measure(cache: cifar_cache.CifarCache) -> dict:
    """SmoothGrad's checks, and every method's blurred deletion."""
    sample, _ = cifar_cache.load_test_sample(cache)
    x, y = sample.x, sample.y
    model = cifar_cache.load_cnn(cache)
    smoothgrad = attribution.sanity_checks(model, x, y,
                                           methods=(NEW_METHOD,))
    blurred = {name: vars(attribution.deletion(model, x, y,
                                               method(model, x, y),
                                               fill="blur"))
               for name, method in attribution.METHODS.items()
               if name != NEW_METHOD}
    return {"command": COMMAND, "seed": 0, "images": len(y),
            "inputs": inputs(cache), "settings": settings(),
            "true_class_prob": smoothgrad["true_class_prob"],
            NEW_METHOD: smoothgrad["methods"][NEW_METHOD],
            "deletion_blur": blurred}


def load(cache: cifar_cache.CifarCache,
         path: str | Path = PAGE_CHECKS_FILE) -> dict:
    """Every method's checks on seed 0, as :func:`attribution.sanity_checks`
    returns them: the artefact at ``path`` merged with the cached checks,
    if it matches the cache and the library's settings; otherwise an error
    that says what to run."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no attribution checks at {path}: run "
                                f"`{COMMAND}` from the repository root")
    measured = json.loads(path.read_text(encoding="utf-8"))
    for what, now in (("settings", settings()), ("inputs", inputs(cache))):
        if measured.get(what) != now:
            raise ValueError(
                f"{path} was measured with other {what} "
                f"({measured.get(what)} != {now}): run `{COMMAND}`")
    cached = next(s for s in cache.metrics["attribution"]["seeds"]
                  if s["seed"] == measured["seed"])
    methods = {}
    for name in attribution.METHODS:
        if name == NEW_METHOD:
            methods[name] = measured[NEW_METHOD]
        else:
            methods[name] = {**cached["methods"][name], "deletion_blur":
                             measured["deletion_blur"][name]}
    return {"seed": measured["seed"], "images": measured["images"],
            "true_class_prob": measured["true_class_prob"],
            "ig_relative_error": cached["ig_relative_error"],
            "methods": methods}


def numbers(checks: dict) -> dict[str, str]:
    """The page's glue names and texts: ``checks_rho_first_<method>`` and
    ``checks_rho_all_<method>`` (randomisation), ``checks_<fill>_<method>``
    and ``checks_<fill>_random`` (deletion, fill grey or blur), the images
    and their mean true-class probability, integrated gradients'
    completeness (median relative error, share within 1 %)."""
    out = {"checks_images": fmt_int(checks["images"]),
           "checks_per_class": fmt_int(
               checks["images"] // len(CIFAR10_CLASSES)),
           "checks_prob": f"{checks['true_class_prob']:.2f}"}
    for name, m in checks["methods"].items():
        slug = SLUGS[name]
        out[f"checks_rho_first_{slug}"] = f"{m['randomisation'][0]:.2f}"
        out[f"checks_rho_all_{slug}"] = f"{m['randomisation'][-1]:.2f}"
        for key, fill in FILLS.items():
            out[f"checks_{fill}_{slug}"] = f"{m[key]['top']:.2f}"
            out[f"checks_{fill}_random"] = f"{m[key]['random']:.2f}"
    errors = sorted(checks["ig_relative_error"])
    out["checks_ig_median"] = fmt_pct(errors[len(errors) // 2], 2)
    out["checks_ig_within"] = fmt_pct(
        sum(e <= 0.01 for e in errors) / len(errors), 0)
    return {name: text.replace("-", "\u2212") for name, text in out.items()}


def verdicts(checks: dict) -> dict[str, bool]:
    """Each comparison chapter 6 makes from the checks, and whether it
    holds."""
    m = checks["methods"]
    rho = {name: v["randomisation"][-1] for name, v in m.items()}
    grey = {name: v["deletion"]["top"] for name, v in m.items()}
    blur = {name: v["deletion_blur"]["top"] for name, v in m.items()}
    first = next(iter(m.values()))
    random = {"grey": first["deletion"]["random"],
              "blur": first["deletion_blur"]["random"]}
    little, kept = ("gradient", "occlusion", "Grad-CAM"), (
        "integrated gradients", "SmoothGrad")
    strong, weak = ("integrated gradients", "occlusion"), (
        "SmoothGrad", "gradient", "Grad-CAM")
    order = ("occlusion", "SmoothGrad", "gradient", "Grad-CAM")
    return {
        "randomised: little kept < what IG and SmoothGrad keep":
            max(abs(rho[k]) for k in little) < min(rho[k] for k in kept),
        "Grad-CAM loses it with the top layer alone":
            abs(m["Grad-CAM"]["randomisation"][0]) < 0.1,
        "IG and occlusion beat random and the rest, both fills": all(
            min(d[k] for k in strong) > max(random[f], *(d[k] for k in weak))
            for f, d in (("grey", grey), ("blur", blur))),
        "Grad-CAM hurts least, both fills": all(
            d["Grad-CAM"] == min(d.values()) for d in (grey, blur)),
        "Grad-CAM below random with grey": grey["Grad-CAM"] < random["grey"],
        "every top beats random with blur":
            min(blur.values()) > random["blur"],
        "same order with both fills, IG aside": all(
            d[a] > d[b] for d in (grey, blur)
            for a, b in zip(order, order[1:])),
        "IG and occlusion tie with grey, IG leads alone with blur":
            abs(grey["integrated gradients"] - grey["occlusion"]) < 0.05
            and blur["integrated gradients"] == max(blur.values())
            and blur["integrated gradients"] - blur["occlusion"] > 0.1,
        "smoothgrad and gradient above random with grey": all(
            grey[k] > random["grey"] for k in ("SmoothGrad", "gradient")),
    }


def table(checks: dict) -> Markdown:
    """One row per method: rank correlation with the maps of the model
    randomised from the top (top layer only, all layers), and the drop in
    the true class's probability when its top 10 % of pixels are deleted
    (mean colour, blur), with random 10 % for comparison."""
    methods = checks["methods"]
    rows = [[name, *(f"{m['randomisation'][i]:.2f}" for i in (0, -1)),
             *(f"{m[d]['top']:.2f}" for d in ("deletion", "deletion_blur"))]
            for name, m in methods.items()]
    first = next(iter(methods.values()))
    rows.append(["random pixels", "", "",
                 *(f"{first[d]['random']:.2f}"
                   for d in ("deletion", "deletion_blur"))])
    return markdown_table(
        ["method", "ρ, top layer randomised", "ρ, all layers randomised",
         "drop, top 10 % greyed", "drop, top 10 % blurred"],
        [[str(v).replace("-", "\u2212") for v in row] for row in rows])


def main(argv: list[str] | None = None) -> int:
    """Measure the checks and write them to :data:`CHECKS_FILE`."""
    if argv:
        print(f"usage: {COMMAND}  (no arguments; run from the repository "
              "root)", file=sys.stderr)
        return 2
    cache = cifar_cache.open_cache(cifar_cache.CACHE_DIR)
    if not cache.ok:
        print("the CIFAR-10 cache is not usable: " + "; ".join(
            cache.problems), file=sys.stderr)
        return 1
    CHECKS_FILE.write_text(json.dumps(measure(cache), indent=1) + "\n",
                           encoding="utf-8")
    print(f"wrote {CHECKS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
