"""`python -m eval report`: the report folder appears whole (Markdown, CSV tables that
parse, valid PNG plots), partial studies are reported with what is missing, errors
name the file and line, and only an earlier report is ever replaced."""

import csv
import json
import os
import re

import numpy as np
import pytest

from bench import simulation as sim
from eval import __main__ as cli
from eval import report
from eval.report import plots
from tests.test_analysis import AB, BA, PATHS, write_study

PNG = b"\x89PNG\r\n\x1a\n"
TABLES = {
    "scores.csv": "mean",
    "scores_by_seed.csv": "score",
    "metrics.csv": "metric",
    "task_scores.csv": "mean",
    "average.csv": "mean",
    "gains.csv": "gain",
    "gains_by_class.csv": "gain",
    "ordering_effects.csv": "effect",
    "ordering_by_class.csv": "effect",
    "forgetting.csv": "forgetting",
    "alignment.csv": "mean",
    "alignment_by_class.csv": "mean",
    "missing.csv": "languages",
}
PLOTS = ("ordering_heatmap_", "ordering_languages_", "ordering_vs_cc100_")


def _partial(path, target, lang, seed):
    return (path == BA and target == "panx" and seed == 1) or (
        path == ("mnli",) and target == "xnli" and seed == 0 and lang == "yo"
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A small partial study with a planted low-resource effect, reported once."""
    root = tmp_path_factory.mktemp("study")
    write_study(
        root,
        n=300,
        # Large enough to survive Holm over the languages of XNLI on three seeds.
        effect=lambda p, t, lang: 25.0 if p == AB and lang in ("sw", "yo") else 0.0,
        skip=_partial,
        paths=[*PATHS, ("mnli", "qqp")],
    )
    summary = report.write_report(str(root), n_boot=200)
    return root, summary


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_report_folder_has_every_table_and_plot(study):
    root, summary = study
    out = root / "report"
    assert summary["out"] == str(out) and summary["report"] == str(out / "report.md")
    for name, column in TABLES.items():
        rows = _csv(out / name)
        assert rows and column in rows[0], name
    effects = _csv(out / "ordering_effects.csv")
    assert {(r["first"], r["second"]) for r in effects} == {("mnli>squad_v1", "squad_v1>mnli")}
    assert {r["resampling"] for r in effects} == {"examples and seeds"}
    assert all(float(r["ci_low"]) <= float(r["effect"]) <= float(r["ci_high"]) for r in effects)
    pngs = [name for name in os.listdir(out) if name.endswith(".png")]
    assert sorted(p.split("mnli")[0] for p in pngs) == sorted(PLOTS)
    for name in pngs:
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 1000
    assert not [n for n in os.listdir(root) if n.startswith(".report-")]  # no staging left


def test_report_markdown_reads_as_a_report(study):
    root, _ = study
    text = (root / "report" / "report.md").read_text()
    for heading in ("## What was run", "## What is missing", "## Scores", "## Gains over",
                    "## Ordering effect", "## Forgetting", "## Alignment", "## Files"):  # fmt: skip
        assert heading in text
    assert "### mnli → squad_v1 vs squad_v1 → mnli" in text
    assert "| squad_v1 → mnli | panx | 1 | all |" in text  # the missing run
    assert "| mnli | xnli | 0 | yo |" in text  # the missing language
    assert "one order only (no ordering effect): mnli → qqp" in text
    assert "| **sw** | low |" in text  # low-resource languages highlighted


def test_summary_gives_the_effect_by_resource_class(study):
    _, summary = study
    json.dumps(summary)  # printable and storable as it is
    assert summary["paths"] == ["none", "mnli", "squad_v1", "mnli>qqp", "mnli>squad_v1",
                                "squad_v1>mnli"]  # fmt: skip
    assert summary["targets"] == ["panx", "xnli"] and summary["seeds"] == [0, 1, 2]
    effect = summary["ordering"]["mnli>squad_v1 vs squad_v1>mnli"]
    assert set(effect) == {"low", "mid", "high", "all"}
    low = effect["low"]
    # 25 points on XNLI; on PAN-X the planted rise in entity hits moves F1 by about
    # 25 × 2·E[min(gold, predicted)] / E[gold + predicted] ≈ 20.8 points.
    # PAN-X lacks seed 1 of one order, so the mean over targets rests on the two
    # seeds both targets have: t with 1 df, whose far tail Holm reads over 12 effects
    # (t(1) at 1 − 0.05/24 ≈ 153 se). The effect is found, but not flagged.
    assert 0 < low["ci"][0] <= (25.0 + 20.8) / 2 <= low["ci"][1]
    assert not low["significant"]
    assert low["n_targets"] == 2
    assert summary["flagged"]["languages"] >= 1  # sw or yo on XNLI, three seeds
    assert summary["missing_runs"] == 2
    text = report.format_summary(summary)
    assert "mnli>squad_v1 vs squad_v1>mnli: low +" in text


def test_command_writes_the_default_folder_and_replaces_an_earlier_report(tmp_path, capsys):
    write_study(tmp_path, n=80, langs={"xnli": ["sw", "de"]}, seeds=(0, 1))
    assert cli.main(["report", "--workdir", str(tmp_path), "--n-boot", "50"]) == 0
    assert "report: " in capsys.readouterr().out
    stale = tmp_path / "report" / "stale.csv"
    stale.write_text("old\n")
    assert cli.main(["report", "--workdir", str(tmp_path), "--n-boot", "50"]) == 0
    assert not stale.exists()  # regenerated whole
    assert (tmp_path / "report" / "report.md").exists()


def test_an_unrelated_folder_is_never_replaced(tmp_path, capsys):
    write_study(tmp_path, n=50, langs={"xnli": ["sw"]}, seeds=(0,))
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert cli.main(["report", "--workdir", str(tmp_path), "--out", str(out)]) == 1
    assert "not a report written by" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "keep me"


def test_a_failed_report_leaves_the_previous_one(tmp_path, monkeypatch):
    write_study(tmp_path, n=50, langs={"xnli": ["sw"]}, seeds=(0, 1))
    report.write_report(str(tmp_path), n_boot=20)
    before = sorted(os.listdir(tmp_path / "report"))

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "write_plots", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        report.write_report(str(tmp_path), n_boot=20)
    assert sorted(os.listdir(tmp_path / "report")) == before
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".report-")]


def test_bad_results_are_reported_with_file_and_line(tmp_path, capsys):
    write_study(tmp_path, n=20, langs={"xnli": ["sw"]}, seeds=(0,))
    with open(tmp_path / "results.jsonl", "a") as f:
        f.write('{"kind": "zero_shot"}\n')
    lines = (tmp_path / "results.jsonl").read_text().count("\n")
    assert cli.main(["report", "--workdir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"results.jsonl:{lines}: missing keys 'path', 'target'" in err
    assert not (tmp_path / "report").exists()
    assert cli.main(["report", "--workdir", str(tmp_path / "nowhere")]) == 1
    assert "no results file" in capsys.readouterr().err


def test_studies_without_orders_or_examples_still_get_a_report(tmp_path):
    # No examples files: seeds only, said in the report.
    write_study(tmp_path, n=30, langs={"xnli": ["sw", "de"]}, examples=False)
    summary = report.write_report(str(tmp_path), n_boot=30)
    text = (tmp_path / "report" / "report.md").read_text()
    assert "shown but never tested or flagged" in text
    assert summary["flagged"] == {"languages": 0, "classes": 0}
    assert summary["ordering"]
    # A study with the baseline only: no comparisons, no plots, still a report.
    write_study(tmp_path, n=30, langs={"xnli": ["sw"]}, paths=[()])
    summary = report.write_report(str(tmp_path), n_boot=30)
    assert summary["ordering"] == {} and summary["flagged"] == {"languages": 0, "classes": 0}
    text = (tmp_path / "report" / "report.md").read_text()
    assert "No path is present in two orders" in text
    assert not [n for n in os.listdir(tmp_path / "report") if n.endswith(".png")]
    assert "no path is present in two orders" in report.format_summary(summary)
    # An empty results file.
    (tmp_path / "results.jsonl").write_text("")
    summary = report.write_report(str(tmp_path), n_boot=30)
    assert summary["records"] == 0
    assert "No zero-shot results yet." in (tmp_path / "report" / "report.md").read_text()


def test_plots_of_all_zero_effects_have_readable_axes():
    # Two orders that leave identical models: every effect and interval is 0.
    rows = [dict(target="xnli", lang=lang, resource_class="high", effect=0.0, ci_low=0.0,
                 ci_high=0.0, significant=False, cc100_gib=1.0) for lang in ("de", "fr")]  # fmt: skip
    plt = plots._pyplot()
    for draw in (plots._language_bars, plots._versus_cc100):
        figure = draw(plt, rows, "title")
        low, high = figure.axes[0].get_ylim()
        assert high - low >= 1.0  # not an axis in units of 1e-16
        plt.close(figure)


def test_a_one_seed_study_flags_nothing_and_says_so_with_its_own_rates(tmp_path):
    # Seeds differ (a run-level shift per path and seed) and one seed cannot show it:
    # the report shows intervals conditional on the seed, tests nothing, and its
    # warning counts this study's intervals that exclude zero.
    root = tmp_path / "one"
    scenario = sim.Scenario("one seed", seeds=1, seed_sd=3.0, scale=0.5)
    sim.write_study(str(root), scenario, np.random.default_rng(1))
    summary = report.write_report(str(root), n_boot=100)
    assert summary["flagged"] == {"languages": 0, "classes": 0}
    assert summary["families"] == {}
    (warning,) = summary["warnings"]
    assert "16 of 16 per-language effects rest on one seed" in warning
    assert "conditional on that seed" in warning and "not tested" in warning
    assert re.search(r"; (\d+) of them \(\d+%\) exclude zero", warning)
    rows = _csv(root / "report" / "ordering_effects.csv")
    assert {r["conditional"] for r in rows} == {"true"} and {r["p_value"] for r in rows} == {""}
    text = (root / "report" / "report.md").read_text()
    assert "`~`: one seed" in text and "~ [" in text
    assert "~: one seed; the interval is conditional" in report.format_summary(summary)
    # Asked for, the same effects are tested on test-set noise alone.
    asked = report.write_report(str(root), n_boot=100, test_one_seed=True)
    assert asked["families"] and "tested as asked" in asked["warnings"][0]


def test_the_primary_class_is_its_own_family_unless_the_command_says_none(tmp_path, capsys):
    # The command's default is the config's: the low-resource class over all targets.
    root = tmp_path / "study"
    sim.write_study(str(root), sim.Scenario("three seeds", scale=0.5), np.random.default_rng(2))
    assert cli.main(["report", "--workdir", str(root), "--n-boot", "50"]) == 0
    text = (root / "report" / "report.md").read_text()
    assert "Primary effect, named before the results" in text
    assert "primary: low-resource effect of mnli>squad_v1 vs squad_v1>mnli (1)" in text
    rows = _csv(root / "report" / "ordering_by_class.csv")
    primary = [r for r in rows if r["family"].startswith("primary")]
    assert [(r["target"], r["resource_class"], r["family_size"]) for r in primary] == [
        ("all targets", "low", "1")
    ]
    args = ["report", "--workdir", str(root), "--n-boot", "50", "--primary-class", "none"]
    assert cli.main(args) == 0
    rows = _csv(root / "report" / "ordering_by_class.csv")
    assert not any(r["family"].startswith("primary") for r in rows)
    assert "Primary effect" not in (root / "report" / "report.md").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["report", "--workdir", str(root), "--primary-class", "lowest"])
    assert "--primary-class: invalid choice: 'lowest'" in capsys.readouterr().err


def test_plots_are_drawn_on_demand_beyond_a_few_comparisons():
    assert plots.plot_kinds("auto", 3) == plots.KINDS
    assert plots.plot_kinds("auto", 36) == ("heatmap",)
    assert plots.plot_kinds("all", 36) == plots.KINDS and plots.plot_kinds("none", 1) == ()
    with pytest.raises(ValueError, match="--plots must be one of"):
        plots.plot_kinds("some", 1)
