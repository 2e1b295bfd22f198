"""`make pdf`: the whole book printed to one PDF from the built site, as a
reader holds it: every page of the table of contents in order, with its
title and its computed numbers, solutions open, explorers as figures,
maths typeset, nothing wider than the paper."""
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
from conftest import TOC_FILES, browser_marks, make_pdf

pytestmark = browser_marks()

LETTER_WIDTH_PT = 612      # the wider of A4 (595) and US Letter (612)
A4_HEIGHT_PT = 842


class _Page(HTMLParser):
    """What a built page shows that the PDF must show too: its title, the
    numbers glued into its prose, its solutions' text, its explorers'
    notes and its links."""

    def __init__(self):
        super().__init__()
        self.title, self.glued, self.solutions, self.notes = "", [], [], []
        self.links = []
        self._into = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "h1" and not self.title:
            self._into = ("title", "")
        elif "pasted-text" in classes:
            self._into = ("glued", "")
        elif "sd-card-text" in classes and not self._into:
            self._into = ("solutions", "")
        elif "cnn-widget-note" in classes:
            self._into = ("notes", "")

    def handle_data(self, data):
        if self._into:
            self._into = (self._into[0], self._into[1] + data)

    def handle_endtag(self, tag):
        if self._into and tag in ("h1", "span", "p"):
            kind, text = self._into
            self._into = None
            text = " ".join(text.replace("#", "").split())
            if kind == "title":
                self.title = text
            elif text:
                getattr(self, kind).append(text)


def read_page(built_book: Path, name: str) -> _Page:
    page = _Page()
    page.feed((built_book / f"{name}.html").read_text(encoding="utf-8"))
    return page


def squashed(text: str) -> str:
    """Text without whitespace or hyphens (PDF text breaks lines where the
    page did, and turns no-break thin spaces into anything)."""
    return re.sub(r"[\s\u00ad-]+", "", unicodedata.normalize("NFKC", text))


@pytest.fixture(scope="module")
def book_pdf(built_book):
    """The printed book: the one `make test` printed from the same build
    (its report in ``BUILT_PDF_REPORT``; refused if the pages changed
    since), else, if that print failed and left no report, printed here,
    in a thread of its own (the browser tests' Playwright session keeps an
    event loop running in this one, and Playwright's sync API refuses to
    start inside a running loop)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    report = Path(os.environ.get("BUILT_PDF_REPORT", "/nonexistent"))
    if report.is_file():
        book = make_pdf.read_report(report, built_book)
        assert book.path.parent == built_book, (
            f"{book.path} was not printed from the book under test")
        return book

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(make_pdf.print_book, built_book,
                           built_book / make_pdf.PDF_NAME).result()


@pytest.fixture(scope="module")
def chapter_texts(book_pdf) -> list[str]:
    """The PDF's text, one string per page of the table of contents, from
    the page where it starts to the page before the next one starts."""
    from pypdf import PdfReader

    reader = PdfReader(book_pdf.path)
    starts = [start for _, start in book_pdf.chapters] + [book_pdf.pages + 1]
    return [" ".join(reader.pages[i].extract_text()
                     for i in range(first - 1, last - 1))
            for first, last in zip(starts, starts[1:])]


def test_every_page_of_the_toc_is_a_chapter_in_order(book_pdf, built_book):
    titles = [read_page(built_book, name).title for name in TOC_FILES]
    assert [title for title, _ in book_pdf.chapters] == titles
    starts = [start for _, start in book_pdf.chapters]
    assert starts == sorted(set(starts)) and starts[0] > 1, (
        "each chapter starts on a page of its own, after the title page")
    assert book_pdf.pages > starts[-1] - 1


def test_contents_page_lists_each_chapter_with_its_page(book_pdf):
    from pypdf import PdfReader

    reader = PdfReader(book_pdf.path)
    front = " ".join(reader.pages[i].extract_text()
                     for i in range(book_pdf.chapters[0][1] - 1))
    assert "Contents" in front
    lines = {squashed(line)
             for line in front.split("Contents", 1)[1].splitlines()}
    for title, start in book_pdf.chapters:
        assert squashed(title) + str(start) in lines, (title, start, lines)


def test_each_chapter_shows_its_title_and_its_computed_numbers(
        chapter_texts, built_book):
    assert len(chapter_texts) == len(TOC_FILES)
    checked = 0
    for name, text in zip(TOC_FILES, chapter_texts):
        page = read_page(built_book, name)
        assert squashed(page.title) in squashed(text), name
        if Path(name).name[:2].isdigit():      # the numbered chapters
            assert page.glued, f"{name}: no glued number on the page"
            number = next(g for g in page.glued if re.search(r"\d", g))
            assert squashed(number) in squashed(text), (name, number)
            checked += 1
    assert checked >= 2


def test_solutions_are_printed_open_and_explorers_as_figures(
        chapter_texts, built_book):
    solutions = notes = 0
    for name, text in zip(TOC_FILES, chapter_texts):
        page = read_page(built_book, name)
        for solution in page.solutions:
            words = re.split(r"\\\(|\\\[|\$", solution)[0]  # up to maths
            if len(words) >= 20:
                assert squashed(words) in squashed(text), (name, words)
                solutions += 1
        for note in page.notes:
            assert squashed(note) in squashed(text), (name, note)
            notes += 1
    assert solutions and notes


def test_maths_is_typeset_not_printed_as_tex(chapter_texts):
    text = " ".join(chapter_texts)
    for tex in (r"\frac", r"\times", r"\lfloor", "$$"):
        assert tex not in text, f"raw TeX {tex!r} in the PDF"


def test_the_book_prints_offline(book_pdf):
    assert book_pdf.refused == []


def test_pages_are_a4_and_nothing_is_cut_at_the_edge(book_pdf):
    from pypdf import PdfReader

    for number, page in enumerate(PdfReader(book_pdf.path).pages, 1):
        box = page.mediabox
        assert box.width <= LETTER_WIDTH_PT + 1, (number, box)
        assert box.height <= A4_HEIGHT_PT + 1, (number, box)
    assert book_pdf.overflow == []


def test_the_intro_links_the_pdf(book_pdf, built_book):
    intro = TOC_FILES[0]
    links = [link for link in read_page(built_book, intro).links
             if link.endswith(".pdf")]
    assert links, "the intro does not link the PDF"
    target = urljoin(f"file://{built_book}/{intro}.html", links[0])
    assert Path(target.removeprefix("file://")).resolve() == \
        book_pdf.path.resolve()


def test_a_report_of_other_pages_is_refused(book_pdf, built_book, tmp_path):
    """The report `make test` hands over names the pages it was printed
    from: after a rebuild that changed a page it is not taken for the new
    book's PDF."""
    pages = tmp_path / "html"
    (pages / "book").mkdir(parents=True)
    (pages / "book/intro.html").write_text("<h1>Intro</h1>")
    report = tmp_path / "report.json"
    make_pdf.write_report(book_pdf, pages, report)
    assert make_pdf.read_report(report, pages).chapters == book_pdf.chapters
    (pages / "book/intro.html").write_text("<h1>Intro, rebuilt</h1>")
    with pytest.raises(ValueError, match="other pages"):
        make_pdf.read_report(report, pages)
