"""How the project's packages may import each other, and who joins study paths.

Every import counts, a function's deferred one too: an import that only works
because it runs late is still a knot between two modules.

- no import cycle among the modules of xlmr_flax/, train/, eval/, configs/ and bench/;
- the layers (LAYER_RULES): the library (xlmr_flax/) imports neither train/ nor eval/;
  eval/ and configs/ never import train/; nothing below bench/ imports it; the trainer
  (train/ outside train/study/) imports neither the study nor eval/; the study's plan
  (train/study/plan/) never imports its run (train/study/run/, which may import the plan);
- the study (train/study/) reaches eval/ through the evaluator interface
  (eval.evaluators), the evaluation plan (eval.scoring.gold: which split and gold
  are scored), the forward pass it compiles (eval.predict.program), the results
  record (eval.analysis.records), the training check (eval.analysis.trained) and the
  report's
  entry point (eval.report) only;
- a study folder's paths have two owners: train/study/layout.py (the workdir) and
  eval/analysis/records.py (the results file and the report folder, which the report
  reads without the study). No other module joins a path onto a folder named `workdir`
  or `study_dir`, or onto one of the owners' top-level entries (`stages`,
  `results.jsonl`, ...), nor writes such an entry as a relative path (`stages/...`);
- no module is over MAX_LINES lines (the few listed in OVERSIZED wait for a split).

Each rule is a function of the code that a test runs on this repository and on a
copy with a violation planted in it, so a rule that stops finding anything fails.
docs/architecture.md describes the layers.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("xlmr_flax", "train", "eval", "configs", "bench")
STUDY, PLAN, RUN = "train.study", "train.study.plan", "train.study.run"
EVAL_INTERFACE = (
    "eval.evaluators", "eval.scoring.gold", "eval.predict.program", "eval.analysis.records",
    "eval.analysis.trained", "eval.report", "eval.stats.adaptive_study",
    "eval.stats.adaptive_pilot",
)  # fmt: skip
PATH_OWNERS = (
    os.path.join("train", "study", "layout.py"),
    os.path.join("eval", "analysis", "records.py"),
)
ROOT_NAMES = ("workdir", "study_dir")  # the names a study folder goes by
MAX_LINES = 400
# Over MAX_LINES, each to be split on its own (a test below keeps this list honest).
OVERSIZED: set[str] = set()
# Known violations, each waiting for its change (the tests fail once one is gone, so
# that it leaves the list); none today.
KNOWN_IMPORTS: set[str] = set()
KNOWN_JOINS: set[str] = set()


def module_files(root: str, packages: tuple[str, ...]) -> dict[str, str]:
    """Dotted module name -> file, for every .py file under the packages' folders."""
    found = {}
    for package in packages:
        for folder, _, files in os.walk(os.path.join(root, package)):
            for file in files:
                if file.endswith(".py"):
                    parts = os.path.relpath(os.path.join(folder, file), root)[:-3].split(os.sep)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    found[".".join(parts)] = os.path.join(folder, file)
    return found


def imported_names(module: str, path: str) -> list[str]:
    """Every dotted name the module imports (`from a import b`: `a.b`), absolute."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    package = module.split(".") if path.endswith("__init__.py") else module.split(".")[:-1]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def import_graph(root: str, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a name that is not a module: its package)."""
    files = module_files(root, packages)

    def project_module(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in files.items():
        targets = {project_module(name) for name in imported_names(module, path)}
        graph[module] = {t for t in targets if t and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT, PACKAGES)


def test_the_graph_holds_every_package_and_known_edges(graph):
    assert {
        "xlmr_flax.convert",
        "xlmr_flax.pretrained",
        "train.study.plan.plan",
        "eval.report",
    } <= set(graph)
    assert "configs.base" in graph["configs.xtreme_r_sequencing"]
    assert "xlmr_flax.convert" in graph["xlmr_flax.pretrained"]


def test_no_import_cycle(graph):
    assert cycles(graph) == []


def package_of(module: str) -> str:
    """The layer a module belongs to: its top package; in train/, the trainer, the
    study's plan or its run."""
    top = module.split(".")[0]
    if top != "train" or module == "train.__main__":  # the main command is the top floor
        return "command" if top == "train" else top
    for layer in (PLAN, RUN):
        if module == layer or module.startswith(layer + "."):
            return layer
    return "study" if module.startswith(STUDY) else "trainer"


# (importing layer, imported layer) pairs that must not occur.
LAYER_RULES = {
    ("xlmr_flax", "trainer"), ("xlmr_flax", PLAN), ("xlmr_flax", RUN), ("xlmr_flax", "eval"),
    ("eval", "trainer"), ("eval", PLAN), ("eval", RUN), ("eval", "command"),
    ("configs", "trainer"), ("configs", PLAN), ("configs", RUN),
    ("trainer", PLAN), ("trainer", RUN), ("trainer", "study"), ("trainer", "eval"),
    (PLAN, RUN),
    *((layer, "bench") for layer in ("xlmr_flax", "eval", "configs", "trainer", PLAN, RUN)),
}  # fmt: skip


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """`importer -> imported` for every import LAYER_RULES forbids, and every import of
    eval/ by the study outside EVAL_INTERFACE."""
    found = []
    for module, targets in graph.items():
        for imported in targets:
            pair = (package_of(module), package_of(imported))
            outside = module.startswith(STUDY) and pair[1] == "eval"
            if pair in LAYER_RULES or (outside and imported not in EVAL_INTERFACE):
                found.append(f"{module} -> {imported}")
    return sorted(found)


def test_the_layers_import_downwards_only(graph):
    found = set(layer_violations(graph))
    assert sorted(found - KNOWN_IMPORTS) == []
    assert sorted(KNOWN_IMPORTS - found) == [], "fixed: remove it from KNOWN_IMPORTS"


def test_the_pipeline_reaches_eval_through_its_interface_only(graph):
    reached = {
        imported
        for module, targets in graph.items()
        if module.startswith(STUDY)
        for imported in targets
        if imported.split(".")[0] == "eval"
    }
    assert reached - set(EVAL_INTERFACE) == set()
    assert {"eval.evaluators", "eval.analysis.records"} <= reached


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` assignments."""
    found = {}
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found |= {t.id: value.value for t in node.targets if isinstance(t, ast.Name)}
    return found


def _joins(tree: ast.Module):
    """(line, parts) of every `os.path.join(...)` and pathlib `a / b`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "os.path.join":
            yield node.lineno, node.args
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            yield node.lineno, [node.left, node.right]


def _text(node: ast.AST, names: dict[str, str]) -> str | None:
    """A path part's text where the code says it: a string, a constant's name, or an
    f-string's leading text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return node.values[0].value
    return None


def study_entries(root: str, owners: tuple[str, ...] = PATH_OWNERS) -> tuple[set, dict]:
    """(the top-level entries of a study folder as the owners join them onto a folder of
    ROOT_NAMES, the owners' string constants)."""
    trees = []
    for owner in owners:
        with open(os.path.join(root, owner), encoding="utf-8") as f:
            trees.append(ast.parse(f.read()))
    names = {k: v for tree in trees for k, v in _constants(tree).items()}
    entries = {
        _text(parts[1], names)
        for tree in trees
        for _, parts in _joins(tree)
        if len(parts) > 1 and isinstance(parts[0], ast.Name) and parts[0].id in ROOT_NAMES
    }
    return entries - {None}, names


def study_path_joins(root: str, owners: tuple[str, ...] = PATH_OWNERS) -> list[str]:
    """`file:line` of every path joined onto a folder of ROOT_NAMES or onto one of the
    study entries, and of every relative path starting with an entry (`stages/...`),
    in every module of PACKAGES but the owners (docstrings aside)."""
    entries, owned = study_entries(root, owners)

    def is_entry(text: str | None) -> bool:
        return text is not None and (text in entries or text.split("/")[0] in entries)

    found = set()
    for path in module_files(root, PACKAGES).values():
        where = os.path.relpath(path, root)
        if where in owners:
            continue
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        names = {**owned, **_constants(tree)}
        for line, parts in _joins(tree):
            roots = any(isinstance(p, ast.Name) and p.id in ROOT_NAMES for p in parts)
            if roots or any(is_entry(_text(p, names)) for p in parts[1:]):
                found.add(f"{where}:{line}")
        docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Constant, ast.JoinedStr)) and id(node) not in docstrings:
                text = _text(node, {})
                if text and "/" in text and is_entry(text):
                    found.add(f"{where}:{node.lineno}")
    return sorted(found, key=lambda at: (at.rpartition(":")[0], int(at.rpartition(":")[2])))


def test_the_owners_name_the_study_entries():
    entries, _ = study_entries(ROOT)
    assert {"stages", "pretrained", "locks", "features", "results.jsonl", "report"} <= entries


def test_only_the_owners_join_study_paths():
    files = {at.rpartition(":")[0] for at in study_path_joins(ROOT)}
    assert sorted(files - KNOWN_JOINS) == []
    assert sorted(KNOWN_JOINS - files) == [], "fixed: remove it from KNOWN_JOINS"


@pytest.fixture
def planted(tmp_path):
    """A copy of the packages' modules (code only) to plant violations in."""
    for package in PACKAGES:
        shutil.copytree(
            os.path.join(ROOT, package),
            tmp_path / package,
            ignore=lambda folder, names: [
                n for n in names
                if not n.endswith(".py") and not os.path.isdir(os.path.join(folder, n))
            ],
        )  # fmt: skip
    return tmp_path


def test_a_planted_upward_import_fails_the_layer_rules(planted):
    (planted / "eval" / "planted.py").write_text(
        "def later():\n    from train.stage import StageFiles\n"
    )
    (planted / "train" / "study" / "plan" / "planted.py").write_text(
        "from train.study.run import runner\n"
    )
    (planted / "xlmr_flax" / "planted.py").write_text("from eval.metrics import score_task\n")
    (planted / "train" / "planted.py").write_text("import train.study.plan.dag\n")
    found = set(layer_violations(import_graph(str(planted), PACKAGES))) - KNOWN_IMPORTS
    assert found == {
        "eval.planted -> train.stage",
        "train.study.plan.planted -> train.study.run.runner",
        "xlmr_flax.planted -> eval.metrics",
        "train.planted -> train.study.plan.dag",
    }


def test_a_planted_study_path_join_fails_the_owner_rule(planted):
    (planted / "eval" / "planted.py").write_text(
        textwrap.dedent(
            """
            import os
            from pathlib import Path
            from eval.analysis.records import RESULTS_FILE
            def results(folder):
                return os.path.join(folder, RESULTS_FILE)
            def stage(folder, i):
                return os.path.join(folder, "stages", i)
            def anything(workdir):
                return os.path.join(workdir, "x")
            def relative(i):
                return f"stages/{i}/eval"
            def report(folder):
                return Path(folder) / "report"
            def inside(model_dir):
                return os.path.join(model_dir, "params")  # not a study path
            \"\"\"stages/<id>/ in a docstring is prose.\"\"\"
            """
        )
    )
    found = [at for at in study_path_joins(str(planted)) if at.startswith("eval")]
    assert found == [f"{os.path.join('eval', 'planted.py')}:{n}" for n in (6, 8, 10, 12, 14)]


def line_counts(root: str) -> dict[str, int]:
    counts = {}
    for path in module_files(root, PACKAGES).values():
        with open(path, encoding="utf-8") as f:
            counts[os.path.relpath(path, root)] = sum(1 for _ in f)
    return counts


def test_no_module_is_over_the_line_limit():
    counts = line_counts(ROOT)
    over = {path for path, n in counts.items() if n > MAX_LINES}
    assert over - OVERSIZED == set()
    assert OVERSIZED - over == set(), "split: remove it from OVERSIZED"


def test_a_cycle_is_found_through_relative_and_deferred_imports(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from pkg.c import g\n")
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("from pkg.a import something\n")
    graph = import_graph(str(tmp_path), ("pkg",))
    assert graph["pkg.d"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


@pytest.mark.slow  # a subprocess that imports the library
def test_the_converter_command_runs_as_documented():
    done = subprocess.run(
        [sys.executable, "-m", "xlmr_flax.convert", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--to-hf" in done.stdout
