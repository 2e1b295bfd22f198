"""What a chapter asks of its reader, counted in its MyST source: words of
prose, figures, explorers, self-checks and exercises, and the time to
complete it by a stated rule (:data:`RULE`)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^\s*(`{3,}|:{3,})\s*(.*?)\s*$")
WORDS_PER_MINUTE = 200
MINUTES_PER_FIGURE = 1
MINUTES_PER_EXPLORER = 5
MINUTES_PER_SELF_CHECK = 1
MINUTES_PER_EXERCISE = 5
RULE = (f"{WORDS_PER_MINUTE} words of prose a minute, "
        f"{MINUTES_PER_FIGURE} minute a figure, "
        f"{MINUTES_PER_SELF_CHECK} a self-check and "
        f"{MINUTES_PER_EXPLORER} an explorer, rounded up to 5 minutes; "
        f"the exercises {MINUTES_PER_EXERCISE} minutes each")
# a code cell that puts an explorer on the page calls one of these
EXPLORER_CALL = re.compile(
    r"\b(?:widgets\.(?:conv_explorer|digit_pad|cifar_explorer)"
    r"|present\.cifar_explorer|train_widget\.trainer)\(")
FIGURE_DIRECTIVE = re.compile(r"^\s*(?:`{3,}|:{3,})\{(?:glue:)?figure\}")
SOLUTION = re.compile(r"^\s*(?:`{3,}|:{3,})\{dropdown\}\s*Solution", re.I)
SELF_CHECK = re.compile(r"^\s*:class:\s*(?:.*\s)?self-check(?:\s|$)")


@dataclass(frozen=True)
class Page:
    """A MyST notebook read line by line: ``prose`` is ``lines`` with the
    front matter, comments and the bodies of code blocks and cells blanked
    (line numbers kept; directive fences such as ``:::{note}`` are prose);
    ``cells`` holds each code cell as (option lines, python source);
    ``front_matter`` the lines of the YAML front matter, fences included."""

    lines: list[str]
    prose: list[str]
    cells: list[tuple[list[str], str]]
    front_matter: list[str]


def _front_matter_end(lines: list[str]) -> int:
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                return i + 1
    return 0


def _split_cell(body: list[str]) -> tuple[list[str], str]:
    """A code cell's option lines (YAML block or ``:key:`` lines) and its
    python source, with IPython magics dropped."""
    header = []
    if body and body[0].strip() == "---":
        end = next((k for k in range(1, len(body))
                    if body[k].strip() == "---"), len(body) - 1)
        header, body = body[:end + 1], body[end + 1:]
    while body and re.match(r"^:\w[\w-]*:", body[0]):
        header, body = [*header, body[0]], body[1:]
    source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                       for line in body)
    return header, source


def read(text: str) -> Page:
    """Split a MyST notebook's text into prose and code cells."""
    lines = text.splitlines()
    prose = list(lines)
    start = _front_matter_end(lines)
    prose[:start] = [""] * start
    cells, directives = [], []
    i = start
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or m.group(1)[0] == ":":
            if lines[i].lstrip().startswith("%"):
                prose[i] = ""                        # a MyST comment
            i += 1
            continue
        ticks, info = len(m.group(1)), m.group(2)
        if not info and directives and ticks >= directives[-1]:
            directives.pop()                         # closes a directive
        elif info.startswith("{") and not info.startswith("{code-cell}"):
            directives.append(ticks)                 # body is prose
        else:                                        # code: blank the body
            j = i + 1
            closing = re.compile(rf"^\s*`{{{ticks},}}\s*$")
            while j < len(lines) and not closing.match(lines[j]):
                j += 1
            body = lines[i + 1:j]
            prose[i + 1:j + 1] = [""] * len(lines[i + 1:j + 1])
            if info.startswith("{code-cell}"):
                cells.append(_split_cell(body))
            i = j
        i += 1
    return Page(lines, prose, cells, lines[:start])


@dataclass(frozen=True)
class Demands:
    """What a chapter asks of its reader."""

    words: int          # prose outside the exercises, roles as one word
    figures: int        # captioned figure cells and figure directives
    explorers: int
    self_checks: int
    exercises: int      # solutions (one per exercise)

    @property
    def minutes(self) -> int:
        """Time to read it, look at its figures, answer its self-checks
        and try its explorers (exercises not included), rounded up to 5."""
        raw = (self.words / WORDS_PER_MINUTE
               + self.figures * MINUTES_PER_FIGURE
               + self.explorers * MINUTES_PER_EXPLORER
               + self.self_checks * MINUTES_PER_SELF_CHECK)
        return 5 * math.ceil(raw / 5)

    @property
    def exercise_minutes(self) -> int:
        return self.exercises * MINUTES_PER_EXERCISE


def _is_markup(line: str) -> bool:
    return bool(FENCE.match(line) or re.match(r"^\s*:[\w-]+:", line)
                or re.match(r"^\s*\(.*\)=\s*$", line))


def demands(text: str) -> Demands:
    """Count what the chapter whose MyST source is ``text`` asks."""
    page = read(text)
    exercises_at = next((i for i, line in enumerate(page.prose)
                         if re.match(r"^##\s+Exercises\s*$", line)),
                        len(page.prose))
    body = [line for line in page.prose[:exercises_at]
            if not _is_markup(line)]
    words = len(re.sub(r"\{[\w:-]+\}`[^`]*`", "x", "\n".join(body)).split())
    exercises = sum(1 for line in page.prose[exercises_at:]
                    if SOLUTION.match(line))
    figure_cells = sum(1 for header, _ in page.cells
                       if any(re.match(r"^\s*figure:", h) for h in header))
    figures = figure_cells + sum(1 for line in page.prose
                                 if FIGURE_DIRECTIVE.match(line))
    explorers = sum(len(EXPLORER_CALL.findall(source))
                    for _, source in page.cells)
    self_checks = sum(1 for line in page.prose if SELF_CHECK.match(line))
    return Demands(words, figures, explorers, self_checks, exercises)


def page_demands(path: str | Path) -> Demands:
    """:func:`demands` of the MyST file at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no chapter source at {path}")
    return demands(path.read_text(encoding="utf-8"))


def time_note(path: str | Path) -> str:
    """The chapter's time to complete, for its page (Markdown text: glue
    it as ``IPython.display.Markdown``)."""
    d = page_demands(path)
    doing = ["read it", "look at the figures"] if d.figures else ["read it"]
    if d.self_checks:
        doing.append("answer the self-checks")
    if d.explorers:
        doing.append("try the explorers")
    things = ", ".join(doing[:-1]) + " and " + doing[-1] \
        if len(doing) > 1 else doing[0]
    return (f"About **{d.minutes} minutes** to {things}, and about "
            f"{d.exercise_minutes} more for the {d.exercises} exercises "
            f"(at {RULE}).")


ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}


@dataclass(frozen=True)
class Chapter:
    """A chapter as the table of contents lists it."""

    part: str
    part_number: str   # "I", "II", ...
    file: str          # e.g. "book/01_why_cnns"
    title: str
    demands: Demands


def toc_pages(root: str | Path = "..") -> list[tuple[str, str]]:
    """Every page of ``_toc.yml`` under ``root`` in reading order, the
    root first, as (part caption or "", file without its suffix)."""
    import yaml

    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(
        encoding="utf-8"))
    pages = [("", toc["root"])]

    def walk(entries, caption: str) -> None:
        for entry in entries or []:
            if "file" in entry:
                pages.append((caption, entry["file"]))
            walk(entry.get("sections"), caption)
            walk(entry.get("chapters"), caption)

    walk(toc.get("chapters"), "")
    for part in toc.get("parts", []):
        walk(part.get("chapters"), part["caption"])
    return pages


def is_chapter(file: str) -> bool:
    """Whether a toc file is a numbered chapter ("book/01_why_cnns"), not
    the intro, references or statistics."""
    return Path(file).name[:2].isdigit()


def chapters(root: str | Path = "..") -> list[Chapter]:
    """The numbered chapters of ``_toc.yml`` under ``root`` (the book's
    pages run in ``book/``), in order, each with its part and demands."""
    root = Path(root)
    pages = toc_pages(root)
    captions = list(dict.fromkeys(c for c, _ in pages if c))
    found = []
    for caption, file in pages:
        if not is_chapter(file):
            continue
        text = (root / f"{file}.md").read_text(encoding="utf-8")
        title = next(line[2:].strip() for line in read(text).prose
                     if line.startswith("# "))
        found.append(Chapter(caption, ROMAN[captions.index(caption) + 1],
                             file, title, demands(text)))
    return found


def total_minutes(found: list[Chapter], names: list[str] | None = None,
                  exercises: bool = False) -> int:
    """Minutes of the chapters whose file names (e.g. "01_why_cnns") are
    in ``names`` (all if None), with their exercises if asked."""
    picked = [c for c in found
              if names is None or Path(c.file).name in names]
    missing = set(names or ()) - {Path(c.file).name for c in picked}
    if missing:
        raise ValueError(f"no such chapters in _toc.yml: {sorted(missing)}")
    return sum(c.demands.minutes + (c.demands.exercise_minutes
                                    if exercises else 0) for c in picked)
