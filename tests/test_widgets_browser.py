"""The convolution explorer and the draw-a-digit pad in a real browser
(headless Chromium via Playwright, driven through their window.cnnTutorial
hooks and with mouse and keyboard),
checked against the library and PyTorch."""
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import (
    browser_marks,
    goto,
    offline_page,
    shared_page,
    use_color_scheme,
)

from cnn_tutorial import activations, conv, data, models, widgets
from cnn_tutorial.export import read_weights

pytestmark = browser_marks()

CONV_PAGE = "book/02_convolution.html"
PAD_PAGE = "book/04_opened_up.html"
# every setting the explorer's sliders offer
GRID = list(itertools.product(*(range(lo, hi + 1) for lo, hi in (
    widgets.CONV_RANGES[name] for name in "nkps"))))


def open_page(page, server, path):
    goto(page, f"{server}/{path}")
    return page


# one page each, shared by the tests that set every input they read (the
# keyboard tests open their own)
@pytest.fixture(scope="module")
def conv_page(browser, server):
    yield from shared_page(browser, f"{server}/{CONV_PAGE}")


@pytest.fixture(scope="module")
def pad_page(browser, server):
    yield from shared_page(browser, f"{server}/{PAD_PAGE}",
                           "window.cnnTutorial.digitPad.ready")


def test_explorer_output_size_is_the_formula_and_pytorchs(conv_page):
    page = conv_page
    shown = page.evaluate("""grid => grid.map(([n, k, p, s]) => {
        const e = window.cnnTutorial.convExplorer;
        e.set({n, k, p, s, channels: 1, filters: 1});
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
def test_explorer_worked_sum_is_the_librarys(conv_page, n, k, p, s):
    page = conv_page
    x, kernel = conv.example_input(n), conv.example_kernel(k)
    out = conv.conv2d(x[None, None], kernel[None, None], padding=p,
                      stride=s)[0, 0]
    o = out.shape[0]
    for i, j in {(0, 0), (o - 1, o - 1), (o // 2, 0)}:
        shown = page.evaluate("""([params, i, j]) => {
            const e = window.cnnTutorial.convExplorer;
            e.set(params); e.select(i, j); return e.workedSum();
        }""", [{"n": n, "k": k, "p": p, "s": s, "channels": 1,
                "filters": 1}, i, j])
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
        "n": 5, "k": 3, "p": 1, "s": 1, "channels": 1, "filters": 1,
        "outputSize": 5}


def test_three_channels_two_filters_equal_pytorch(conv_page):
    """The multi-channel mode: its output is torch's conv2d of its own
    input, filters and biases, and the worked sum of a cell is the
    library's, channel by channel plus the bias."""
    page = conv_page
    for n, k, p, s in [(5, 3, 0, 1), (7, 4, 2, 3), (12, 5, 3, 2),
                       (6, 2, 1, 2)]:
        shown = page.evaluate("""params => {
            const e = window.cnnTutorial.convExplorer;
            e.set(params);
            return {input: e.input(), weights: e.weights(), bias: e.bias(),
                    output: e.output(), size: e.outputSize()};
        }""", {"n": n, "k": k, "p": p, "s": s, "channels": 3, "filters": 2})
        x, w = np.array(shown["input"]), np.array(shown["weights"])
        np.testing.assert_array_equal(x, widgets.explorer_input()[:, :n, :n])
        np.testing.assert_array_equal(w, widgets.explorer_filters(k))
        expected = torch.nn.functional.conv2d(
            torch.tensor(x[None], dtype=torch.float64),
            torch.tensor(w, dtype=torch.float64),
            torch.tensor(shown["bias"], dtype=torch.float64),
            stride=s, padding=p)[0]
        o = shown["size"]
        assert np.array(shown["output"]).shape == (2, o, o)
        np.testing.assert_array_equal(shown["output"], expected.numpy())
        for i, j in {(0, 0), (o - 1, o - 1), (o // 2, 0)}:
            sums = page.evaluate("""([i, j]) => {
                const e = window.cnnTutorial.convExplorer;
                e.select(i, j); return [e.workedSum(0), e.workedSum(1)];
            }""", [i, j])
            for f, cell in enumerate(sums):
                text = conv.worked_channel_sum(x, w, shown["bias"], f, i, j,
                                               stride=s, padding=p)
                assert cell["value"] == expected[f, i, j]
                assert cell["text"] == f"output {f}({i}, {j}) = {text}"
                assert cell["text"] in page.locator(".cnn-worked").inner_text()
    assert len(page.locator(".cnn-explorer .cnn-stage svg").all()) \
        == 3 + 2 * 3 + 2          # the input channels, kernels, outputs
    assert not page.console_errors, page.console_errors


def _twice(page, kind: str, path: str) -> None:
    """Serve ``path`` with its ``kind`` widget on it twice."""
    def double(route):
        html = route.fetch().text()
        doubled, n = re.subn(
            rf'(<div class="cnn-widget cnn-{kind}".*?</p></div></div>)',
            r"\1\1", html, flags=re.S)
        assert n == 1
        route.fulfill(body=doubled, content_type="text/html")

    page.route(f"**/{path}", double)


def test_two_widgets_of_a_kind_on_a_page_are_apart(page, server):
    _twice(page, "conv-explorer", CONV_PAGE)
    open_page(page, server, CONV_PAGE)
    assert page.evaluate("""() => {
        const [first, second] = window.cnnTutorial.instances.convExplorer;
        const els = document.querySelectorAll('.cnn-conv-explorer');
        return els.length === 2 && els[0].cnnTutorial === first
            && els[1].cnnTutorial === second
            && window.cnnTutorial.convExplorer === first;
    }""")
    ids = page.evaluate("[...document.querySelectorAll('[id]')]"
                        ".map(e => e.id)")
    assert len(ids) == len(set(ids))
    # the second one's slider (by its own label) changes only the second
    second = page.locator(".cnn-conv-explorer").nth(1)
    second.get_by_label("padding p").focus()
    page.keyboard.press("ArrowRight")
    states = page.evaluate("window.cnnTutorial.instances.convExplorer"
                           ".map(e => e.state().p)")
    assert states == [0, 1]
    page.evaluate("document.querySelectorAll('.cnn-conv-explorer')[1]"
                  ".cnnTutorial.set({channels: 3})")
    assert len(page.locator(".cnn-conv-explorer").first
               .locator(".cnn-stage svg").all()) == 3
    assert not page.console_errors, page.console_errors


def test_an_error_inside_a_widget_is_one_line_in_that_widget(pad_page):
    page = pad_page
    page.evaluate("""() => {
        const N = window.cnnTutorial.numerics;
        N.workingForward = N.forward;
        N.forward = () => { throw new Error("the forward pass broke"); };
    }""")
    try:             # the page is shared: the forward pass comes back
        page.get_by_role("button", name="Load a test digit 3").click()
        said = page.locator(".cnn-digit-pad .cnn-widget-error")
        assert said.inner_text() == ("Something went wrong in this "
                                     "explorer: the forward pass broke")
        assert page.locator(
            ".cnn-cifar-explorer .cnn-widget-error").count() == 0
        assert not page.console_errors, page.console_errors  # uncaught
    finally:
        page.evaluate("() => { const N = window.cnnTutorial.numerics;"
                      " N.forward = N.workingForward; }")
    page.get_by_role("button", name="Load a test digit 3").click()
    assert said.inner_text() == ""
    assert np.argmax(page.evaluate(
        "window.cnnTutorial.digitPad.probabilities()")) == 3


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


def test_digit_pad_matches_pytorch(pad_page, built_book):
    model = _exported_digits(built_book)
    test = data.digits().test
    pixels = np.rint(test.x[:12, 0].numpy() * 16).reshape(12, 64)
    page = pad_page
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


def test_digit_pad_rejects_bad_pixels(pad_page):
    page = pad_page
    error = page.evaluate("""() => {
        try { window.cnnTutorial.digitPad.setPixels([1, 2, 3]); }
        catch (e) { return e.message; } }""")
    assert "64 numbers between 0 and 16" in error


def test_drawing_with_the_mouse_changes_the_prediction(pad_page):
    page = pad_page
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


@pytest.fixture(scope="module")
def phone_pad(browser, server):
    """The pad's page on a phone (touch), shared by the touch tests."""
    for page in shared_page(browser, f"{server}/{PAD_PAGE}",
                            "window.cnnTutorial.digitPad.ready",
                            viewport={"width": 390, "height": 800},
                            has_touch=True, is_mobile=True):
        page.touch = page.context.new_cdp_session(page)
        yield page


def _swipe_down(page, columns) -> dict:
    """On the emptied pad of a phone, one finger per column (a fraction of
    the pad's width) swipes down, all at once: the pad's pixels, whether
    the page scrolled, and the console errors."""
    page.evaluate("window.cnnTutorial.digitPad.setPixels(Array(64).fill(0))")
    pad = page.locator("canvas.cnn-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    scrolled = page.evaluate("window.scrollY")
    for kind, t in [("touchStart", 0.15), *[("touchMove", v) for v in
                    np.linspace(0.2, 0.85, 8)], ("touchEnd", None)]:
        points = [] if t is None else [
            {"x": box["x"] + box["width"] * f,
             "y": box["y"] + box["height"] * t, "id": finger}
            for finger, f in enumerate(columns)]
        page.touch.send("Input.dispatchTouchEvent",
                        {"type": kind, "touchPoints": points})
    pixels = np.array(page.evaluate(
        "window.cnnTutorial.digitPad.pixels()")).reshape(8, 8)
    return {"pixels": pixels, "errors": page.console_errors,
            "scrolled": page.evaluate("window.scrollY") != scrolled}


def test_drawing_with_a_finger(phone_pad):
    """Touch input (a phone): a swipe on the pad draws instead of scrolling
    the page."""
    swiped = _swipe_down(phone_pad, [0.5])
    assert swiped["pixels"][2:6, 3:5].sum() > 0
    assert not swiped["scrolled"]
    assert not swiped["errors"], swiped["errors"]


def test_two_fingers_draw_two_strokes(phone_pad):
    """Two fingers down at once, each drawing a vertical line: two
    strokes, and nothing between them."""
    swiped = _swipe_down(phone_pad, [0.2, 0.8])
    pixels = swiped["pixels"]
    assert pixels[2:6, 1].sum() > 0 and pixels[2:6, 6].sum() > 0
    assert pixels[:, 3:5].sum() == 0, pixels         # no line between
    assert not swiped["errors"], swiped["errors"]


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


@pytest.mark.parametrize("path", [CONV_PAGE, PAD_PAGE])
def test_widgets_fit_phone_width_and_both_modes(browser, server, path):
    """Opened on a phone in dark mode, then in a 1280-pixel light window
    (the same page, widened): nothing is wider than the page."""
    context = browser.new_context(viewport={"width": 390, "height": 900},
                                  color_scheme="dark")
    page = offline_page(context)
    open_page(page, server, path)
    for width, scheme in ((390, "dark"), (1280, "light")):
        page.set_viewport_size({"width": width, "height": 900})
        use_color_scheme(page, scheme)
        widget = page.locator(".cnn-widget").first
        widget.scroll_into_view_if_needed()
        page.evaluate("window.cnnTutorial.digitPad"
                      " ? window.cnnTutorial.digitPad.ready : null")
        page.evaluate("window.cnnTutorial.cifarExplorer"
                      " ? window.cnnTutorial.cifarExplorer.ready : null")
        if path == CONV_PAGE:
            page.evaluate("window.cnnTutorial.convExplorer.set("
                          "{n: 12, k: 3, p: 3, s: 1, channels: 3,"
                          " filters: 2})")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for each in page.locator(".cnn-widget").all():
            assert each.evaluate("w => w.scrollWidth <= w.clientWidth + 1")
    assert not page.console_errors, page.console_errors
    context.close()
