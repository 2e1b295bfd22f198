"""The CIFAR-10 explorer of chapter 3 in headless Chromium, against the
cached CNN in PyTorch: probabilities, feature maps, occlusion, receptive
fields, the reader's photo, the keyboard, and what happens when its files
or its configuration are broken."""
import io
import re

import numpy as np
import pytest
import torch
from conftest import (
    ROOT,
    assert_static_figure_from_disk,
    browser_marks,
    edited_header,
    goto,
    offline_page,
    serious_violations,
    shared_page,
    use_color_scheme,
)
from PIL import Image

from cnn_tutorial import activations, attribution, widgets
from cnn_tutorial.cifar import report
from cnn_tutorial.cifar.cache import (
    load_cnn,
    load_model,
    load_test_sample_raw,
    normalization,
    open_cache,
)
from cnn_tutorial.cifar.runs import TOP_RUN
from cnn_tutorial.data import Split

pytestmark = browser_marks()

PAGE = "book/04_opened_up.html"
EXPLORER = "window.cnnTutorial.cifarExplorer"


@pytest.fixture(scope="module")
def cifar():
    """The cached CNN, the explorer's test images and their standardised
    versions, as PyTorch sees them."""
    cache = open_cache(ROOT / "book/_static/cifar")
    assert cache.ok, cache.problems
    saved = load_test_sample_raw(cache)
    images, labels = widgets.cifar_samples(saved["x"], saved["y"])
    x = normalization(cache).apply(Split(images, torch.tensor(labels))).x
    return load_cnn(cache), images, x


@pytest.fixture(scope="module")
def top_rung():
    """The ladder's top network as cached (float16 weights, run in float32,
    eval mode) and seed 0's test accuracy of its rung without test-time
    augmentation ("white"), whose weights these are."""
    cache = open_cache(ROOT / "book/_static/cifar")
    return (load_model(cache, TOP_RUN),
            report.seed0(cache, "white")["test_acc"])


def _open(page, server):
    goto(page, f"{server}/{PAGE}")
    page.evaluate(f"{EXPLORER}.ready")
    return page


@pytest.fixture(scope="module")
def explorer(browser, server):
    """One desktop page with the explorer ready, shared by the tests that
    drive it only through inputs they set themselves (an image, a unit, a
    file); the tests that change its network, its keyboard focus or the
    browser's decoder open pages of their own."""
    yield from shared_page(browser, f"{server}/{PAGE}", f"{EXPLORER}.ready")


def _from_a_test_image(page) -> None:
    """Show a test image first, so that waiting for the reader's photo to
    be named waits for this test's photo."""
    page.get_by_role("button", name="Load test image 1 of class dog").click()


def _show(page, image: torch.Tensor) -> dict:
    return page.evaluate(f"""u8 => {{
        const e = {EXPLORER};
        e.setImage(u8);
        return {{p: e.probabilities(), conv1: e.featureMaps("conv1"),
                 conv2: e.featureMaps("conv2")}};
    }}""", image.flatten().tolist())


def test_explorer_runs_the_cached_cnn_exactly(explorer, cifar):
    model, images, x = cifar
    chosen = list(range(0, len(images), 6))     # five classes
    relu1, relu2 = model.block1[1], model.block2[1]   # after ReLU, pre-pool
    maps = activations.feature_maps(model, x[chosen], {"c1": relu1,
                                                       "c2": relu2})
    with torch.no_grad():
        expected = model(x[chosen]).softmax(1)
    page = explorer
    for row, k in enumerate(chosen):
        shown = _show(page, images[k])
        np.testing.assert_allclose(shown["p"], expected[row], atol=1e-4)
        np.testing.assert_allclose(shown["conv1"], maps["c1"][row].flatten(),
                                   atol=1e-4)
        np.testing.assert_allclose(shown["conv2"], maps["c2"][row].flatten(),
                                   atol=1e-4)
    assert not page.console_errors, page.console_errors


def _top_radio(page):
    return page.get_by_role("radio", name=re.compile("top rung"))


def test_switching_to_the_top_rung_runs_it_exactly_and_back(page, server,
                                                            cifar, top_rung):
    """By keyboard, the switch runs the ladder's whitened network (its file
    fetched only then): logits and both layers' maps equal PyTorch's on the
    cached weights; switching back gives the CNN's logits again."""
    model, images, x = cifar
    top, accuracy = top_rung
    fetched = []
    page.on("request", lambda r: fetched.append(r.url)
            if widgets.CIFAR_TOP_WEIGHTS in r.url else None)
    _open(page, server)
    k = 13
    logits = (f"u8 => {{ {EXPLORER}.setImage(u8); "
              f"return {EXPLORER}.logits(); }}")
    with torch.no_grad():
        cnn_logits = model(x[k:k + 1])[0]
        top_logits = top(x[k:k + 1])[0]
        maps = activations.feature_maps(top, x[k:k + 1], {
            "conv1": top.stem[1],                    # after the GELU
            "conv2": top.features[0][3]})            # pool, BN, GELU
    np.testing.assert_allclose(page.evaluate(logits, images[k].flatten()
                                             .tolist()), cnn_logits,
                               atol=1e-4)
    assert not fetched                     # loaded only when chosen
    radio = _top_radio(page)
    label = radio.evaluate("r => r.labels[0].innerText")
    assert f"{100 * accuracy:.1f}" in label
    assert "no test-time augmentation" in label
    page.get_by_role("radio", name=re.compile("2-block CNN")).focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_function(f"{EXPLORER}.network().index === 1")
    assert radio.is_checked() and len(fetched) == 1
    shown = np.array(page.evaluate(f"{EXPLORER}.logits()"))
    np.testing.assert_allclose(shown, top_logits, atol=2e-5)
    assert not np.allclose(shown, cnn_logits, atol=0.1)
    for name in ("conv1", "conv2"):
        np.testing.assert_allclose(
            page.evaluate(f"{EXPLORER}.featureMaps('{name}')"),
            maps[name][0].flatten(), atol=1e-4)
    assert "its 32 maps of 15×15 after 2×2 max pooling, BatchNorm and the " \
        "GELU" in page.locator(".cnn-cifar-ui").inner_text()
    np.testing.assert_allclose(
        page.evaluate(f"{EXPLORER}.probabilities()"),
        top_logits.softmax(0), atol=1e-6)
    page.keyboard.press("ArrowUp")
    page.wait_for_function(f"{EXPLORER}.network().index === 0")
    np.testing.assert_allclose(page.evaluate(f"{EXPLORER}.logits()"),
                               cnn_logits, atol=1e-4)
    assert len(page.evaluate(f"{EXPLORER}.featureMaps('conv1')")) \
        == 32 * 32 * 32
    assert len(fetched) == 1                          # not fetched again
    assert not page.console_errors, page.console_errors


def test_the_top_rung_fits_a_phone_and_is_accessible(browser, server):
    """Chosen on a phone in dark mode, then in a 1280-pixel light window
    (the same page, widened): the top rung's explorer fits and axe finds
    nothing serious in it."""
    context = browser.new_context(viewport={"width": 390, "height": 900},
                                  color_scheme="dark")
    page = offline_page(context)
    _open(page, server)
    radio = _top_radio(page)
    radio.scroll_into_view_if_needed()
    radio.check()
    page.wait_for_function(f"{EXPLORER}.network().index === 1")
    explorer = page.locator(".cnn-cifar-explorer")
    for width, scheme in ((390, "dark"), (1280, "light")):
        page.set_viewport_size({"width": width, "height": 900})
        use_color_scheme(page, scheme)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert explorer.evaluate("w => w.scrollWidth <= w.clientWidth + 1")
        serious = serious_violations(page, "'.cnn-cifar-explorer'")
        assert not serious, (width, scheme, serious)
    assert not page.console_errors, page.console_errors
    context.close()


def test_a_top_rung_that_cannot_load_leaves_the_cnn(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = offline_page(context)
    page.route(f"**/widgets/{widgets.CIFAR_TOP_WEIGHTS}",
               lambda r: r.fulfill(status=404, body=b""))
    _open(page, server)
    before = page.evaluate(f"{EXPLORER}.probabilities()")
    _top_radio(page).click()
    error = page.locator(".cnn-networks .cnn-message")
    error.filter(has_text="HTTP 404").wait_for()
    assert "The network before stays" in error.inner_text()
    assert page.evaluate(f"{EXPLORER}.network().index") == 0
    assert page.get_by_role("radio", name=re.compile("2-block CNN")) \
        .is_checked()
    assert page.evaluate(f"{EXPLORER}.probabilities()") == before
    context.close()


def test_occlusion_is_the_librarys(explorer, cifar):
    model, images, x = cifar
    page = explorer
    for k in (13,):
        shown = page.evaluate(f"""async u8 => {{
            const e = {EXPLORER};
            e.setImage(u8);
            return await e.occlusion();
        }}""", images[k].flatten().tolist())
        with torch.no_grad():
            target = model(x[k:k + 1]).argmax(1)
        expected = attribution.occlusion(model, x[k:k + 1], target)[0]
        np.testing.assert_allclose(shown, expected.flatten(), atol=1e-4)
        assert expected.abs().max() > 0.01       # not a trivial map
    assert not page.console_errors, page.console_errors


def test_receptive_field_of_a_selected_unit(explorer, cifar):
    model = cifar[0]
    page = explorer
    for layer, relu in (("conv1", model.block1[1]),
                        ("conv2", model.block2[1])):
        rf = activations.receptive_field(activations.layers_until(model, relu))
        for i, j in ((0, 0), (7, 9), (15, 15)):
            shown = page.evaluate(f"""([l, i, j]) => {{
                {EXPLORER}.select(l, 3, i, j);
                return {EXPLORER}.selection(); }}""", [layer, i, j])
            top, left = rf.start + i * rf.jump, rf.start + j * rf.jump
            assert shown["field"] == {
                "top": max(0, top), "left": max(0, left),
                "bottom": min(32, top + rf.size),
                "right": min(32, left + rf.size)}, (layer, i, j)
            assert f"{layer} channel 3, row {i}, column {j}" in shown["text"]


def test_keyboard_moves_the_unit_and_changes_the_channel(page, server):
    _open(page, server)
    grid = page.locator(".cnn-map-grid").nth(1)           # conv2's maps
    grid.scroll_into_view_if_needed()
    grid.focus()                      # selects channel 0 at the centre
    state = page.evaluate(f"{EXPLORER}.selection()")
    assert (state["layer"], state["channel"], state["i"], state["j"]) == (
        "conv2", 0, 8, 8)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("PageDown")
    page.keyboard.press("]")
    state = page.evaluate(f"{EXPLORER}.selection()")
    assert (state["layer"], state["channel"], state["i"], state["j"]) == (
        "conv2", 2, 9, 9)
    for _ in range(20):                           # stops at the border
        page.keyboard.press("ArrowLeft")
    assert page.evaluate(f"{EXPLORER}.selection()")["j"] == 0
    page.keyboard.press("End")
    assert page.evaluate(f"{EXPLORER}.selection()")["channel"] == 63
    assert page.locator(".cnn-map-grid").nth(1).locator(
        ".cnn-selected").inner_text() == "63"
    # the enlarged map picks a unit precisely
    detail = page.locator("canvas.cnn-pick")
    detail.click(position={"x": 1 + 8 * 13.5 - 1, "y": 1 + 8 * 2.5 - 1})
    state = page.evaluate(f"{EXPLORER}.selection()")
    assert (state["channel"], state["i"], state["j"]) == (63, 2, 13)
    # a click selects the map and the unit under the pointer
    tile = page.locator(".cnn-map-grid").first.locator("canvas").nth(4)
    box = tile.bounding_box()            # border box; click() offsets from
    x, y = box["width"] - 4, 4           # the padding box (1 px border)
    tile.click(position={"x": x, "y": y})
    state = page.evaluate(f"{EXPLORER}.selection()")
    assert (state["layer"], state["channel"], state["i"], state["j"]) == (
        "conv1", 4, int((y + 1) / box["height"] * 32),
        int((x + 1) / box["width"] * 32))


def test_a_test_image_button_loads_that_image(explorer, cifar):
    _, images, _ = cifar
    page = explorer
    page.get_by_role("button", name="Load test image 2 of class cat").click()
    k = 3 * 3 + 1              # cat is class 3; its images are numbered 1-3
    assert page.evaluate(f"{EXPLORER}.pixels()") == images[k].flatten() \
        .tolist()
    assert "a test cat" in page.locator(".cnn-cifar-ui").inner_text()


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_own_photo_is_cropped_to_its_centre_and_shrunk(explorer):
    """A 96 x 64 photo: green margins outside the centre square, which is
    red on the left and blue on the right."""
    photo = np.zeros((64, 96, 3))
    photo[:, :16] = photo[:, 80:] = (0, 255, 0)
    photo[:, 16:48] = (255, 0, 0)
    photo[:, 48:80] = (0, 0, 255)
    page = explorer
    _from_a_test_image(page)
    page.set_input_files("#cnn-cifar-photo", files=[{
        "name": "photo.png", "mimeType": "image/png", "buffer": _png(photo)}])
    _photo_shown(page, "96×64")
    pixels = np.array(page.evaluate(f"{EXPLORER}.pixels()")).reshape(3, 32, 32)
    red, green, blue = pixels
    assert green.max() <= 8, "the margins were not cropped away"
    assert red[:, :15].min() >= 247 and blue[:, :15].max() <= 8
    assert blue[:, 17:].min() >= 247 and red[:, 17:].max() <= 8
    probabilities = page.evaluate(f"{EXPLORER}.probabilities()")
    assert abs(sum(probabilities) - 1) < 1e-9
    assert "your photo (96×64, centre square)" in page.locator(
        ".cnn-cifar-ui").inner_text()
    # dropped on the image instead: a mirrored photo, mirrored pixels
    page.evaluate("""bytes => {
        const file = new File([new Uint8Array(bytes)], "dropped.png",
                              {type: "image/png"});
        const data = new DataTransfer();
        data.items.add(file);
        document.querySelector(".cnn-cifar-ui canvas.cnn-photo").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true,
                                   cancelable: true}));
    }""", list(_png(photo[:, ::-1])))
    page.wait_for_function(f"{EXPLORER}.pixels()[0] < 8")
    dropped = np.array(page.evaluate(f"{EXPLORER}.pixels()")).reshape(3, 32,
                                                                      32)
    np.testing.assert_array_equal(dropped, pixels[:, :, ::-1])
    assert not page.console_errors, page.console_errors


def _drop(page, files: list[tuple[str, bytes]]) -> None:
    """Drop each file on the explorer's image, one right after the other."""
    page.evaluate("""files => {
        const target = document.querySelector(
            ".cnn-cifar-ui canvas.cnn-photo");
        for (const [name, bytes] of files) {
            const data = new DataTransfer();
            const type = name.endsWith(".png") ? "image/png" : "";
            data.items.add(new File([new Uint8Array(bytes)], name, {type}));
            target.dispatchEvent(new DragEvent("drop", {
                dataTransfer: data, bubbles: true, cancelable: true}));
        }
    }""", [[name, list(data)] for name, data in files])


def _shown(page) -> np.ndarray:
    return np.array(page.evaluate(f"{EXPLORER}.pixels()")).reshape(3, 32, 32)


def _photo_shown(page, size: str) -> None:
    page.wait_for_function("document.querySelector('.cnn-cifar-ui')"
                           f".innerText.includes('your photo ({size}')")


def test_the_last_chosen_photo_wins_over_a_slower_one(page, server):
    """A 6000 x 4000 photo dropped, then at once a small one: the small
    one stays, however long the big one takes to decode."""
    big = np.zeros((4000, 6000, 3))
    big[..., 0] = 255                                  # red
    small = np.zeros((40, 40, 3))
    small[..., 2] = 255                                # blue
    _open(page, server)
    # every decode recorded, the big one's made slower still
    page.evaluate("""() => {
        const decode = window.createImageBitmap;
        window.decodes = [];
        window.createImageBitmap = (file, ...rest) => {
            const done = decode(file, ...rest).then(bitmap => new Promise(
                r => setTimeout(() => r(bitmap),
                                file.name === "big.png" ? 400 : 0)));
            window.decodes.push(done.catch(() => null));
            return done;
        };
    }""")
    _drop(page, [("big.png", _png(big)), ("small.png", _png(small))])
    page.evaluate("Promise.all(window.decodes).then("
                  "() => new Promise(r => setTimeout(r, 100)))")
    assert "your photo (40×40" in page.locator(".cnn-cifar-ui").inner_text()
    blue = _shown(page)[2]
    assert blue.min() >= 247 and _shown(page)[0].max() <= 8
    assert not page.console_errors, page.console_errors


def test_a_file_that_is_no_image_is_named_beside_its_control(explorer):
    page = explorer
    before = page.evaluate(f"{EXPLORER}.pixels()")
    page.set_input_files("#cnn-cifar-photo", files=[{
        "name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    beside = page.locator("#cnn-cifar-photo-error")
    beside.filter(has_text="notes.txt").wait_for()
    assert "notes.txt is not an image" in beside.inner_text()
    assert len(beside.inner_text().splitlines()) == 1
    picker, line = (page.locator("#cnn-cifar-photo").bounding_box(),
                    beside.bounding_box())
    assert 0 <= line["y"] - (picker["y"] + picker["height"]) < 40
    assert page.locator(".cnn-cifar-explorer > .cnn-message").inner_text() \
        == ""                        # not at the top of the widget
    assert page.evaluate(f"{EXPLORER}.pixels()") == before
    # the next good image clears it
    page.get_by_role("button", name="Load test image 1 of class dog").click()
    assert beside.inner_text() == ""
    # dropped on the image: said under the image
    _drop(page, [("notes.txt", b"hello")])
    under = page.locator(".cnn-photo-panel .cnn-message").first
    under.filter(has_text="notes.txt").wait_for()
    image, said = (page.locator(".cnn-cifar-ui canvas.cnn-photo").first
                   .bounding_box(), under.bounding_box())
    assert 0 <= said["y"] - (image["y"] + image["height"]) < 60
    assert beside.inner_text() == ""
    _drop(page, [("good.png", _png(np.full((32, 32, 3), 200)))])
    _photo_shown(page, "32×32")
    assert under.inner_text() == ""
    assert not page.console_errors, page.console_errors


def test_transparency_is_white_and_any_decodable_file_is_tried(explorer):
    """A PNG whose left half is opaque blue and right half transparent (red
    under alpha 0): the transparent half is white, not black or red. Then
    a PNG named without an extension: decoded all the same."""
    photo = np.zeros((32, 32, 4))
    photo[:, :16] = (0, 0, 255, 255)
    photo[:, 16:] = (255, 0, 0, 0)
    page = explorer
    _from_a_test_image(page)
    _drop(page, [("clear.png", _png(photo))])
    _photo_shown(page, "32×32")
    red, green, blue = _shown(page)
    assert min(red[:, 17:].min(), green[:, 17:].min(),
               blue[:, 17:].min()) >= 250
    assert blue[:, :15].min() >= 250 and red[:, :15].max() <= 5
    green = np.zeros((40, 40, 3))
    green[..., 1] = 255
    page.set_input_files("#cnn-cifar-photo", files=[{
        "name": "photo", "mimeType": "application/octet-stream",
        "buffer": _png(green)}])
    _photo_shown(page, "40×40")
    assert _shown(page)[1].min() >= 250 and _shown(page)[0].max() <= 5
    assert page.locator("#cnn-cifar-photo-error").inner_text() == ""
    assert not page.console_errors, page.console_errors


def test_set_image_rejects_bad_input(explorer):
    page = explorer
    error = page.evaluate(f"""() => {{
        try {{ {EXPLORER}.setImage([1, 2, 3]); }}
        catch (e) {{ return e.message; }} }}""")
    assert "3072 integers 0–255" in error


def _weights(built_book, name: str) -> bytes:
    return (built_book / "_static/widgets" / name).read_bytes()


def _broken(built_book):
    cifar = _weights(built_book, widgets.CIFAR_WEIGHTS)

    def fewer_channels(header):
        header["tensors"]["block2.0.weight"]["shape"] = [64, 16, 3, 3]

    return {
        "missing": (404, b"", "HTTP 404"),
        "truncated": (200, cifar[:-1000], "truncated"),
        "not the CIFAR network": (200, _weights(built_book,
                                                widgets.DIGITS_WEIGHTS),
                                  "the weights are for 1×8×8 inputs"),
        "shapes that do not fit": (200, edited_header(cifar, fewer_channels),
                                   "expects 16 input channels, the layer "
                                   "before gives 32"),
    }


@pytest.mark.parametrize("case", ["missing", "truncated",
                                  "not the CIFAR network",
                                  "shapes that do not fit"])
def test_a_broken_weights_file_keeps_the_static_figure(browser, server,
                                                       built_book, case):
    status, body, message = _broken(built_book)[case]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = offline_page(context)
    page.route(f"**/widgets/{widgets.CIFAR_WEIGHTS}",
               lambda r: r.fulfill(status=status, body=body))
    goto(page, f"{server}/{PAGE}")
    failed = page.evaluate(
        f"{EXPLORER}.ready.then(() => null, e => e.message)")
    assert failed and message in failed
    explorer = page.locator(".cnn-cifar-explorer")
    assert explorer.locator(".cnn-widget-fallback img").is_visible()
    assert not explorer.locator(".cnn-cifar-ui").is_visible()
    text = explorer.locator(":scope > .cnn-message").inner_text()
    assert text.startswith("Could not load the network") and message in text
    assert len(text.splitlines()) == 1
    # the explorer's hooks answer without throwing; the digit pad still works
    assert page.evaluate(f"{EXPLORER}.probabilities()") is None
    page.evaluate("window.cnnTutorial.digitPad.ready")
    page.get_by_role("button", name="Load a test digit 3").click()
    assert np.argmax(page.evaluate(
        "window.cnnTutorial.digitPad.probabilities()")) == 3
    errors = [e for e in page.console_errors
              if not e.startswith("Failed to load resource")]
    assert not errors, errors
    context.close()


def test_a_config_that_does_not_parse_leaves_the_page_working(browser,
                                                              server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = offline_page(context)

    def corrupt(route):
        html = route.fetch().text()
        broken, n = re.subn(r'(class="cnn-widget cnn-cifar-explorer" '
                            r"data-config=')\{", r"\1{{oops", html)
        assert n == 1
        route.fulfill(body=broken, content_type="text/html")

    page.route(f"**/{PAGE}", corrupt)
    goto(page, f"{server}/{PAGE}")
    explorer = page.locator(".cnn-cifar-explorer")
    assert explorer.locator(".cnn-widget-fallback img").is_visible()
    assert "could not start" in explorer.locator(".cnn-message").inner_text()
    page.evaluate("window.cnnTutorial.digitPad.ready")
    page.get_by_role("button", name="Load a test digit 7").click()
    assert np.argmax(page.evaluate(
        "window.cnnTutorial.digitPad.probabilities()")) == 7
    assert not [e for e in page.console_errors
                if not e.startswith("Failed to load resource")]
    context.close()


def test_opened_from_disk_the_static_figure_stays(browser, built_book):
    assert_static_figure_from_disk(browser, built_book / PAGE,
                                   "cnn-cifar-explorer")
