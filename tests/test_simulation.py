"""The ordering effect's intervals and tests, checked by simulation: synthetic
studies (`bench.simulation`) with no effect or a planted one, analysed by the
function the report calls (`bench.calibration.calibrate`). Small test sets and 20
replicates keep this to seconds; `python -m bench.calibration` runs the same
scenarios at XTREME-R's test sizes for docs/report.md's calibration table.

What must hold: a zero effect's interval excludes zero at most 7 % of the time;
the share of families holding a false flag is one that a family-wise error of 5 %
makes plausible; planted effects are covered at least 93 % of the time; one seed
and missing examples flag nothing."""

import math

import numpy as np
import pytest
from scipy import stats

from bench import calibration
from bench import simulation as sim
from eval import analysis

REPLICATES = 20
SCENARIOS = {s.name.split(" (")[0]: s for s in calibration.scenarios()}


def _calibrate(name, replicates=REPLICATES, **options):
    options.setdefault("n_boot", 100)
    found = calibration.calibrate(SCENARIOS[name], replicates, sim.CI_TARGETS, **options)
    return found, found.as_dict()


def _plausible_at_five_percent(errors: int, families: int) -> bool:
    """Whether `errors` false families in `families` is what a family-wise error of
    5 % gives at least 0.5 % of the time (one in 20 is 5 % already)."""
    return errors == 0 or stats.binom.sf(errors - 1, families, 0.05) >= 0.005


@pytest.mark.parametrize(
    "name",
    [
        "null, realistic",
        "null, seed effect shared across targets",
        "null, seeds heavy, few examples",
    ],
)
def test_null_effects_are_flagged_at_most_at_the_nominal_rate(name):
    found, rates = _calibrate(name)
    assert rates["language"]["tested"] == REPLICATES * 16
    # Not conservative either: a variance floored at the bootstrap's, with t(S − 1)
    # quantiles, rejected 0.4 % of zero effects at full size.
    assert 0.01 <= rates["language"]["null_rejection"] <= 0.07, rates
    for level in ("class", "language"):
        assert _plausible_at_five_percent(found.family_errors[level], found.families[level]), rates
    assert rates["class"]["coverage"] >= 0.95 and rates["warned"] == 0


def test_planted_effects_are_covered_and_counted_as_power():
    found, rates = _calibrate("planted +2 on low-resource, realistic")
    assert rates["language"]["coverage"] >= 0.93 and rates["class"]["coverage"] >= 0.93, rates
    # CI_TARGETS' low-resource languages: XNLI sw, PAN-X yo and sw, TyDiQA sw.
    assert sum(v for k, v in found.planted.items() if k[0] == "language") == REPLICATES * 4
    assert 0 <= rates["language"]["power_low"] <= 1


def test_a_primary_class_is_counted_as_its_own_level():
    found, rates = _calibrate("planted +2 on low-resource, realistic", primary_class="low")
    assert found.families["primary"] == REPLICATES  # one family of one row per replicate
    assert rates["primary"]["tested"] == REPLICATES and rates["primary"]["coverage"] >= 0.9
    # The row left the class family: (3 targets + all targets) × 4 classes − 1.
    assert rates["class"]["tested"] == REPLICATES * 15
    assert 0 <= rates["primary"]["power_low"] <= 1 and not math.isnan(rates["primary"]["fwer"])


def test_one_seed_flags_nothing_and_says_why():
    found, rates = _calibrate("one seed")
    assert rates["warned"] == REPLICATES  # every analysis says so
    assert rates["language"]["tested"] == rates["class"]["tested"] == 0  # conditional only
    assert sum(found.family_errors.values()) == found.flagged_untested == 0


def test_without_examples_files_nothing_is_ever_flagged():
    found, rates = _calibrate("null, no examples files", replicates=5)
    assert rates["language"]["tested"] == rates["class"]["tested"] == 0  # shown, never tested
    assert found.flagged_untested == 0


def test_in_memory_studies_analyse_as_written_ones(tmp_path):
    # The calibration hands statistics over in memory; written and read back from
    # the study folder (as the report reads it) they give the same intervals.
    scenario = SCENARIOS["planted +2 on low-resource, realistic"]
    _, memory = _calibrate("planted +2 on low-resource, realistic", replicates=2)
    found = calibration.calibrate(scenario, 2, sim.CI_TARGETS, n_boot=100, root=str(tmp_path / "s"))
    assert found.as_dict() == memory
    assert not (tmp_path / "s").exists()  # removed after the last replicate


def test_written_studies_keep_their_examples_inside_the_folder(tmp_path):
    scenario = sim.Scenario("tiny", scale=0.1)
    n = sim.write_study(str(tmp_path), scenario, np.random.default_rng(0))
    records = analysis.load_results(analysis.results_file(str(tmp_path)))
    assert len(records) == n and all(r.examples for r in records)
    for record in records[:5]:
        assert analysis.examples_file(str(tmp_path), record.examples).startswith(str(tmp_path))
    with pytest.raises(ValueError, match="leaves"):
        analysis.examples_file(str(tmp_path), "../elsewhere.npy")


def test_wilson_interval():
    low, high = calibration.wilson(6, 250)
    assert low == pytest.approx(0.0110, abs=5e-4) and high == pytest.approx(0.0514, abs=5e-4)
    assert calibration.wilson(0, 10)[0] == 0.0 and math.isnan(calibration.wilson(0, 0)[0])


@pytest.mark.parametrize(
    "name",
    [
        "null, one failed run, kept",
        "planted +2 on low-resource, one failed run, kept",
        "planted +2 on low-resource, one failed run, replaced",
    ],
)
def test_a_run_left_at_chance_is_named_in_every_replicate_and_no_other_run_is(name):
    _, rates = _calibrate(name, replicates=5, primary_class="low")
    assert rates["failed_named"] == 5 and rates["other_failed"] == 0
    assert rates["flagged_untested"] == 0
