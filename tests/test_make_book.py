"""`make book` after a library edit shows the new output on the page."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PROBE = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Probe

```{code-cell} ipython3
from cnn_tutorial import conv

print("conv says:", conv.__doc__.splitlines()[0])
```
"""


@pytest.mark.book
def test_a_library_edit_changes_the_built_page(tmp_path):
    """Build a one-page book from a clone with `make book`, edit the
    library, `make book` again: the page shows the edited output (not the
    execution cache's, not the old HTML)."""
    repo = tmp_path / "repo"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others",
         "--exclude-standard"], cwd=ROOT, check=True, capture_output=True,
        text=True).stdout.split("\0")
    for name in filter(None, files):          # the work tree, as git sees it
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    (repo / "_toc.yml").write_text("format: jb-book\nroot: book/probe\n")
    (repo / "book" / "probe.md").write_text(PROBE)
    (repo / "book/_static/widgets").mkdir(parents=True)  # no explorers here
    venv = Path(sys.executable).parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}

    def make_book() -> str:
        result = subprocess.run(
            ["make", "-C", str(repo), "-o", str(venv / ".installed"), "book",
             f"VENV={venv}"], env=env, capture_output=True, text=True,
            timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        html = (repo / "_build/html/book/probe.html").read_text()
        return re.search(r"conv says: ([^<\n]*)", html).group(1)

    module = repo / "src/cnn_tutorial/conv.py"
    first_line = module.read_text().splitlines()[0].lstrip('"')
    assert make_book() == first_line
    assert make_book() == first_line            # unchanged: cached, same
    module.write_text(module.read_text().replace(
        first_line, "An edited docstring.", 1))
    assert make_book() == "An edited docstring."
