"""Every chapter follows the page skeleton and cross-references by label.

Fast: these tests read the MyST sources and build nothing. A chapter is a
page of ``_toc.yml`` whose file name starts with its number (``01_...``);
the intro, the references and the execution statistics are not chapters.

Each chapter has, in this order: a "Learning objectives" admonition, a
"Prerequisites" admonition, ``## Summary``, ``## Exercises`` (every exercise
with a ``{dropdown} Solution``) and, as its last paragraph, a ``**Next:**``
line linking the next chapter with ``{doc}`` (the last chapter may link
any page). Solutions cite computed numbers as ``{glue:text}`` values, never
typed. Figures and equations are referenced by label (``{numref}``,
``{eq}``), never as "the figure below". Whether every glue name, label and
page a chapter refers to exists is left to the strict build (``-W``).

The checkers return lists of problems; the tests at the end of this module
run them on small broken pages, so each check is known to fail.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from conftest import CHAPTER_FILES, ROOT, TOC_FILES

from cnn_tutorial import lesson

TEMPLATE = ROOT / "book" / "_template.md"


PAGES = [ROOT / f"{f}.md" for f in TOC_FILES]
CHAPTERS = [ROOT / f"{f}.md" for f in CHAPTER_FILES]


# --- reading a MyST notebook -------------------------------------------------

def _scan(text: str):
    """(lines, prose, cells) of a page, as :func:`lesson.read` splits it."""
    page = lesson.read(text)
    return page.lines, page.prose, page.cells



def _headings(prose: list[str]) -> list[tuple[int, int, str]]:
    """(line, level, title) of every Markdown heading."""
    out = []
    for i, line in enumerate(prose):
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            out.append((i, len(m.group(1)), m.group(2)))
    return out


# --- the page skeleton -------------------------------------------------------

def _admonition(prose: list[str], title: str) -> list[int]:
    pattern = re.compile(
        rf"^\s*(?::{{3,}}|`{{3,}})\{{admonition\}}\s+{title}\s*$", re.I)
    return [i for i, line in enumerate(prose) if pattern.match(line)]


def _last_paragraph(prose: list[str]) -> tuple[int, str]:
    """(first line, text) of the page's last non-empty paragraph."""
    end = max((i for i, line in enumerate(prose) if line.strip()),
              default=-1)
    start = end
    while start > 0 and prose[start - 1].strip():
        start -= 1
    return start, "\n".join(prose[start:end + 1])


def _exercises(prose: list[str], start: int, end: int) -> list[list[str]]:
    """The exercises of the section prose[start:end]: its top-level
    numbered items, or the whole section if it has no numbered list."""
    items, current = [], None
    for line in prose[start:end]:
        if re.match(r"^\d+[.)]\s", line):
            current = [line]
            items.append(current)
        elif current is not None:
            current.append(line)
    return items or [prose[start:end]]


DROPDOWN = re.compile(r"^(\s*)(:{3,}|`{3,})\{dropdown\}\s*(.*?)\s*$")


def _solutions(exercise: list[str]) -> list[str]:
    """The text of each solution dropdown in one exercise."""
    out = []
    for i, line in enumerate(exercise):
        m = DROPDOWN.match(line)
        if not m or not m.group(3).lower().startswith("solution"):
            continue
        fence = m.group(2)
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}"
                             r"\s*$")
        body = []
        for other in exercise[i + 1:]:
            if closing.match(other):
                break
            body.append(other)
        out.append("\n".join(body))
    return out


ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
OPERATOR = re.compile(r"[+\-−*/×^]|\\(?:cdot|times|frac|lfloor|sqrt|sum)")
RESULT = re.compile(
    r"(?:=|\\approx|≈)\s*\$?\s*(?:\\[,;:! ]\s*)*[-−]?\d[\d.,]*")
MEASURED = re.compile(r"\d\.\d|\d\s*\\?%")


def typed_results(solution: str) -> list[str]:
    """Numbers a solution types that come from a computation: the right
    side of ``expression = number`` and any decimal or percentage. Roles
    (``{glue:text}`name```, citations) are not looked at; code blocks are
    already blanked."""
    text = ROLE.sub("{role}", solution)
    found = []
    for m in RESULT.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        left = text[max(line_start, text.rfind("$", 0, m.start()) + 1,
                        text.rfind("=", 0, m.start()) + 1):m.start()]
        if OPERATOR.search(left):
            found.append(text[max(line_start, m.start() - 30):m.end()])
    found += [text[max(0, m.start() - 20):m.end() + 5]
              for m in MEASURED.finditer(text)]
    return [" ".join(f.split()) for f in found]


def skeleton_problems(text: str, next_doc: str | None = None) -> list[str]:
    """What the page lacks of the chapter skeleton. ``next_doc``: the
    {doc} target its Next line must link (any target if None)."""
    _, prose, _ = _scan(text)
    problems, where = [], {}
    for key, title in (("objectives", "Learning objectives"),
                       ("prerequisites", "Prerequisites")):
        found = _admonition(prose, title)
        if len(found) != 1:
            problems.append(f'{len(found)} "{title}" admonitions, want 1')
        where[key] = found[0] if found else None
    headings = _headings(prose)
    for key, title in (("summary", "Summary"), ("exercises", "Exercises")):
        found = [i for i, level, t in headings if level == 2 and t == title]
        if len(found) != 1:
            problems.append(f'{len(found)} "## {title}" sections, want 1')
        where[key] = found[0] if found else None
    start, last = _last_paragraph(prose)
    if not last.startswith("**Next:**"):
        problems.append("the last paragraph is not a **Next:** line")
        where["next"] = None
    else:
        where["next"] = start
        targets = re.findall(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", last)
        if not targets:
            problems.append("the **Next:** line has no {doc} link")
        elif next_doc is not None and targets[0] != next_doc:
            problems.append(f"**Next:** links {targets[0]!r}, but the next "
                            f"chapter in _toc.yml is {next_doc!r}")
    order = [k for k, v in sorted(where.items(), key=lambda kv: kv[1] or 0)
             if v is not None]
    wanted = [k for k in ("objectives", "prerequisites", "summary",
                          "exercises", "next") if where[k] is not None]
    if order != wanted:
        problems.append(f"sections in the order {order}, want {wanted}")
    if where["exercises"] is not None:
        end = next((i for i, level, _ in headings
                    if i > where["exercises"] and level <= 2),
                   where["next"] or len(prose))
        for n, exercise in enumerate(
                _exercises(prose, where["exercises"] + 1, end), 1):
            solutions = _solutions(exercise)
            if not solutions:
                problems.append(f"exercise {n} has no Solution dropdown")
            for solution in solutions:
                problems += [f"exercise {n}'s solution types a computed "
                             f"number (glue it): {typed!r}"
                             for typed in typed_results(solution)]
    return problems


# --- lesson size -----------------------------------------------------------

MAX_WORDS, MAX_FIGURES, MAX_MINUTES = 3000, 16, 40
MIN_SELF_CHECKS, MIN_EXERCISES = 3, 4
ANSWER = re.compile(r"^\s*:class:\s*(?:.*\s)?self-check-answer(?:\s|$)")


def lesson_problems(text: str, name: str) -> list[str]:
    """What makes the chapter ``name`` (its file name) more than a lesson
    a teacher can assign as it is: too long, too few self-checks or
    exercises, no time to complete computed from the page."""
    d = lesson.demands(text)
    problems = [f"{what} {have} > {limit}" for what, have, limit in (
        ("words of prose", d.words, MAX_WORDS),
        ("figures", d.figures, MAX_FIGURES),
        ("minutes", d.minutes, MAX_MINUTES)) if have > limit]
    problems += [f"{what} {have} < {limit}" for what, have, limit in (
        ("self-checks", d.self_checks, MIN_SELF_CHECKS),
        ("exercises", d.exercises, MIN_EXERCISES)) if have < limit]
    _, prose, cells = _scan(text)
    questions = [i for i, line in enumerate(prose)
                 if lesson.SELF_CHECK.match(line)]
    answers = [i for i, line in enumerate(prose) if ANSWER.match(line)]
    for n, q in enumerate(questions, 1):
        if not any(a > q for a in answers[n - 1:n]):
            problems.append(f"self-check {n} has no answer after it")
    if not any(f'lesson.time_note("{name}")' in src for _, src in cells) \
            or "{glue:md}`lesson_time`" not in text:
        problems.append(f'no time to complete: glue lesson.time_note("{name}")'
                        " as lesson_time and show {glue:md}`lesson_time`")
    return problems


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_a_lesson(page):
    assert lesson_problems(page.read_text(encoding="utf-8"),
                           page.name) == []


# --- cross-references --------------------------------------------------------

NOUN = (r"(?:figure|fig\.|table|formula|equation|photo|picture|plot|chart"
        r"|graph|diagram|image)s?")
POSITIONAL = [
    re.compile(rf"\b(?:the|this|that|these|those)\s+(?:[\w-]+\s+){{0,2}}?"
               rf"{NOUN}\s+(?:below|above)\b", re.I),
    re.compile(rf"\b(?:above|below|following|preceding|previous|next)\s+"
               rf"{NOUN}(?!\w)", re.I),
]


def xref_problems(text: str, page: Path,
                  chapter_numbers: Mapping[Path, int] | None = None,
                  ) -> list[str]:
    """Positional references ("the figure below"), "Chapter {doc}`x`"
    (which renders as "Chapter <title of x>") and "[Chapter N](file.md)"
    links whose N is not the file's place in _toc.yml
    (``chapter_numbers``). Missing targets, glue names and pages are the
    strict build's to catch (-W)."""
    _, prose, _ = _scan(text)
    flowing = "\n".join(prose)
    chapter_numbers = chapter_numbers or {}
    problems = [f"positional reference {' '.join(m.group(0).split())!r}: "
                "use {numref} or {eq}"
                for pattern in POSITIONAL for m in pattern.finditer(flowing)]
    chapter_role = r"\b[Cc]hapter\s+\{(?:doc|ref)\}`[^`<]+`"
    problems += [f"{m.group(0)!r} renders the page title after 'Chapter': "
                 "give the link text, e.g. [Chapter 2](02_convolution.md)"
                 for m in re.finditer(chapter_role, flowing)]
    for link, target in re.findall(r"\[([^\]]*)\]\(([^)#\s]+\.md)[^)]*\)",
                                   flowing):
        path = (page.parent / target).resolve()
        number = re.match(r"[Cc]hapter\s+(\d+)$", link.strip())
        if number and chapter_numbers.get(path) != int(number.group(1)):
            problems.append(f"[{link}]({target}) is chapter "
                            f"{chapter_numbers.get(path)} in _toc.yml")
    return problems


# --- the chapters and the template -------------------------------------------

def test_toc_lists_the_numbered_chapters():
    assert CHAPTERS, "no numbered chapter in _toc.yml"
    assert [p for p in PAGES if not p.is_file()] == []


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_skeleton(page):
    i = CHAPTERS.index(page)
    next_doc = (os.path.relpath(CHAPTERS[i + 1].with_suffix(""), page.parent)
                if i + 1 < len(CHAPTERS) else None)
    assert skeleton_problems(page.read_text(encoding="utf-8"),
                             next_doc) == []


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_cross_references(page):
    numbers = {p.resolve(): i for i, p in enumerate(CHAPTERS, 1)}
    assert xref_problems(page.read_text(encoding="utf-8"), page,
                         numbers) == []


def test_template_passes_the_checks():
    text = TEMPLATE.read_text(encoding="utf-8")
    assert skeleton_problems(text) == []
    assert xref_problems(text, TEMPLATE) == []


def test_template_has_the_chapters_front_matter():
    def front(text: str) -> list[str]:
        return lesson.read(text).front_matter

    template = front(TEMPLATE.read_text(encoding="utf-8"))
    assert template, "the template has no jupytext/kernelspec front matter"
    for page in CHAPTERS:
        assert front(page.read_text(encoding="utf-8")) == template, page


def test_template_is_not_built():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "book/_template.md" in cfg["exclude_patterns"]
    assert TEMPLATE not in PAGES


def test_template_code_runs(monkeypatch):
    """The template's cells run against today's library (a renamed
    function fails here, not in the next contributor's first build)."""
    monkeypatch.chdir(TEMPLATE.parent)      # as the build runs a page
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace: dict = {}
    for _, source in _scan(TEMPLATE.read_text(encoding="utf-8"))[2]:
        exec(compile(source, str(TEMPLATE), "exec"), namespace)
    plt.close("all")


# --- each check fails on a page that breaks it -------------------------------

GOOD = '''\
---
jupytext:
  text_representation:
    extension: .md
---

# A chapter

:::{admonition} Learning objectives
:class: note
- one
:::

:::{admonition} Prerequisites
:class: tip
Chapter 1.
:::

```{code-cell} ipython3
from myst_nb import glue

for d in (1, 2):
    glue(f"shift_{d}", str(d), display=False)
for row in rows:
    glue(f"dense_{row.side}", "x", display=False)
```

Text with {glue:text}`shift_2` and {glue:text}`dense_224`, the formula
{eq}`eq-size`, {numref}`fig-good` and [Chapter 2](02_convolution.md):

$$
n = m + 1
$$ (eq-size)

```{code-cell} ipython3
---
mystnb:
  figure:
    caption: Caption with {glue:text}`answer`.
    name: fig-good
---
print("the figure below")  # code is not prose
```

## Summary

- Said.

## Exercises

1. First?

   :::{dropdown} Solution
   $\\lfloor (28 - 5)/1 \\rfloor + 1 =$ {glue:text}`answer`, with $p = 0$.

   ```python
   x = 3 * 4 = 12.5  # code in a solution is not checked
   ```
   :::

2. Second?

   :::{dropdown} Solution
   Because.
   :::

```{code-cell} ipython3
:tags: [remove-cell]
glue("answer", "24", display=False)
```

**Next:** {doc}`02_convolution`, where it goes on.
'''

PAGE = ROOT / "book" / "00_example.md"


def _check_all(text: str) -> list[str]:
    return (skeleton_problems(text, "02_convolution")
            + xref_problems(text, PAGE,
                            {(ROOT / "book/02_convolution.md").resolve(): 2}))


def test_a_good_page_passes():
    assert _check_all(GOOD) == []


def _broken(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize("old, new, problem", [
    ("{admonition} Learning objectives", "{admonition} Goals",
     '0 "Learning objectives" admonitions'),
    ("{admonition} Prerequisites", "{note}", '0 "Prerequisites"'),
    ("## Summary", "## In short", '0 "## Summary"'),
    ("## Exercises", "## Questions", '0 "## Exercises"'),
    ("## Summary\n\n- Said.\n\n", "",
     '0 "## Summary"'),
    ("- Said.\n", "- Said.\n\n## Summary\n\nAgain.\n", '2 "## Summary"'),
    (":::{admonition} Prerequisites\n:class: tip\nChapter 1.\n:::\n",
     "", '0 "Prerequisites"'),
    ("   :::{dropdown} Solution\n   Because.\n   :::\n", "",
     "exercise 2 has no Solution dropdown"),
    ("{dropdown} Solution\n   Because.", "{dropdown} Hint\n   Because.",
     "exercise 2 has no Solution dropdown"),
    ("**Next:** {doc}`02_convolution`, where it goes on.\n", "",
     "not a **Next:** line"),
    ("**Next:** {doc}`02_convolution`", "**Next:** chapter 2",
     "no {doc} link"),
    ("**Next:** {doc}`02_convolution`", "**Next:** {doc}`03_opened_up`",
     "next chapter in _toc.yml is '02_convolution'"),
    ("where it goes on.\n", "where it goes on.\n\n```{code-cell} ipython3\n"
     "print(1)\n```\n", "not a **Next:** line"),
    (":::{admonition} Learning objectives\n:class: note\n- one\n:::\n", "",
     '0 "Learning objectives"'),
    ("# A chapter\n", "# A chapter\n\n## Summary\n\nEarly.\n",
     '2 "## Summary"'),
    ("+ 1 =$ {glue:text}`answer`", "+ 1 = 24$", "types a computed number"),
    ("Because.", "Each filter has $3 \\cdot 4 = 12$ weights.",
     "types a computed number"),
    ("Because.", "It reaches 97.3 % accuracy.", "types a computed number"),
    ("Because.", "It scores 98 % on the test set.",
     "types a computed number"),
    ("Text with", "As the figure below shows, text with",
     "positional reference 'the figure below'"),
    ("Text with", "The photo above and text with",
     "positional reference 'The photo above'"),
    ("Text with", "In the following table,\ntext with",
     "positional reference 'following table'"),
    ("Text with", "By the formula\nabove, text with",
     "positional reference 'the formula above'"),
    ("[Chapter 2](02_convolution.md)", "Chapter {doc}`02_convolution`",
     "renders the page title after 'Chapter'"),
    ("[Chapter 2](02_convolution.md)", "[Chapter 3](02_convolution.md)",
     "is chapter 2 in _toc.yml"),
])
def test_a_broken_page_fails(old, new, problem):
    problems = _check_all(_broken(old, new))
    assert any(problem in p for p in problems), problems


def test_sections_out_of_order_fail():
    summary = "## Summary\n\n- Said.\n\n"
    text = GOOD.replace(summary, "").replace(
        "**Next:**", summary + "**Next:**")
    problems = skeleton_problems(text)
    assert any("order" in p for p in problems), problems
    swapped = GOOD.replace(":::{admonition} Learning objectives",
                           ":::{admonition} TMP").replace(
        ":::{admonition} Prerequisites",
        ":::{admonition} Learning objectives").replace(
        ":::{admonition} TMP", ":::{admonition} Prerequisites")
    problems = skeleton_problems(swapped)
    assert any("order" in p for p in problems), problems


def _lesson(self_checks: int = 3, exercises: int = 4, words: int = 100,
            answered: bool = True, timed: bool = True) -> str:
    checks = "".join(
        f":::{{admonition}} Predict first\n:class: self-check\nQ{n}?\n:::\n\n"
        + (f":::{{admonition}} Check\n:class: self-check-answer\nA{n}.\n"
           ":::\n\n" if answered else "") for n in range(self_checks))
    time = ('```{code-cell} ipython3\n:tags: [remove-cell]\n'
            'glue("lesson_time", lesson.time_note("00_example.md"))\n```\n\n'
            "{glue:md}`lesson_time`\n\n" if timed else "")
    items = "".join(
        f"{n}. Q?\n\n   :::{{dropdown}} Solution\n   A.\n   :::\n\n"
        for n in range(1, exercises + 1))
    return (f"# A lesson\n\n{time}{'word ' * words}\n\n{checks}"
            f"## Exercises\n\n{items}")


def test_a_lesson_passes_and_each_lesson_rule_fails_alone():
    assert lesson_problems(_lesson(), "00_example.md") == []
    for page, problem in (
            (_lesson(words=3001), "words of prose 30"),
            (_lesson(self_checks=2), "self-checks 2 < 3"),
            (_lesson(exercises=3), "exercises 3 < 4"),
            (_lesson(answered=False), "self-check 1 has no answer"),
            (_lesson(timed=False), "no time to complete")):
        found = lesson_problems(page, "00_example.md")
        assert any(problem in p for p in found), (problem, found)
    # minutes: 2 200 words (11) + 6 explorers (30) = 41 > 40
    explorers = "```{code-cell} ipython3\nwidgets.conv_explorer()\n```\n" * 6
    assert lesson_problems(_lesson(words=2200) + explorers,
                           "00_example.md") == ["minutes 45 > 40"]
