"""The two explorers in a real browser (headless Chromium via Playwright,
driven through their window.cnnTutorial hooks and with mouse and keyboard),
checked against the library and PyTorch; and an axe-core accessibility
audit of every page."""
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import AXE, SITE_PAGES, browser_marks, offline_page

from cnn_tutorial import activations, conv, data, models, widgets
from cnn_tutorial.export import read_weights

pytestmark = browser_marks()

CONV_PAGE = "book/02_convolution.html"
PAD_PAGE = "book/03_opened_up.html"
PAGES = SITE_PAGES
# every setting the explorer's sliders offer
GRID = list(itertools.product(*(range(lo, hi + 1) for lo, hi in (
    widgets.CONV_RANGES[name] for name in "nkps"))))


def open_page(page, server, path):
    page.goto(f"{server}/{path}", wait_until="networkidle")
    return page


def test_explorer_output_size_is_the_formula_and_pytorchs(page, server):
    open_page(page, server, CONV_PAGE)
    shown = page.evaluate("""grid => grid.map(([n, k, p, s]) => {
        const e = window.cnnTutorial.convExplorer;
        e.set({n, k, p, s});
        const text = document.querySelector('.cnn-explorer').innerText;
        return [e.outputSize(),
                text.includes('NaN') || text.includes('undefined'),
                document.querySelector('.cnn-message').innerText];
    })""", GRID)
    impossible = 0
    for (n, k, p, s), (size, broken, message) in zip(GRID, shown):
        assert not broken, (n, k, p, s)
        if k > n + 2 * p:
            impossible += 1
            assert size is None and "does not fit" in message, (n, k, p, s)
            with pytest.raises(ValueError):
                conv.output_size(n, k, p, s)
            continue
        assert size == conv.output_size(n, k, p, s) \
            == conv.torch_output_size(n, k, p, s), (n, k, p, s)
        assert message == ""
    assert impossible > 0
    assert not page.console_errors, page.console_errors


@pytest.mark.parametrize("n, k, p, s", [(5, 3, 0, 1), (7, 4, 2, 3),
                                        (12, 5, 3, 2), (3, 1, 1, 1)])
def test_explorer_worked_sum_is_the_librarys(page, server, n, k, p, s):
    open_page(page, server, CONV_PAGE)
    x, kernel = conv.example_input(n), conv.example_kernel(k)
    out = conv.conv2d(x[None, None], kernel[None, None], padding=p,
                      stride=s)[0, 0]
    o = out.shape[0]
    for i, j in {(0, 0), (o - 1, o - 1), (o // 2, 0)}:
        shown = page.evaluate("""([params, i, j]) => {
            const e = window.cnnTutorial.convExplorer;
            e.set(params); e.select(i, j); return e.workedSum();
        }""", [{"n": n, "k": k, "p": p, "s": s}, i, j])
        terms, value = conv.worked_sum(x, kernel, i, j, stride=s, padding=p)
        assert shown["terms"] == terms
        assert shown["value"] == value == out[i, j]
        assert shown["text"].startswith(f"output({i}, {j}) = {terms} = ")


def test_explorer_by_keyboard(page, server):
    open_page(page, server, CONV_PAGE)
    state = "window.cnnTutorial.convExplorer.workedSum()"
    page.focus(".cnn-explorer .cnn-stage")
    page.keyboard.press("ArrowRight")
    assert (page.evaluate(state)["i"], page.evaluate(state)["j"]) == (0, 1)
    page.keyboard.press("ArrowDown")                   # one output row down
    assert (page.evaluate(state)["i"], page.evaluate(state)["j"]) == (1, 1)
    page.keyboard.press("End")
    assert (page.evaluate(state)["i"], page.evaluate(state)["j"]) == (2, 2)
    page.keyboard.press("Home")
    page.keyboard.press("Space")                       # play ...
    page.wait_for_function(f"{state}.j >= 1")
    page.keyboard.press("Space")                       # ... and pause
    paused = page.evaluate(state)
    page.wait_for_timeout(900)
    assert page.evaluate(state) == paused
    # the sliders are native range inputs: arrow keys change them
    page.focus("#cnn-conv-p")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("window.cnnTutorial.convExplorer.state()") == {
        "n": 5, "k": 3, "p": 1, "s": 1, "outputSize": 5}


def _exported_digits(built_book: Path) -> torch.nn.Module:
    """The digits CNN as the built site serves it to the pad."""
    _, tensors = read_weights(built_book / "_static/widgets" /
                              widgets.DIGITS_WEIGHTS)
    model = models.digits_cnn()
    model.load_state_dict({name: tensors[name].float()
                           for name in model.state_dict()})
    return model.eval()


def test_exported_weights_are_the_chapters_trained_cnn(built_book,
                                                       trained_cnn):
    _, tensors = read_weights(built_book / "_static/widgets" /
                              widgets.DIGITS_WEIGHTS)
    for name, tensor in trained_cnn.model.state_dict().items():
        assert torch.equal(tensors[name], tensor.double()), name  # exactly


def test_digit_pad_matches_pytorch(page, server, built_book):
    model = _exported_digits(built_book)
    test = data.digits().test
    pixels = np.rint(test.x[:12, 0].numpy() * 16).reshape(12, 64)
    open_page(page, server, PAD_PAGE)
    page.evaluate("window.cnnTutorial.digitPad.ready")
    shown = page.evaluate("""digits => digits.map(d => {
        const pad = window.cnnTutorial.digitPad;
        pad.setPixels(d);
        return [pad.probabilities(), pad.featureMaps()];
    })""", pixels.tolist())
    expected = widgets.probabilities(model, pixels)
    layers = activations.conv_layers(model)
    maps = activations.feature_maps(
        model, torch.tensor(pixels / 16, dtype=torch.float32)
        .reshape(-1, 1, 8, 8), layers)
    for row, (probs, fmaps) in enumerate(shown):
        np.testing.assert_allclose(probs, expected[row], atol=1e-4)
        np.testing.assert_allclose(fmaps["conv1"],
                                   maps["block1.0"][row].flatten(), atol=1e-4)
        np.testing.assert_allclose(fmaps["conv2"],
                                   maps["block2.0"][row].flatten(), atol=1e-4)
    assert not page.console_errors, page.console_errors


def test_digit_pad_rejects_bad_pixels(page, server):
    open_page(page, server, PAD_PAGE)
    error = page.evaluate("""() => {
        try { window.cnnTutorial.digitPad.setPixels([1, 2, 3]); }
        catch (e) { return e.message; } }""")
    assert "64 numbers between 0 and 16" in error


def test_drawing_with_the_mouse_changes_the_prediction(page, server):
    open_page(page, server, PAD_PAGE)
    page.evaluate("window.cnnTutorial.digitPad.ready")
    pad = page.locator("canvas.cnn-pad")
    pad.scroll_into_view_if_needed()
    page.get_by_role("button", name="Load a test digit 0").click()
    before = page.evaluate("window.cnnTutorial.digitPad.probabilities()")
    assert int(np.argmax(before)) == 0
    page.get_by_role("button", name="Clear").click()
    box = pad.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + box["height"] * 0.12)
    page.mouse.down()
    for t in np.linspace(0.12, 0.88, 12):          # one vertical stroke
        page.mouse.move(x, box["y"] + box["height"] * t)
    page.mouse.up()
    pixels = np.array(page.evaluate(
        "window.cnnTutorial.digitPad.pixels()")).reshape(8, 8)
    assert pixels[1:7, 3:5].sum() > 0 and pixels[:, :2].sum() == 0
    after = page.evaluate("window.cnnTutorial.digitPad.probabilities()")
    assert int(np.argmax(after)) == 1
    assert page.locator(".cnn-digit-pad .cnn-verdict").inner_text().startswith(
        "The network reads a 1")


def test_drawing_with_a_finger(browser, server):
    """Touch input (a phone): a swipe on the pad draws instead of scrolling
    the page."""
    context = browser.new_context(viewport={"width": 390, "height": 800},
                                  has_touch=True, is_mobile=True)
    page = offline_page(context)
    open_page(page, server, PAD_PAGE)
    page.evaluate("window.cnnTutorial.digitPad.ready")
    pad = page.locator("canvas.cnn-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x = box["x"] + box["width"] / 2
    scrolled = page.evaluate("window.scrollY")
    touch = context.new_cdp_session(page)
    for kind, t in [("touchStart", 0.15), *[("touchMove", v) for v in
                    np.linspace(0.2, 0.85, 8)], ("touchEnd", None)]:
        points = [] if t is None else [
            {"x": x, "y": box["y"] + box["height"] * t}]
        touch.send("Input.dispatchTouchEvent",
                   {"type": kind, "touchPoints": points})
    pixels = np.array(page.evaluate(
        "window.cnnTutorial.digitPad.pixels()")).reshape(8, 8)
    assert pixels[2:6, 3:5].sum() > 0
    assert page.evaluate("window.scrollY") == scrolled
    assert not page.console_errors, page.console_errors
    context.close()


def test_widgets_fall_back_to_a_static_figure_without_javascript(
        browser, server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    for path in (CONV_PAGE, PAD_PAGE):
        page.goto(f"{server}/{path}")
        fallbacks = page.locator(".cnn-widget-fallback img").all()
        assert len(fallbacks) == (1 if path == CONV_PAGE else 3)
        for fallback in fallbacks:
            assert fallback.is_visible()
            assert fallback.evaluate("img => img.naturalWidth") > 0
    context.close()


@pytest.mark.parametrize("width, scheme", [(1280, "light"), (390, "dark")])
def test_widgets_fit_phone_width_and_both_modes(browser, server, screenshots,
                                                width, scheme):
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  color_scheme=scheme)
    page = offline_page(context)
    for path in (CONV_PAGE, PAD_PAGE):
        open_page(page, server, path)
        widget = page.locator(".cnn-widget").first
        widget.scroll_into_view_if_needed()
        page.evaluate("window.cnnTutorial.digitPad"
                      " ? window.cnnTutorial.digitPad.ready : null")
        page.evaluate("window.cnnTutorial.cifarExplorer"
                      " ? window.cnnTutorial.cifarExplorer.ready : null")
        if path == CONV_PAGE:
            page.evaluate("window.cnnTutorial.convExplorer"
                          ".set({n: 12, k: 3, p: 3, s: 1})")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for each in page.locator(".cnn-widget").all():
            assert each.evaluate("w => w.scrollWidth <= w.clientWidth + 1")
        if path == PAD_PAGE:
            explorer = page.locator(".cnn-cifar-explorer")
            explorer.scroll_into_view_if_needed()
            explorer.screenshot(path=str(
                screenshots / f"widget-cifar-{width}-{scheme}.png"))
        widget.screenshot(path=str(
            screenshots / f"widget-{Path(path).stem}-{width}-{scheme}.png"))
    assert not page.console_errors, page.console_errors
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violations(browser, server, path, scheme):
    context = browser.new_context(color_scheme=scheme)
    page = offline_page(context)
    open_page(page, server, path)
    if path == PAD_PAGE:
        page.evaluate("window.cnnTutorial.digitPad.ready")
        page.evaluate("window.cnnTutorial.cifarExplorer.ready")
        page.evaluate("window.cnnTutorial.trainer.ready")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
               for v in result["violations"]
               if v["impact"] in ("serious", "critical")]
    assert not serious, serious
    context.close()
