"""The adaptive rule (eval/stats/adaptive.py): its design checks, alpha spending and
decisions, and a small simulation of its error rates (bench/adaptive.py runs the
full one for docs/adaptive.md)."""

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from bench import adaptive_scenarios as sim
from eval.stats import adaptive
from train.study.plan.power import fixed_power, fixed_seeds_for_power


def test_spending_shares_sum_to_one_and_follow_the_exponent():
    even = adaptive.spending(adaptive.Design(looks=(2, 4, 6, 8), rho=1.0))
    assert np.allclose(even, 0.25)
    late = adaptive.spending(adaptive.Design(looks=(2, 4, 6, 8), rho=3.0))
    assert math.isclose(late.sum(), 1.0) and late[0] < late[-1]


@pytest.mark.parametrize(
    "values, field",
    [
        ({"alpha": 0.7}, "alpha"),
        ({"looks": (3, 3)}, "looks"),
        ({"looks": (1, 4)}, "looks"),
        ({"looks": "3,5"}, "looks"),
        ({"families": ("tiny",)}, "families"),
        ({"estimand": "median"}, "estimand"),
        ({"seeds": 4}, "seeds"),
        ({"futility": -1}, "futility"),
    ],
)
def test_a_bad_design_is_a_one_line_error_naming_its_field(values, field):
    with pytest.raises(adaptive.DesignError, match=rf"^config\.design\.{field}:") as err:
        adaptive.Design.from_mapping(values, "config.design")
    assert "\n" not in str(err.value)


def test_the_design_round_trips_and_its_fingerprint_follows_every_field():
    design = adaptive.Design.from_mapping({"looks": [3, 5], "delta": 2})
    assert adaptive.Design.from_mapping(design.to_dict()) == design
    assert design.fingerprint() != adaptive.Design.from_mapping({"looks": [3, 6]}).fingerprint()


def test_the_sequential_p_value_never_rises_and_intervals_only_narrow():
    design = adaptive.Design(looks=(3, 5, 8))
    rng = np.random.default_rng(1)
    d = rng.normal(0.3, 1.0, 8)
    rows = []
    previous = None
    for look, seeds in enumerate(design.looks):
        previous = adaptive.look_row(previous, d[:seeds], 0.01, 0.01, design, look, 4)
        rows.append(previous)
    assert all(b.p_seq <= a.p_seq for a, b in itertools.pairwise(rows))
    assert all(b.ci_low >= a.ci_low and b.ci_high <= a.ci_high for a, b in itertools.pairwise(rows))
    assert all(r.family_low <= r.ci_low and r.ci_high <= r.family_high for r in rows)
    with pytest.raises(ValueError, match="seeds"):
        adaptive.look_row(None, d[:4], 0.01, 0.01, design, 0, 4)


def test_a_clear_effect_stops_at_the_first_look_and_a_tight_zero_is_negligible():
    design = adaptive.Design(looks=(4, 8), delta=1.0)
    big = adaptive.look_row(None, [5.0, 5.2, 4.9, 5.1], 0.0, 0.0, design, 0, 2)
    tight = adaptive.look_row(None, [0.01, -0.01, 0.0, 0.02], 0.0, 0.0, design, 0, 2)
    adaptive.decide_family([big, tight], design, 0, 2)
    assert (big.state, tight.state) == (adaptive.POSITIVE, adaptive.NEGLIGIBLE)
    noisy_diffs = [3.0, -2.0, 1.0, -1.5, 0.5, 0.2, -0.4, 1.0]
    noisy = adaptive.look_row(None, noisy_diffs[:4], 0.0, 0.0, design, 0, 1)
    adaptive.decide_family([noisy], design, 0, 1)
    assert noisy.state == adaptive.FUTILE  # ten times the seeds would not decide it
    patient = replace(design, futility=0.0)
    noisy = adaptive.look_row(None, noisy_diffs[:4], 0.0, 0.0, patient, 0, 1)
    adaptive.decide_family([noisy], patient, 0, 1)
    assert noisy.state == adaptive.OPEN
    frozen = adaptive.look_row(noisy, noisy_diffs, 0, 0, patient, 1, 1)
    adaptive.decide_family([frozen], patient, 1, 1)
    assert frozen.state == adaptive.BUDGET
    promising = adaptive.look_row(None, [2.0, 0.5, 1.5, 1.0], 0.0, 0.0, design, 0, 1)
    adaptive.decide_family([promising], design, 0, 1)
    assert promising.state == adaptive.OPEN  # more seeds may decide its sign


def test_pooling_keeps_a_noisier_comparisons_own_variance():
    pool = adaptive.seed_pool([[0.0, 0.1, -0.1], [0.2, 0.0, 0.1]])
    assert pool.df == 4
    quiet = adaptive.standard_error(np.array([0.0, 0.05, -0.05]), 0.0, 0.0, pool)
    noisy = adaptive.standard_error(np.array([3.0, -3.0, 0.0]), 0.0, 0.0, pool)
    assert quiet[1] == 4 and noisy[1] == 2


def test_a_pool_that_fails_its_homogeneity_test_lends_neither_variance_nor_df():
    rng = np.random.default_rng(0)
    quiet = [rng.normal(0, 1, 5) for _ in range(5)]
    noisy = rng.normal(0, 30, 5)
    pool = adaptive.seed_pool([*quiet, noisy], "bartlett", 0.2)
    assert not pool.homogeneous and pool.p_value < 0.2
    # The quiet comparison's own variance is below the pool's: it keeps its own 4 df.
    se, df = adaptive.standard_error(quiet[0], 0.0, 0.0, pool)
    assert df == 4 and se == pytest.approx(np.std(quiet[0], ddof=1) / np.sqrt(5))
    same = adaptive.seed_pool(quiet, "bartlett", 0.2)
    assert same.homogeneous and same.df == 20
    assert not adaptive.seed_pool(quiet, "none", 0.2).homogeneous


def test_one_joint_test_over_targets_sees_a_pair_that_is_noisier_everywhere():
    rng = np.random.default_rng(3)
    sd = np.array([3.0, 1, 1, 1, 1, 1])  # pair 0 three times noisier on every target
    noisy = {t: list(rng.normal(0, sd[:, None], (6, 3))) for t in range(6)}
    alone = [adaptive.seed_pool(series, "bartlett", 0.2).homogeneous for series in noisy.values()]
    joint = adaptive.seed_pools(noisy, "bartlett", 0.2)
    assert any(alone)  # some target's own test keeps the noisy pair in
    assert not any(p.homogeneous for p in joint.values())
    even = {t: list(rng.normal(0, 1, (6, 3))) for t in range(6)}
    assert all(p.homogeneous for p in adaptive.seed_pools(even, "bartlett", 0.2).values())


def test_a_design_names_its_pool_test():
    with pytest.raises(adaptive.DesignError, match=r"config\.design\.pool_test"):
        adaptive.Design.from_mapping({"pool_test": "levene"}, "config.design")
    with pytest.raises(adaptive.DesignError, match=r"config\.design\.pool_level"):
        adaptive.Design.from_mapping({"pool_level": 1.5}, "config.design")


def test_power_matches_the_issues_numbers():
    assert fixed_seeds_for_power(1.0, 1.0, 0.0, 0.05, 1) == 10
    assert fixed_seeds_for_power(1.0, 1.0, 0.0, 0.05, 36) == 22
    assert round(fixed_power(1.0, 1.0, 0.0, 3, 0.05), 2) == 0.18
    assert fixed_seeds_for_power(1.0, 1.0, 1.0, 0.05, 6) is None  # test-set noise hides it
    assert fixed_power(1.0, 0.0, 0.0, 3, 0.05) == 1.0  # a pilot without any variation


@pytest.mark.parametrize("name", ["all-null", "mixed signs", "heavy tails (diverged runs)"])
def test_simulated_error_rates_hold(name):
    scenario = sim.with_family(sim.SCENARIOS[name], pairs=3, targets=4)
    design = adaptive.Design(looks=(3, 5, 8), delta=1.5)
    result = sim.simulate(scenario, design, 30, np.random.default_rng(7))
    assert result["false_sign"] <= 0.1
    assert result["coverage"] >= 0.93
    if name == "mixed signs":
        assert result["decided"] > 0.3 and result["seeds_per_comparison"] < 8


def test_the_dry_run_prints_seeds_for_power_and_the_adaptive_chip_hours():
    from configs.smoke import get_config
    from train.study.plan.plan import build_dag
    from train.study.plan.power import print_power

    config = get_config("adaptive")
    lines = []
    result = print_power(config, build_dag(config), ["v4-32"], out=lines.append)
    assert lines[0].startswith("power: seeds for 80% power per family")
    assert "targets: xnli, panx, tatoeba" in lines[0]
    assert set(result["seeds_for_power"]) == {"xnli", "panx", "tatoeba"}
    assert result["worst"] >= max(result["expected"].values()) > 0
    assert result["expected"]["0.0"] < result["worst"]  # within ±5 points: stops early
    config.design.looks = (3, 2)
    with pytest.raises(adaptive.DesignError, match=r"^config\.design\.looks:"):
        print_power(config, build_dag(config), ["v4-32"], out=lines.append)
