"""How the project's packages may import each other.

Every import counts, a function's deferred one too: an import that only works
because it runs late is still a knot between two modules.

- no import cycle among the modules of xlmr_flax/, train/, eval/ and configs/;
- the library (xlmr_flax/) imports neither train/ nor eval/ (its CLIs included);
- eval/ never imports train/ (the evaluator scores predictions of any trainer);
- configs/ never import train/ (the trainer loads configs, not the other way);
- the trainer (train/ outside train/study/) imports neither the pipeline nor eval/;
- the study (train/study/) reaches eval/ through the evaluator interface
  (eval.evaluators), the results record (eval.analysis.records) and the report's
  entry point (eval.report) only;
- train/study/run/layout.py is the one module of train/ that joins workdir paths, and
  eval/analysis/records.py the one of eval/ (the report reads a study folder without
  the pipeline; the two entries it reads are named there, and layout.py imports them);
- no module is over MAX_LINES lines (the few listed in OVERSIZED wait for a split).

docs/architecture.md describes the layers.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("xlmr_flax", "train", "eval", "configs")
PIPELINE = "train.study"
EVAL_INTERFACE = ("eval.evaluators", "eval.analysis.records", "eval.report")
LAYOUT = os.path.join("train", "study", "run", "layout.py")
RECORDS = os.path.join("eval", "analysis", "records.py")
MAX_LINES = 400
# Over MAX_LINES, each to be split on its own (a test below keeps this list honest).
OVERSIZED: set[str] = set()


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


def imports_between(graph: dict[str, set[str]], source: str, target: str) -> list[str]:
    return sorted(
        f"{module} -> {imported}"
        for module, targets in graph.items()
        if module.split(".")[0] == source
        for imported in targets
        if imported.split(".")[0] == target
    )


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


def test_the_library_imports_neither_the_trainer_nor_the_evaluator(graph):
    assert imports_between(graph, "xlmr_flax", "train") == []
    assert imports_between(graph, "xlmr_flax", "eval") == []


def test_eval_never_imports_train(graph):
    assert imports_between(graph, "eval", "train") == []


def test_configs_never_import_train(graph):
    assert imports_between(graph, "configs", "train") == []


def is_trainer(module: str) -> bool:
    return module.startswith("train.") and not module.startswith(PIPELINE)


def test_the_trainer_imports_neither_the_pipeline_nor_the_evaluator(graph):
    found = [
        f"{module} -> {imported}"
        for module, targets in graph.items()
        if is_trainer(module) and module != "train.__main__"
        for imported in targets
        if imported.startswith(PIPELINE) or imported.split(".")[0] == "eval"
    ]
    assert found == []


def test_the_pipeline_reaches_eval_through_its_interface_only(graph):
    reached = {
        imported
        for module, targets in graph.items()
        if module.startswith(PIPELINE)
        for imported in targets
        if imported.split(".")[0] == "eval"
    }
    assert reached - set(EVAL_INTERFACE) == set()
    assert {"eval.evaluators", "eval.analysis.records"} <= reached


def workdir_joins(root: str, layout: str, folders: tuple[str, ...] = ("workdir",)) -> list[str]:
    """`file:line` of every `os.path.join`, in `layout`'s package but outside it, that
    joins a variable named in `folders` or one of the entries `layout` names (its
    string arguments to `os.path.join`)."""

    def joins(tree):
        for node in ast.walk(tree):
            func = node.func if isinstance(node, ast.Call) else None
            if isinstance(func, ast.Attribute) and ast.unparse(func) == "os.path.join":
                yield node

    def strings(node):
        return {
            part.value
            for part in ast.walk(node)
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        }

    with open(os.path.join(root, layout), encoding="utf-8") as f:
        layout_tree = ast.parse(f.read())
    # Whole names (`stages`, `DONE`, `.DONE`), not the separators of an f-string.
    entries = {text for call in joins(layout_tree) for text in strings(call) if len(text) > 2}
    found = []
    for path in module_files(root, (layout.split(os.sep)[0],)).values():
        if os.path.relpath(path, root) == layout:
            continue
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for call in joins(tree):
            names = {n.id for n in ast.walk(call) if isinstance(n, ast.Name)}
            if names & set(folders) or strings(call) & entries:
                found.append(f"{os.path.relpath(path, root)}:{call.lineno}")
    return found


def test_only_the_layout_module_joins_workdir_paths():
    assert workdir_joins(ROOT, LAYOUT) == []


def test_the_evaluator_joins_study_folder_paths_in_the_results_record_only():
    assert workdir_joins(ROOT, RECORDS, ("workdir", "study_dir")) == []


def test_a_workdir_join_outside_the_layout_is_found(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "layout.py").write_text(
        "import os\ndef stage_dir(w, i):\n    return os.path.join(w, 'stages', i)\n"
    )
    (tmp_path / "pkg" / "other.py").write_text(
        textwrap.dedent(
            """
            import os
            def done(directory):
                return os.path.join(directory, "stages", "x")
            def results(workdir):
                return os.path.join(workdir, "results.jsonl")
            def inside(model_dir):
                return os.path.join(model_dir, "params")
            """
        )
    )
    assert workdir_joins(str(tmp_path), os.path.join("pkg", "layout.py")) == [
        "pkg/other.py:4",
        "pkg/other.py:6",
    ]


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
