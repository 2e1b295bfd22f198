"""The book as lessons: the intro's lesson map and assignable paths, each
chapter's time to complete, as a teacher reads them on the built pages."""
import pytest
from conftest import CHAPTER_FILES, ROOT
from test_book import text_of

from cnn_tutorial import lesson

pytestmark = pytest.mark.book

INTRO = "book/intro.html"


def test_the_intro_maps_every_lesson_with_its_computed_minutes(built_book):
    text = text_of(built_book / INTRO)
    found = lesson.chapters(ROOT)
    assert [c.file for c in found] == CHAPTER_FILES
    text = text.replace("\u201c", '"').replace("\u201d", '"')  # smart quotes
    for c in found:
        row = (f"{c.part_number} {c.title} {c.demands.minutes} "
               f"{c.demands.exercise_minutes}")
        assert row in text, row
    assert lesson.RULE in text


def test_the_intro_offers_two_paths_of_about_50_and_90_minutes(built_book):
    text = text_of(built_book / INTRO)
    found = lesson.chapters(ROOT)
    first = lesson.total_minutes(found, ["01_why_cnns", "02_convolution"])
    longer = lesson.total_minutes(
        found, ["01_why_cnns", "02_convolution", "03_layers"])
    assert f"A first lesson of about {first} minutes" in text
    assert f"A longer one of about {longer} minutes" in text
    assert 40 <= first <= 60 and 70 <= longer <= 105, (first, longer)
    total = lesson.total_minutes(found)
    assert f"The whole book takes about {total} minutes" in text


def test_the_intro_opens_with_its_picture(built_book):
    raw = (built_book / INTRO).read_text(encoding="utf-8")
    figure = raw.split('id="fig-overview"', 1)[1].split("</figure>")[0]
    assert "<img" in figure and 'alt="A CIFAR-10 test photo of a cat' in figure
    # before the lesson map: the first thing a reader sees
    assert raw.index('id="fig-overview"') < raw.index('id="the-lessons"')


@pytest.mark.parametrize("chapter", CHAPTER_FILES)
def test_each_chapter_shows_its_time_to_complete(built_book, chapter):
    d = lesson.page_demands(ROOT / f"{chapter}.md")
    text = text_of(built_book / f"{chapter}.html")
    assert f"About {d.minutes} minutes to read it" in text
    assert f"about {d.exercise_minutes} more for the {d.exercises} " \
           "exercises" in text
