"""The repository's promises to readers: one test command everywhere,
Binder, launch buttons, citation metadata."""
import ast
import glob
import importlib.metadata
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import ROOT
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^make (\w+)\s+# installs what the tests need",
                        readme, re.M)
    assert command, "README must give the test command"
    ci = (ROOT / ".ci/run").read_text().strip().splitlines()
    assert ci[-1] == f"make {command.group(1)}"


def test_config_builds_strictly_with_cache_and_launch_buttons():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "cache"
    assert cfg["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert cfg["launch_buttons"]["binderhub_url"]
    assert cfg["launch_buttons"]["thebe"] is True
    assert cfg["repository"]["url"].startswith("https://github.com/")
    for folder in ("_build", ".venv", "tests", "src"):
        assert folder in cfg["exclude_patterns"]


BINDER = ROOT / "binder"
# The kernel that a page's kernelspec names, and the distribution providing it.
KERNEL_DISTRIBUTIONS = {"python3": "ipykernel"}


def read_requirements(path: Path) -> tuple[list[tuple[str, str]],
                                           dict[str, Requirement]]:
    """A pip requirements file as (its option lines as (flag, value), its
    requirements by canonical name); a line that is neither fails."""
    options, requirements = [], {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line:
            continue
        where = f"{path.relative_to(ROOT)}:{number}"
        if line.startswith("-"):
            flag, _, value = line.partition(" ")
            if "=" in flag:
                flag, value = flag.split("=", 1)
            options.append((flag, value.strip()))
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            pytest.fail(f"{where}: {error}")
        name = canonicalize_name(requirement.name)
        assert name not in requirements, f"{where}: {name} listed twice"
        requirements[name] = requirement
    return options, requirements


def pinned_version(requirement: Requirement) -> Version:
    """The version of an exact pin (name==version); fails otherwise."""
    specs = list(requirement.specifier)
    assert len(specs) == 1 and specs[0].operator == "==", (
        f"{requirement} is not pinned to one version")
    return Version(specs[0].version)


def test_binder_requirements_keep_the_development_pins_with_cpu_torch():
    """binder/requirements.txt parses, stands alone (repo2docker installs it
    before copying the repository), pins every package that
    requirements.txt also pins to the same version, and takes torch and
    torchvision as CPU-only wheels from an https index."""
    options, binder = read_requirements(BINDER / "requirements.txt")
    _, dev = read_requirements(ROOT / "requirements.txt")
    for flag, url in options:
        assert flag in ("--extra-index-url", "--index-url"), (
            f"binder/requirements.txt: option {flag} (only index URLs: -r, "
            "-c and -e need files repo2docker has not copied yet)")
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.netloc, (flag, url)
    shared = sorted(binder.keys() & dev.keys())
    assert shared, "binder/requirements.txt shares no package with the pins"
    for name in shared:
        development = pinned_version(dev[name])
        assert pinned_version(binder[name]).public == str(development), (
            f"{name}: binder has {binder[name]}, requirements.txt "
            f"{dev[name]}")
    for name in ("torch", "torchvision"):
        assert pinned_version(binder[name]).local == "cpu", (
            f"{name} must be the CPU-only wheel ({name}==X.Y.Z+cpu)")
    indexes = [urlsplit(url).path.rstrip("/") for _, url in options]
    assert any(path.endswith("/cpu") for path in indexes), (
        "the +cpu wheels need PyTorch's CPU index (--extra-index-url)")


def imported_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports anywhere in ``source``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def runtime_needs() -> dict[str, set[str]]:
    """What a reader's environment must hold, as {top-level module or
    distribution: where it is needed}: the imports of every code cell of
    the pages and of every library module, the kernel the pages name and
    jupytext for pages stored as text notebooks."""
    from IPython.core.inputtransformer2 import TransformerManager
    from myst_nb.core.read import read_myst_markdown_notebook

    needs: dict[str, set[str]] = {}

    def need(name: str, where: str) -> None:
        needs.setdefault(name, set()).add(where)

    to_python = TransformerManager().transform_cell   # %magics, !shell
    for page in sorted((ROOT / "book").glob("*.md")):
        where = str(page.relative_to(ROOT))
        notebook = read_myst_markdown_notebook(page.read_text())
        cells = [c for c in notebook.cells if c.cell_type == "code"]
        if not cells:
            continue
        kernel = notebook.metadata["kernelspec"]["name"]
        assert kernel in KERNEL_DISTRIBUTIONS, f"{where}: kernel {kernel}"
        need(KERNEL_DISTRIBUTIONS[kernel], where)
        if "jupytext" in notebook.metadata:
            need("jupytext", where)
        for cell in cells:
            for module in imported_modules(to_python(cell.source)):
                need(module, where)
    for module_file in sorted((ROOT / "src").rglob("*.py")):
        where = str(module_file.relative_to(ROOT))
        for module in imported_modules(module_file.read_text()):
            need(module, where)
    return needs


def test_binder_requirements_are_exactly_the_runtime_dependencies():
    """Every third-party module the pages or the library import (mapped to
    its distribution in this venv), the pages' kernel and jupytext are in
    binder/requirements.txt, and nothing else is: no test or build tools."""
    _, binder = read_requirements(BINDER / "requirements.txt")
    distributions = importlib.metadata.packages_distributions()
    required: dict[str, set[str]] = {}
    unknown = {}
    for name, where in runtime_needs().items():
        if name in sys.stdlib_module_names or name == "cnn_tutorial":
            continue
        if name in KERNEL_DISTRIBUTIONS.values() or name == "jupytext":
            provided_by = [name]
        elif name in distributions:
            provided_by = distributions[name]
        else:
            unknown[name] = sorted(where)
            continue
        for distribution in provided_by:
            required.setdefault(canonicalize_name(distribution),
                                set()).update(where)
    assert not unknown, f"imported but not installed in the venv: {unknown}"
    missing = {d: sorted(w) for d, w in required.items() if d not in binder}
    assert not missing, f"needed at run time, not in binder: {missing}"
    extra = sorted(binder.keys() - required.keys())
    assert not extra, f"in binder/requirements.txt but never imported: {extra}"


def test_binder_post_build_and_python_version():
    """postBuild is an executable bash script that stops on errors and
    installs the library without letting pip resolve its dependencies again
    (from PyPI, CUDA torch included); runtime.txt asks for the Python that
    CI builds and tests with."""
    post_build = BINDER / "postBuild"
    assert post_build.stat().st_mode & stat.S_IXUSR, "postBuild not executable"
    lines = [shlex.split(line, comments=True)
             for line in post_build.read_text().splitlines()]
    commands = [words for words in lines if words]
    assert post_build.read_text().startswith("#!/bin/bash\n")
    assert ["set", "-e"] in commands, "repo2docker ignores errors without it"
    installs = [words for words in commands if words[:2] == ["pip", "install"]]
    assert installs and all("--no-deps" in words for words in installs)
    assert any(words[-2:] in (["-e", "."], ["--editable", "."])
               for words in installs), "the library is not installed"

    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    for name in WORKFLOWS:
        versions = {step["with"]["python-version"]
                    for step in workflow_steps(load_workflow(name))
                    if uses(step, "actions/setup-python")}
        assert versions == {runtime.removeprefix("python-")}, (name, versions)


WORKFLOWS = sorted(p.name for p in (ROOT / ".github/workflows").glob("*.yml"))


def load_workflow(name: str) -> dict:
    workflow = yaml.safe_load((ROOT / ".github/workflows" / name).read_text())
    if True in workflow:   # YAML 1.1 reads the key `on` as a boolean
        workflow["on"] = workflow.pop(True)
    return workflow


def workflow_steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values()
            for step in job.get("steps", [])]


def uses(step: dict, action: str) -> bool:
    """Whether a step runs ``action`` (any version, any sub-action)."""
    return step.get("uses", "").split("@")[0].startswith(action)


def hashed_files(expression: str) -> set[str]:
    """The repository files that the hashFiles(...) calls in a workflow
    expression hash."""
    files = set()
    for arguments in re.findall(r"hashFiles\(([^)]*)\)", expression):
        for pattern in re.findall(r"'([^']*)'", arguments):
            files.update(glob.glob(pattern, root_dir=ROOT, recursive=True))
    return files


def test_book_workflow_caches_on_src_reports_failures_and_runs_weekly():
    """The book workflow builds with `make book`, restores the execution
    cache only for the same src/ (its key and every restore key hash every
    library file) together with the src/ hash file that `make book` checks,
    uploads the build log and execution reports when the build fails, and
    runs on a schedule without the cache."""
    workflow = load_workflow("book.yml")
    crons = [entry["cron"] for entry in workflow["on"].get("schedule", [])]
    assert crons, "no scheduled build"
    assert all(len(cron.split()) == 5 for cron in crons), crons

    builds = [(job, i) for job in workflow["jobs"].values()
              for i, step in enumerate(job.get("steps", []))
              if re.search(r"\bmake book\b", step.get("run", ""))]
    assert len(builds) == 1, "build once, with `make book` (src/ hash check)"
    job, build = builds[0]
    steps = job["steps"]

    caches = [s for s in steps[:build] if uses(s, "actions/cache")]
    assert caches, "no execution cache restored before the build"
    library = {str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py")}
    assert library
    makefile_paths = set(re.findall(r"_build/\.[\w-]+",
                                    (ROOT / "Makefile").read_text()))
    for cache in caches:
        paths = set(cache["with"]["path"].split())   # one path a line
        assert makefile_paths <= paths, (
            f"`make book` uses {sorted(makefile_paths)}; cached: {paths}")
        restore_keys = cache["with"].get("restore-keys", "").splitlines()
        keys = [cache["with"]["key"], *filter(None, restore_keys)]
        for key in keys:
            assert library <= hashed_files(key), (
                f"cache key {key!r} does not hash every file of src/")
        assert "schedule" in cache.get("if", ""), (
            "the scheduled build must execute every page (no cache)")

    log = re.search(r"\|\s*tee\s+(?:-a\s+)?(\S+)", steps[build]["run"])
    assert log, "the build's output is not written to a log file"
    assert (steps[build].get("shell") == "bash"
            or "pipefail" in steps[build]["run"]), "tee hides a failed build"
    uploads = [s for s in steps[build + 1:]
               if uses(s, "actions/upload-artifact")
               and "failure()" in s.get("if", "")]
    assert uploads, "nothing is uploaded when the build fails"
    uploaded = {path.rstrip("/") for step in uploads
                for path in step["with"]["path"].split()}
    assert {log.group(1), "_build/html/reports"} <= uploaded, uploaded


def test_book_workflow_publishes_the_pdf_and_the_colab_notebooks():
    """The deployed site holds the PDF (`make test`, whose rule prints it
    with scripts/make_pdf.py, runs before the Pages upload), and every push
    to main pushes the site's notebooks/ folder to the branch the Colab
    buttons open (_config.yml's cnn_notebooks_branch)."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    branch = cfg["sphinx"]["config"]["cnn_notebooks_branch"]
    assert cfg["launch_buttons"]["colab_url"]
    workflow = load_workflow("book.yml")
    assert workflow["permissions"]["contents"] == "write"
    steps = workflow["jobs"]["build"]["steps"]
    runs = [step.get("run", "") for step in steps]
    pdf = next(i for i, run in enumerate(runs) if "make test" in run)
    assert "scripts/make_pdf.py" in make_rule("test")[1]
    pages = next(i for i, step in enumerate(steps)
                 if uses(step, "actions/upload-pages-artifact"))
    assert pdf < pages
    publish = [step for step in steps
               if "_build/html/notebooks" in step.get("run", "")]
    assert len(publish) == 1
    run = publish[0]["run"]
    assert "git push" in run and run.split()[-1] == branch, run
    assert "refs/heads/main" in publish[0]["if"]
    assert "push" in publish[0]["if"]


def test_ci_builds_the_book_once_and_tests_that_build():
    """One workflow step builds the book and one runs the suite, after it in
    the same job (`make test` reuses the build), and the Pages artefact is
    uploaded after the tests: nothing is built twice, nothing untested is
    deployed. The Makefile prints the PDF from that build and hands both
    to the tests as BUILT_BOOK and BUILT_PDF_REPORT."""
    steps = {name: workflow_steps(load_workflow(name)) for name in WORKFLOWS}

    def running(pattern):
        return [(name, i) for name, found in steps.items()
                for i, step in enumerate(found)
                if re.search(pattern, step.get("run", ""))]

    builds, tests = running(r"\bmake book\b"), running(r"\bmake test\b")
    assert len(builds) == 1 and len(tests) == 1, (builds, tests)
    (name, build), (same, test) = builds[0], tests[0]
    assert name == same and build < test
    job = next(job["steps"] for job in load_workflow(name)["jobs"].values()
               if steps[name][build] in job["steps"])
    assert steps[name][test] in job, "build and tests in different jobs"
    deploys = [i for i, step in enumerate(steps[name])
               if uses(step, "actions/upload-pages-artifact")]
    assert deploys and min(deploys) > test
    needs, recipe = make_rule("test")
    assert "book" in needs.split()
    assert recipe.index("scripts/make_pdf.py") < recipe.index("pytest")
    assert "BUILT_BOOK=$(CURDIR)/_build/html" in recipe
    assert "BUILT_PDF_REPORT=$(CURDIR)/_build/pdf-report.json" in recipe


def test_make_test_prints_no_pdf_without_a_browser(tmp_path):
    """Where no Chromium is installed, `make test`'s print succeeds without
    printing or reporting anything (the browser tests then skip), so the
    rest of the suite still runs."""
    html = tmp_path / "_build" / "html"
    html.mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/make_pdf.py"), "--html",
         str(html), "--skip-without-browser"],
        capture_output=True, text=True, env={"PATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "no Chromium here" in result.stdout
    assert list(tmp_path.rglob("*.json")) == []
    assert list(tmp_path.rglob("*.pdf")) == []


def make_rule(target: str) -> tuple[str, str]:
    """The prerequisites and the recipe of the Makefile's ``target``."""
    rule = re.search(rf"^{target}:(.*)\n((?:\t.*\n)+)",
                     (ROOT / "Makefile").read_text(), re.M)
    return rule.group(1), rule.group(2)


def test_citation_metadata_agrees_with_the_book_and_the_package():
    """CITATION.cff has the keys CFF 1.2.0 requires, the book's title and
    author, the package's version, and cites only works the book's
    bibliography has (by DOI)."""
    import tomllib

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    for key in ("cff-version", "message", "title", "authors"):
        assert cff.get(key), f"CITATION.cff: no {key}"
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cff["title"] == cfg["title"]
    assert [a.get("name") for a in cff["authors"]] == [cfg["author"]]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert str(cff["version"]) == project["version"]
    bib = (ROOT / "book/references.bib").read_text()
    bib_dois = {d.lower() for d in re.findall(r"doi\s*=\s*\{([^}]+)\}",
                                              bib)}
    dois = [r["doi"] for r in cff.get("references", []) if "doi" in r]
    assert dois, "CITATION.cff cites nothing by DOI"
    assert {d.lower() for d in dois} <= bib_dois, (dois, bib_dois)


def test_installed_packages_are_the_pinned_versions():
    """The environment the tests run in is the one requirements.txt pins
    (`make test` installs it): fails when the venv drifts from the pins,
    e.g. torch upgraded without torchvision. Jupyter Book stays at 1."""
    _, pins = read_requirements(ROOT / "requirements.txt")
    drift = {}
    for name, requirement in pins.items():
        pinned = pinned_version(requirement)
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            drift[name] = (str(pinned), "not installed")
            continue
        if installed.public != pinned.public:     # pip's == ignores +local
            drift[name] = (str(pinned), str(installed))
    assert not drift, f"installed versions differ from the pins: {drift}"
    assert {"torch", "torchvision", "jupyter-book"} <= pins.keys()
    assert pinned_version(pins["jupyter-book"]).major == 1


def test_ruff_is_clean():

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run(
        [ruff, "check", "src", "tests", "scripts", "book/_ext"],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_browser_test():
    """In CI (CI=true) a missing browser fails the run instead of silently
    skipping the browser test."""
    import os

    from conftest import has_browser

    if os.environ.get("CI") != "true":
        pytest.skip("only CI is required to have a browser")
    assert has_browser() is None, has_browser()


NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def test_the_readme_counts_the_explorers_the_library_makes():
    """Every 'N explorers' of the README is the number of widget kinds
    cnn_tutorial.widgets writes."""
    tree = ast.parse((ROOT / "src/cnn_tutorial/widgets.py").read_text())
    kinds = {node.args[0].value for node in ast.walk(tree)
             if isinstance(node, ast.Call)
             and getattr(node.func, "id", None) == "_widget"}
    counts = re.findall(r"\b(\w+) (?:explorers|widgets')\b",
                        (ROOT / "README.md").read_text(), re.I)
    stated = [NUMBER_WORDS[c.lower()] for c in counts
              if c.lower() in NUMBER_WORDS]
    assert stated and set(stated) == {len(kinds)}, (counts, sorted(kinds))


# What a duration phrase may mean, in hours of training
DURATIONS = {"about an hour": (0.5, 1.5), "several hours": (2, 12)}


def test_make_cifar_states_the_measured_duration():
    """The README and the Makefile give `make cifar` the same duration, and
    it fits the training time the committed cache records (every seed of
    every run)."""
    import json

    readme = re.search(r"\| `make cifar` \(see below; ([^,]+) on 2 cores",
                       (ROOT / "README.md").read_text())
    makefile = re.search(r"^cifar:.*#\s*(.+?) on 2 CPU cores",
                         (ROOT / "Makefile").read_text(), re.M)
    assert readme and makefile, "make cifar's duration is not stated"
    assert readme.group(1) == makefile.group(1)
    metrics = json.loads((ROOT / "book/_static/cifar/metrics.json")
                         .read_text())
    hours = sum(seed["seconds"] for run in metrics["runs"].values()
                for seed in run["seeds"]) / 3600
    low, high = DURATIONS[readme.group(1)]
    assert low <= hours <= high, (readme.group(1), hours)


def test_the_digits_seeds_stated_are_the_seeds_tested():
    """'seeds 0 to 9' in the chapters and 'seeds 0–9' in the README are the
    seeds test_claims.py trains; 'seeds 0 to 19' (chapter 1's scrambled
    digits) adds the ones test_lesson_01.py sweeps."""
    from test_claims import SEEDS
    from test_lesson_01 import SWEEP

    sources = [ROOT / "README.md", *sorted((ROOT / "book").glob("0*.md"))]
    stated = {(int(a), int(b)) for path in sources for a, b in re.findall(
        r"seeds\s+(\d+)(?:\s+to\s+|\s*[–-]\s*)(\d+)", path.read_text())}
    assert SWEEP[0] == SEEDS[-1] + 1
    assert stated == {(SEEDS[0], SEEDS[-1]), (SEEDS[0], SWEEP[-1])}, stated
