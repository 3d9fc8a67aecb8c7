"""Pairwise models: known answers, choix, ties worked by hand, the prior, bootstrap and verdicts."""

import math

import choix
import numpy as np
import pytest
from scipy.stats import norm

from scoring.comparisons import Comparison, ComparisonsTable
from scoring.pairwise import BradleyTerryModel, ThurstoneModel, pairwise_model
from tests.scoring.studies import synthetic_comparisons, tournament, tournament_comparisons


def pair(won: int, lost: int, tied: int = 0) -> ComparisonsTable:
    outcomes = ["first"] * won + ["second"] * lost + ["tie"] * tied
    return ComparisonsTable.from_comparisons(
        [Comparison("j", "i", "A", "B", outcome) for outcome in outcomes])


def choix_data(table: ComparisonsTable) -> list[tuple[int, int]]:
    """choix's (winner, loser) pairs; ties are not part of its pairwise model."""
    return [(int(a), int(b)) if y == 1 else (int(b), int(a))
            for a, b, y in zip(table.a, table.b, table.outcome, strict=True)]


def test_bradley_terry_recovers_the_known_strengths_of_a_small_tournament():
    # counts proportional to the model's probabilities for strengths 4 : 2 : 1 (see studies)
    fit = BradleyTerryModel(prior=0).fit(tournament())
    expected = np.log([4.0, 2.0, 1.0])
    assert fit.converged
    assert fit.scores == pytest.approx(expected - expected.mean(), abs=1e-9)
    # and choix's maximum likelihood (ILSR) finds the same known answer
    theirs = choix.ilsr_pairwise(3, choix_data(tournament()), alpha=0.0, tol=1e-12)
    assert theirs - theirs.mean() == pytest.approx(expected - expected.mean(), abs=1e-6)


@pytest.mark.parametrize("prior", [0.0, 0.1, 1.0])
def test_bradley_terry_agrees_with_choix(prior):
    # a four-team round robin, uneven; choix's opt_pairwise penalises alpha * sum(theta^2),
    # a Gaussian prior of precision 2 alpha: our prior p is its alpha = p / 2. Without a prior,
    # choix's ILSR gives the maximum likelihood estimate.
    rng = np.random.default_rng(5)
    strength = np.array([1.0, 0.3, -0.2, -1.1])
    records = []
    for a, b in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)):
        for _ in range(12):
            won = rng.random() < 1 / (1 + math.exp(strength[b] - strength[a]))
            records.append(Comparison("j", "i", "ABCD"[a], "ABCD"[b],
                                      "first" if won else "second"))
    table = ComparisonsTable.from_comparisons(records)
    ours = BradleyTerryModel(prior=prior).fit(table).scores
    if prior == 0:
        theirs = choix.ilsr_pairwise(4, choix_data(table), alpha=0.0, tol=1e-12)
    else:
        theirs = choix.opt_pairwise(4, choix_data(table), alpha=prior / 2, tol=1e-12)
    assert ours == pytest.approx(theirs - theirs.mean(), abs=1e-6)


def test_thurstone_three_wins_in_four_is_one_jod():
    # P = Phi(d / 1.4826) = 3/4 -> d = 1.4826 Phi^-1(3/4) = 1 JOD
    fit = ThurstoneModel(prior=0).fit(pair(3, 1))
    assert fit.scores[0] - fit.scores[1] == pytest.approx(1.0, abs=1e-9)


def test_ties_as_worked_by_hand():
    # 6 wins, 2 losses, 4 ties: the multinomial MLE is P(A) = 1/2, P(B) = 1/6, P(tie) = 1/3
    # Davidson: exp(d) = 6/2 -> d = log 3; nu = ties / sqrt(wins losses) = 4 / sqrt(12)
    # Rao-Kupper: P(A) = r/(r + k), P(B) = 1/(1 + k r) -> r = sqrt(a (1 - b) / (b (1 - a)))
    #   = sqrt(5), d = log(5)/2, kappa = r (1 - a) / a = sqrt(5)
    # Thurstone: Phi((d - tau)/s) = 1/2 and Phi((-d - tau)/s) = 1/6 -> d = tau = s Phi^-1(5/6)/2
    table = pair(6, 2, 4)
    davidson = BradleyTerryModel(prior=0).fit(table)
    assert davidson.scores[0] - davidson.scores[1] == pytest.approx(math.log(3), abs=1e-9)
    assert math.exp(davidson.tie) == pytest.approx(4 / math.sqrt(12), abs=1e-9)
    rao = BradleyTerryModel(prior=0, ties="rao-kupper").fit(table)
    assert rao.scores[0] - rao.scores[1] == pytest.approx(math.log(5) / 2, abs=1e-9)
    assert 1 + math.exp(rao.tie) == pytest.approx(math.sqrt(5), abs=1e-9)
    thurstone = ThurstoneModel(prior=0).fit(table)
    half = float(norm.ppf(5 / 6)) / float(norm.ppf(0.75)) / 2
    assert thurstone.scores[0] - thurstone.scores[1] == pytest.approx(half, abs=1e-9)
    assert math.exp(thurstone.tie) == pytest.approx(half, abs=1e-9)


@pytest.mark.parametrize("model", [BradleyTerryModel(), BradleyTerryModel(ties="rao-kupper"),
                                   ThurstoneModel()])
def test_outcome_probabilities_add_up_to_one(model):
    p = model.probabilities(np.array([-3.0, -0.5, 0.0, 0.7, 4.0]), 0.2)
    assert p.sum(axis=0) == pytest.approx(np.ones(5))
    assert p[0, 2] == pytest.approx(p[2, 2])  # equal scores: either side equally likely
    without = model.probabilities(np.array([0.0, 1.0]))
    assert without[1].tolist() == [0.0, 0.0]


def test_the_prior_keeps_a_team_that_always_wins_finite():
    always = ComparisonsTable.from_comparisons(
        [Comparison("j", "i", "A", "B", "first")] * 5 + [Comparison("j", "i", "B", "C", "first")] * 5)
    fit = BradleyTerryModel(prior=0.1).fit(always)
    assert fit.converged and np.all(np.isfinite(fit.scores))
    assert fit.scores[0] > fit.scores[1] > fit.scores[2] and fit.scores[0] < 10
    assert not BradleyTerryModel(prior=0).fit(always).converged  # the plain MLE runs away


def test_pairwise_run_scores_intervals_and_ranks():
    result = BradleyTerryModel(samples=300, seed=2).run(synthetic_comparisons(tie_share=0.2))
    assert result.status == "ok"
    scores = [t.score for t in result.teams]
    assert scores == sorted(scores)  # t0 worst ... t5 best, as planted
    for team in result.teams:
        assert team.low < team.score < team.high
        assert team.rank_interval[0] <= team.rank <= team.rank_interval[1]
    assert result.tie_parameter["name"] == "nu" and result.tie_parameter["value"] > 0
    body = result.to_json()
    assert body["model"] == {"type": "BRADLEY_TERRY", "version": "1.0"}
    assert body["method"]["ties"] == "Davidson (1970)"


def test_pairwise_bootstrap_is_deterministic_for_a_seed():
    table = synthetic_comparisons(seed=8, per_judge=30)
    first = ThurstoneModel(samples=100, seed=1).run(table).to_json()
    assert first == ThurstoneModel(samples=100, seed=1).run(table).to_json()
    assert first["teams"] != ThurstoneModel(samples=100, seed=2).run(table).to_json()["teams"]


def test_pairwise_run_rejects_the_contrarian_judge():
    for seed in (2, 3, 4):
        result = BradleyTerryModel(samples=20).run(synthetic_comparisons(seed=seed))
        assert [j["judge"] for j in result.rejected_judges] == ["judge4"]
        assert result.rejected_judges[0]["reasons"][0].startswith("panel agreement")


def test_pairwise_run_tells_the_organiser_when_every_judge_is_rejected():
    records = (tournament_comparisons("j1") + tournament_comparisons("j2")
               + [Comparison(j, "i1", "B", "A", "first", repeat=1) for j in ("j1", "j2")])
    result = BradleyTerryModel(min_repeat_agreement=1.0, samples=10).run(
        ComparisonsTable.from_comparisons(records))
    # each judge's first A vs B was A (4 of 6 listed first); the repeat says B: agreement 0
    assert result.status == "no_accepted_judges" and result.teams == ()
    assert "j1: repeated pairs: agreement 0.000" in result.reason


def test_pairwise_run_flags_judges_with_too_few_comparisons_to_screen():
    result = BradleyTerryModel(samples=10).run(tournament())
    (flag,) = result.flagged_judges
    assert flag["judge"] == "j1" and flag["comparisons"] == 14
    assert flag["notes"] == ["0 decisive comparison(s) with a panel to compare against, fewer "
                             "than 10: not screened for agreement"]


def test_pairwise_model_by_name_and_bad_options():
    assert isinstance(pairwise_model("thurstone"), ThurstoneModel)
    with pytest.raises(ValueError, match="'elo'"):
        pairwise_model("elo")
    with pytest.raises(ValueError, match="'glenn'"):
        BradleyTerryModel(ties="glenn")
    with pytest.raises(ValueError, match="prior"):
        BradleyTerryModel(prior=-1)
