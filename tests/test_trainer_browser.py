"""Train it yourself (chapter 3) in headless Chromium: the page's training
steps are PyTorch's, its fit learns the digits, the controls work, and
what cannot run leaves the static figure and one line saying why."""
import numpy as np
import pytest
from conftest import (
    assert_static_figure_from_disk,
    browser_marks,
    goto,
    offline_page,
    shared_page,
)
from test_train_widget import step_batches, torch_steps

from cnn_tutorial import models, train_widget, widgets
from cnn_tutorial.experiments import DIGITS_RECIPE
from cnn_tutorial.transforms import shift_images

pytestmark = browser_marks()

PAGE = "book/04_opened_up.html"
TRAINER = "window.cnnTutorial.trainer"
PAD = "window.cnnTutorial.digitPad"
STEPS = 20


def open_trainer(page, server):
    goto(page, f"{server}/{PAGE}")
    page.evaluate(f"{TRAINER}.ready")
    return page.locator(".cnn-trainer")


@pytest.fixture(scope="module")
def trainer(browser, server):
    """One desktop page with the trainer ready, shared by the tests that
    start it from its initial weights themselves (reset)."""
    yield from shared_page(browser, f"{server}/{PAGE}", f"{TRAINER}.ready")


def test_steps_reproduce_pytorchs_training(trainer, digits):
    """The first 20 batches train.fit draws, fed to the page one by one,
    give the weights PyTorch's Adam (the digits recipe) gives."""
    page = trainer
    batches = step_batches(len(digits.train), DIGITS_RECIPE.batch_size, STEPS)
    start = page.evaluate(f"{TRAINER}.reset().then(() => "
                          f"{TRAINER}.parameters())")
    page.evaluate(f"""async batches => {{
        for (const b of batches) await {TRAINER}.step(b);
    }}""", [b.tolist() for b in batches])
    shown = page.evaluate(f"{TRAINER}.parameters()")
    model = models.digits_cnn(seed=0)
    for name, value in model.state_dict().items():   # the same start
        np.testing.assert_array_equal(start[name], value.flatten().numpy())
    torch_steps(model, digits.train.x, digits.train.y, batches,
                DIGITS_RECIPE.build(model, STEPS)[0])
    moved = 0.0
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(shown[name], value.flatten().numpy(),
                                   rtol=0, atol=1e-4, err_msg=name)
        moved = max(moved, float(np.abs(np.subtract(
            shown[name], start[name])).max()))
    assert moved > 1e-2
    assert page.evaluate(f"{TRAINER}.recipe()") == \
        train_widget.recipe_config(DIGITS_RECIPE)
    assert not page.console_errors, page.console_errors


def test_fit_learns_the_digits_and_the_page_shows_it(trainer):
    """fit from the initial weights learns: after two epochs the test
    accuracy is over 70 % (chance: 10 %) and the second epoch's training
    loss is over a third below the first's (the page's seeded shuffle
    makes this the same run every time: 74.7 %, 2.12 then 1.06; the bench
    times an epoch); the status line, the curves and the filters' caption
    follow; Reset goes back to the start."""
    page = trainer
    widget = page.locator(".cnn-trainer")
    start = page.evaluate(f"{TRAINER}.reset().then(() => "
                          f"{TRAINER}.parameters())")
    history = page.evaluate(f"{TRAINER}.fit({{epochs: 2}})")
    assert len(history["test_acc"]) == 2 and not history["paused"]
    assert history["test_acc"][-1] > 0.7
    assert history["train_loss"][-1] < history["train_loss"][0] / 1.5
    assert page.evaluate(f"{TRAINER}.evaluate()") == history["test_acc"][-1]
    status = widget.locator(".cnn-verdict").inner_text()
    accuracy = f"{100 * history['test_acc'][-1]:.1f} %"
    assert f"After epoch 2: test accuracy {accuracy}" in status
    accuracy_chart = widget.locator("svg.cnn-chart").nth(1)
    assert accuracy_chart.locator("circle").count() == 2
    caption = widget.get_by_text("median cosine similarity").inner_text()
    assert float(caption.split(": ")[1].split()[0]) < 1
    widget.get_by_role("button", name="Reset").click()
    page.wait_for_function("document.querySelector('.cnn-trainer "
                           ".cnn-verdict').innerText.startsWith('Untrained')")
    assert page.evaluate(f"{TRAINER}.parameters()") == start
    assert widget.locator("svg.cnn-chart circle").count() == 0
    assert not page.console_errors, page.console_errors


def test_pause_and_resume_with_the_keyboard(page, server):
    widget = open_trainer(page, server)
    train = widget.get_by_role("button", name="Train")
    train.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.cnn-trainer "
                           ".cnn-verdict').innerText"
                           ".includes('training digits')")
    pause = widget.get_by_role("button", name="Pause")
    assert widget.get_by_role("button", name="Reset").is_disabled()
    pause.focus()
    page.keyboard.press("Enter")
    resume = widget.get_by_role("button", name="Resume")
    resume.wait_for()
    paused = widget.locator(".cnn-verdict").inner_text()
    page.wait_for_timeout(500)
    assert widget.locator(".cnn-verdict").inner_text() == paused  # stopped
    resume.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "text => document.querySelector('.cnn-trainer .cnn-verdict')"
        ".innerText !== text", arg=paused)
    widget.get_by_role("button", name="Pause").click()
    widget.get_by_role("button", name="Resume").wait_for()
    assert not page.console_errors, page.console_errors


def test_bad_steps_are_refused_with_a_message(trainer):
    page = trainer
    error = page.evaluate(f"{TRAINER}.step([0, 99999]).then(() => null, "
                          "e => e.message)")
    assert "indices in 0..1346" in error


@pytest.mark.parametrize("case", ["no worker", "weights missing",
                                  "worker script missing"])
def test_what_cannot_run_keeps_the_static_figure(browser, server, case):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = offline_page(context)
    if case == "no worker":
        page.add_init_script("delete window.Worker")
        reason = "no Web Workers"
    elif case == "weights missing":
        page.route(f"**/widgets/{train_widget.INITIAL_WEIGHTS}",
                   lambda r: r.fulfill(status=404, body=b""))
        reason = "HTTP 404"
    else:
        page.route("**/trainer_worker.js",
                   lambda r: r.fulfill(status=404, body=b""))
        reason = ""
    goto(page, f"{server}/{PAGE}")
    failed = page.evaluate(f"{TRAINER}.ready.then(() => null, e => e.message)")
    assert failed and reason in failed
    widget = page.locator(".cnn-trainer")
    assert widget.locator(".cnn-widget-fallback img").is_visible()
    assert not widget.locator(".cnn-trainer-ui").is_visible()
    text = widget.locator(".cnn-message").inner_text()
    assert text.startswith("Training in the page is not available here")
    assert len(text.splitlines()) == 1
    # the chapter's other widgets start and answer
    page.evaluate("Promise.all([window.cnnTutorial.digitPad.ready, "
                  "window.cnnTutorial.cifarExplorer.ready])")
    assert len(page.evaluate(f"{PAD}.probabilities()")) == 10
    unexpected = [e for e in page.console_errors
                  if "Failed to load resource" not in e]
    assert unexpected == []
    context.close()


def test_opened_from_disk_the_static_figure_stays(browser, built_book):
    assert_static_figure_from_disk(browser, built_book / PAGE, "cnn-trainer")


def handwriting(digits, per_class: int) -> list[tuple[int, list[int]]]:
    """A reader whose handwriting sits two pixels lower and to the right
    than the book's digits: the first ``2 * per_class`` test digits of each
    class, shifted; (label, 64 pixel counts)."""
    x = shift_images(digits.test.x, 2, 2)
    out = []
    for d in range(10):
        for i in (digits.test.y == d).nonzero()[:2 * per_class, 0].tolist():
            out.append((d, np.rint(x[i, 0].numpy() * 16).astype(int)
                        .ravel().tolist()))
    return out


def test_teach_it_your_handwriting(page, server, digits, trained_cnn):
    """Drawings added with the mouse and keyboard (and the hook), then
    fine-tuning: the drawings it was not trained on read better, the book's
    test digits are not forgotten, and the pad runs the fine-tuned network
    until the reader goes back to the chapter's."""
    goto(page, f"{server}/{PAGE}")
    page.evaluate(f"{PAD}.ready")
    panel = page.locator(".cnn-teach")
    pad = page.locator("canvas.cnn-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()                       # a "1", with the mouse
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 0.15 * box["height"])
    page.mouse.down()
    page.mouse.move(x, box["y"] + 0.85 * box["height"], steps=10)
    page.mouse.up()
    panel.locator("select").select_option("1")
    panel.get_by_role("button", name="Add to my training examples").click()
    assert "My training examples: 1 (1)" in panel.inner_text()
    drawn = handwriting(digits, 2)
    label, pixels = drawn[0]                       # by keyboard
    page.evaluate(f"p => {PAD}.setPixels(p)", pixels)
    panel.locator("select").focus()
    page.keyboard.press(str(label))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    for k, (label, pixels) in enumerate(drawn[1:], start=1):
        page.evaluate(f"([d, p, role]) => {{ {PAD}.setPixels(p); "
                      f"{PAD}.teach.add(d, role); }}",
                      [label, pixels, "train" if k % 4 < 2 else "test"])
    kept = page.evaluate(f"{PAD}.teach.drawings()")
    assert [d["label"] for d in kept["train"]][:2] == [1, 0]
    assert len(kept["test"]) == 20
    panel.get_by_role("button", name="Fine-tune on my examples").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.cnn-teach table')",
                           timeout=120_000)
    out = page.evaluate(f"{PAD}.teach.fineTune()")   # the same, via the hook
    test = [d["pixels"] for d in kept["test"]]
    before = widgets.probabilities(trained_cnn.model, np.array(test))
    np.testing.assert_allclose(out["before"], before, atol=1e-4)
    assert out["accuracyAfter"] > out["accuracyBefore"]
    assert out["testAccuracy"] >= 0.95
    verdict = panel.locator(".cnn-teach-verdict").inner_text()
    assert f"{round(20 * out['accuracyBefore'])} of 20 before, " \
        f"{round(20 * out['accuracyAfter'])} of 20 after" in verdict
    page.evaluate(f"p => {PAD}.setPixels(p)", test[0])
    np.testing.assert_allclose(page.evaluate(f"{PAD}.probabilities()"),
                               out["after"][0], atol=1e-9)
    panel.get_by_role("button", name="Back to the chapter's network").click()
    np.testing.assert_allclose(page.evaluate(f"{PAD}.probabilities()"),
                               before[0], atol=1e-4)
    assert not page.console_errors, page.console_errors


def test_teach_on_a_phone_with_a_finger(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 800},
                                  has_touch=True, is_mobile=True)
    page = offline_page(context)
    goto(page, f"{server}/{PAGE}")
    page.evaluate(f"{PAD}.ready")
    panel = page.locator(".cnn-teach")
    add = panel.get_by_role("button", name="Add to my test drawings")
    add.scroll_into_view_if_needed()
    add.tap()                                      # nothing drawn yet
    assert "The pad is empty" in panel.inner_text()
    pad = page.locator("canvas.cnn-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    touch = context.new_cdp_session(page)
    x = box["x"] + box["width"] / 2
    # at a finger's pace: a move every 16 ms, held still before lifting.
    # Sent all at once (the whole stroke in a few ms), the stroke was
    # followed by a tap without a click in 6 of 15 tries on a bare canvas
    # with no code of the pad's (issue #27): Chromium's gesture handling of
    # injected touches, not the pad; at this pace 15 of 15 tapped.
    ys = [*np.linspace(0.2, 0.8, 12), *[0.8] * 6]
    for i, t in enumerate(ys):
        touch.send("Input.dispatchTouchEvent", {
            "type": "touchMove" if i else "touchStart",
            "touchPoints": [{"x": x, "y": box["y"] + box["height"] * t,
                             "id": 1}]})
        page.wait_for_timeout(16)
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd",
                                            "touchPoints": []})
    # the browser delivers the touch as pointer events in its own time
    page.wait_for_function(f"{PAD}.pixels().some((v) => v > 0)")
    add.scroll_into_view_if_needed()
    add.tap()                                      # a finger, as on a phone
    assert "My test drawings: 1 (0)" in panel.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not page.console_errors, page.console_errors
    context.close()
