"""The built site in a real browser: headless Chromium (the system one,
driven by Playwright; no browser is downloaded): every page renders,
offline, and passes an axe-core accessibility audit in light and dark
mode; navigation, figures and phone-width tables work."""
import pytest
from conftest import (
    CHAPTER_FILES,
    SITE_PAGES,
    TOC_FILES,
    browser_marks,
    goto,
    serious_violations,
    use_color_scheme,
)

pytestmark = browser_marks()

PAGES = SITE_PAGES
MATH_PAGES = [f"{f}.html" for f in TOC_FILES[:1] + CHAPTER_FILES]
CONV_PAGE = "book/02_convolution.html"
WIDGET_PAGE = "book/04_opened_up.html"

@pytest.mark.parametrize("path", PAGES)
def test_page_in_browser(page, server, path):
    response = goto(page, f"{server}/{path}")
    assert response.status == 200
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => ({src: e.src, alt: e.alt,"
               " ok: e.complete && e.naturalWidth > 0}))")
    for img in images:
        assert img["ok"], f"image did not load: {img['src']}"
        assert img["alt"].strip(), f"image without alt text: {img['src']}"
    if path in MATH_PAGES:                   # goto awaited the typesetting
        assert page.locator("mjx-container").count() > 0
        body = page.inner_text("article")
        assert "\\(" not in body and "\\[" not in body, "unrendered LaTeX"
    assert page.locator("h1").count() >= 1
    assert serious_accessibility_violations(page, path) == {
        "light": [], "dark": []}
    # after the explorers have loaded their files (the audit awaits them)
    assert not page.console_errors, page.console_errors
    assert not page.external, f"unexpected outside requests: {page.external}"


def serious_accessibility_violations(page, path: str) -> dict:
    """axe-core's serious and critical findings on the open page, with its
    explorers ready, in light mode and after the reader's system switches
    to dark (the theme follows it on the open page)."""
    if path == WIDGET_PAGE:
        for widget in ("digitPad", "cifarExplorer", "trainer"):
            page.evaluate(f"window.cnnTutorial.{widget}.ready")
    if path == CONV_PAGE:                       # the multi-channel mode
        page.evaluate("window.cnnTutorial.convExplorer"
                      ".set({channels: 3, filters: 2})")
    serious = {}
    for scheme in ("light", "dark"):
        use_color_scheme(page, scheme)
        serious[scheme] = serious_violations(page)
    return serious


def test_navigation_reaches_every_chapter(page, server):
    page.goto(f"{server}/index.html")
    page.wait_for_url("**/book/intro.html")            # the index redirects
    titles = {
        "Why CNNs": "Why CNNs",
        "The convolution operation": "The convolution operation",
        "Channels, layers and receptive fields":
            "Channels, layers and receptive fields",
        "A trained CNN, opened up": "A trained CNN, opened up",
        "What changes for real-world data":
            "What changes for real-world data",
        "Why did it say \u201ccat\u201d?": "Why did it say",   # smart quotes
        "References": "References",
    }
    for link, heading in titles.items():
        with page.expect_navigation():
            page.locator("nav.bd-docs-nav").get_by_role(
                "link", name=link, exact=True).click()
        assert heading in page.locator("h1").first.inner_text()
    # the intro's cards link to the three chapters
    goto(page, f"{server}/book/intro.html")
    cards = page.eval_on_selector_all(
        ".sd-card a", "els => els.map(e => e.getAttribute('href'))")
    assert {c.split("#")[0] for c in cards} >= {
        "01_why_cnns.html", "02_convolution.html", "03_layers.html",
        "04_opened_up.html", "05_real_world.html", "06_attribution.html"}


def test_clicking_a_figure_opens_it_full_size(page, server):
    goto(page, f"{server}/book/01_why_cnns.html")
    figure = page.locator(".bd-article figure img").first
    with page.expect_popup() as popup:
        figure.click()
    assert popup.value.url.endswith(".png")
    assert popup.value.url == figure.evaluate("img => img.src")


def test_phone_width_tables_scroll_instead_of_clipping(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    goto(page, f"{server}/book/01_why_cnns.html")
    tables = page.locator(".bd-article table").all()
    assert tables, "chapter 1 has no table to check"
    wide = 0
    for table in tables:
        overflow = table.evaluate("t => getComputedStyle(t).overflowX")
        fits = table.evaluate("t => t.scrollWidth <= t.clientWidth + 1")
        assert fits or overflow == "auto"
        hint = table.evaluate(
            "t => { const h = t.previousElementSibling; return !!(h && "
            "h.classList.contains('cnn-scroll-hint') && !h.hidden); }")
        assert hint == (not fits)        # a cue exactly where it scrolls
        wide += not fits
    assert wide, "no table is wider than a phone: the cue went untested"
    context.close()
