"""The final ranking: the blend under each normalisation, ties, and a seeded bootstrap."""

import numpy as np
import pytest

from scoring.final import blend, competition_ranks, final_ranking, normalise_weights
from scoring.picks_model import BestKPicksModel
from scoring.ratings import Rating, RatingsTable
from scoring.subjective import MosModel, SubjectBiasInconsistencyModel
from tests.scoring.studies import (
    HAND_JUDGES,
    hand_picks,
    hand_ratings,
    hand_table,
    synthetic_table,
    tournament,
)

PHASES = {"objective": {"A": 100.0, "B": 90.0, "C": 80.0},
          "subjective": {"A": 5.0, "B": 8.0, "C": 6.0}}
WEIGHTS = {"objective": 0.4, "subjective": 0.6}


def test_competition_ranks_ties_share_the_better_rank():
    assert competition_ranks(np.array([3.0, 5.0, 5.0, 1.0])).tolist() == [3, 1, 1, 4]
    assert competition_ranks(np.array([0.3, 0.1 + 0.2])).tolist() == [1, 1]


def test_blend_minmax_as_worked_by_hand():
    # objective 100, 90, 80 -> 1, 0.5, 0; subjective 5, 8, 6 -> 0, 1, 1/3
    # A = 0.4*1 = 0.4; B = 0.4*0.5 + 0.6*1 = 0.8; C = 0.6/3 = 0.2
    assert blend(PHASES, WEIGHTS, "minmax") == pytest.approx({"A": 0.4, "B": 0.8, "C": 0.2})


def test_blend_rank_as_worked_by_hand():
    # objective ranks A1 B2 C3 -> (3-r)/2 = 1, 0.5, 0; subjective B1 C2 A3 -> A 0, B 1, C 0.5
    # A = 0.4; B = 0.2 + 0.6 = 0.8; C = 0.3
    assert blend(PHASES, WEIGHTS, "rank") == pytest.approx({"A": 0.4, "B": 0.8, "C": 0.3})


def test_blend_zscore_as_worked_by_hand():
    # objective: mean 90, population std sqrt(200/3) -> +-1.2247, 0
    # subjective 5, 8, 6: mean 19/3, deviations -4/3, 5/3, -1/3, population std sqrt(42/27)
    zo = 10 / (200 / 3) ** 0.5
    zs = (42 / 27) ** 0.5
    expected = {"A": 0.4 * zo + 0.6 * (-4 / 3) / zs, "B": 0.6 * (5 / 3) / zs,
                "C": -0.4 * zo + 0.6 * (-1 / 3) / zs}
    assert blend(PHASES, WEIGHTS, "zscore") == pytest.approx(expected)


def test_blend_refuses_mismatched_teams_and_weights():
    with pytest.raises(ValueError, match="'subjective' does not score the same teams: C"):
        blend({"objective": PHASES["objective"], "subjective": {"A": 1.0, "B": 2.0}}, WEIGHTS)
    with pytest.raises(ValueError, match="negative weight for phase\\(s\\) objective"):
        blend(PHASES, {"objective": -0.4, "subjective": 0.6})
    with pytest.raises(ValueError, match="must match"):
        blend(PHASES, {"objective": 1.0})


def test_final_ranking_rows_method_and_rejected_judges():
    # MOS after rejecting J10: A 61/9 = 6.78, B 37/6 = 6.17 (test_subjective); objective A > B
    ranking = final_ranking({"A": 100.0, "B": 90.0}, hand_table(), samples=50, seed=1)
    body = ranking.to_json()
    first, second = body["rows"]
    assert (first["rank"], first["team"], second["rank"], second["team"]) == (1, "A", 2, "B")
    assert first["objective"] == 100.0 and first["subjective"] == pytest.approx(61 / 9)
    assert (first["final"], second["final"]) == (pytest.approx(1.0), pytest.approx(0.0))
    assert set(first) >= {"rank", "team", "objective", "subjective", "final", "rank_stability"}
    assert body["method"]["normalisation"] == "minmax"
    assert body["method"]["weights"] == {"objective": 0.4, "subjective": 0.6}
    assert body["method"]["model"] == {"type": "MOS", "version": "1.0"}
    assert body["method"]["screening"] == "ITU-R BT.500 observer screening"
    assert body["method"]["bootstrap"]["seed"] == 1
    assert [r["judge"] for r in body["rejected_judges"]] == ["J10"]


def test_final_ranking_equal_blends_share_rank_one():
    # A wins the judges (6.78 vs 6.17), B the objective phase: 0.5*1 + 0.5*0 each
    ranking = final_ranking({"A": 90.0, "B": 100.0}, hand_table(),
                            weights={"objective": 0.5, "subjective": 0.5}, samples=20)
    assert [(r["rank"], r["team"]) for r in ranking.rows] == [(1, "A"), (1, "B")]


@pytest.mark.parametrize("normalisation", ["minmax", "rank", "zscore"])
def test_final_ranking_matches_an_independent_computation(normalisation):
    table = synthetic_table(seed=5)
    objective = {team: 50.0 + 3.0 * ((7 * k) % 10) for k, team in enumerate(table.teams)}
    ranking = final_ranking(objective, table, normalisation=normalisation, samples=20)
    # independently: drop judge17, average each team's ratings, scale, blend 0.4/0.6, sort
    kept = table.scores[:17]
    mos = {team: float(np.mean(kept[:, table.team_of == k])) for k, team in
           enumerate(table.teams)}
    expected = blend({"objective": objective, "subjective": mos}, WEIGHTS, normalisation)
    order = sorted(expected, key=lambda team: -expected[team])
    assert [r["team"] for r in ranking.rows] == order
    assert [r["final"] for r in ranking.rows] == pytest.approx([expected[t] for t in order])
    assert [r["judge"] for r in ranking.to_json()["rejected_judges"]] == ["judge17"]


def test_final_ranking_bootstrap_is_deterministic_for_a_seed():
    table = synthetic_table(seed=2, teams=4, images=4, judges=8, erratic=None, noise=1.5)
    objective = {team: 60.0 for team in table.teams}
    first = final_ranking(objective, table, samples=200, seed=3).rows
    again = final_ranking(objective, table, samples=200, seed=3).rows
    assert first == again
    assert any(0.0 < r["rank_stability"] < 1.0 for r in first)


def test_final_ranking_bootstrap_is_certain_when_judges_agree():
    ratings = [Rating(f"j{j}", f"i{i}", team, score)
               for j in range(5) for i in range(3)
               for team, score in (("A", 8.0), ("B", 6.0), ("C", 3.0))]
    ranking = final_ranking({"A": 1.0, "B": 2.0, "C": 3.0}, RatingsTable.from_ratings(ratings),
                            samples=100)
    # A: 0.4*0 + 0.6*1 = 0.6; B: 0.4*0.5 + 0.6*0.6 = 0.56; C: 0.4*1 + 0 = 0.4
    assert [(r["team"], r["final"]) for r in ranking.rows] == [
        ("A", pytest.approx(0.6)), ("B", pytest.approx(0.56)), ("C", pytest.approx(0.4))]
    assert all(r["rank_stability"] == 1.0 for r in ranking.rows)
    assert [r["rank_interval"] for r in ranking.rows] == [[1, 1], [2, 2], [3, 3]]


def test_final_ranking_close_teams_have_a_wide_rank_interval():
    rng = np.random.default_rng(11)
    ratings = [Rating(f"j{j}", f"i{i}", team, float(rng.integers(4, 8)))
               for j in range(6) for i in range(6) for team in ("A", "B")]
    ranking = final_ranking({"A": 50.0, "B": 50.0}, RatingsTable.from_ratings(ratings),
                            samples=300, seed=0)
    for row in ranking.rows:
        assert 0.0 < row["rank_stability"] < 1.0
        assert row["rank_interval"] == [1, 2]


def test_final_ranking_with_the_bias_model_names_it_in_the_method():
    table = synthetic_table(seed=6, teams=4, images=4, judges=8, erratic=None)
    ranking = final_ranking({t: 1.0 for t in table.teams}, table,
                            model=SubjectBiasInconsistencyModel(), samples=20)
    assert ranking.method["model"]["type"] == "SUBJECT_BIAS_INCONSISTENCY_MLE"
    assert [r["team"] for r in ranking.rows] == ["team3", "team2", "team1", "team0"]


def test_final_ranking_refuses_finalists_that_differ():
    with pytest.raises(ValueError, match="no ratings for \\['C'\\]"):
        final_ranking({"A": 1.0, "B": 2.0, "C": 3.0}, hand_table(), samples=1)
    with pytest.raises(ValueError, match="no objective score for \\['B'\\]"):
        final_ranking({"A": 1.0}, hand_table(), samples=1)
    with pytest.raises(ValueError, match="'median'"):
        final_ranking({"A": 1.0, "B": 2.0}, hand_table(), normalisation="median")


def test_blend_any_weights_are_divided_by_their_sum():
    # 30/70: objective -> 1, 0.5, 0; subjective -> 0, 1, 1/3
    # A = 0.3; B = 0.15 + 0.7 = 0.85; C = 0.7/3
    expected = {"A": 0.3, "B": 0.85, "C": 0.7 / 3}
    assert blend(PHASES, {"objective": 30, "subjective": 70}) == pytest.approx(expected)
    assert blend(PHASES, {"objective": 0.3, "subjective": 0.7}) == pytest.approx(expected)
    assert normalise_weights({"objective": 40, "subjective": 60}) == pytest.approx(
        {"objective": 0.4, "subjective": 0.6})


@pytest.mark.parametrize(("weights", "message"), [
    ({"objective": 0.0, "subjective": 0.0}, "at least one must be positive"),
    ({"objective": float("nan"), "subjective": 1.0}, "'objective' is nan, not a finite number"),
    ({"objective": -0.3, "subjective": 1.3}, "negative weight for phase\\(s\\) objective"),
])
def test_normalise_weights_refuses_what_cannot_be_a_blend(weights, message):
    with pytest.raises(ValueError, match=message):
        normalise_weights(weights)


def test_blend_band_as_worked_by_hand():
    # band 80-90: objective 100, 90, 80 -> 90, 85, 80; subjective 5, 8, 6 -> 80, 90, 83.33
    # 30/70: A = 27 + 56 = 83; B = 25.5 + 63 = 88.5; C = 24 + 58.33 = 82.33
    assert blend(PHASES, {"objective": 0.3, "subjective": 0.7}, "band", band=(80, 90)) == \
        pytest.approx({"A": 83.0, "B": 88.5, "C": 24 + 0.7 * (80 + 10 / 3)})


def test_blend_one_normalisation_per_phase():
    # objective as it is (100, 90, 80), subjective on 80-90 (80, 90, 83.33):
    # A = 30 + 56 = 86; B = 27 + 63 = 90; C = 24 + 58.33
    got = blend(PHASES, {"objective": 0.3, "subjective": 0.7},
                {"objective": "none", "subjective": "band"}, band=(80, 90))
    assert got == pytest.approx({"A": 86.0, "B": 90.0, "C": 24 + 0.7 * (80 + 10 / 3)})
    with pytest.raises(ValueError, match="needs a band"):
        blend(PHASES, WEIGHTS, "band")
    with pytest.raises(ValueError, match="must name the phases"):
        blend(PHASES, WEIGHTS, {"objective": "minmax"})


def test_final_ranking_records_the_weights_given_and_used():
    ranking = final_ranking({"A": 100.0, "B": 90.0}, hand_table(),
                            weights={"objective": 30, "subjective": 70}, samples=5)
    assert ranking.method["weights"] == pytest.approx({"objective": 0.3, "subjective": 0.7})
    assert ranking.method["weights_given"] == {"objective": 30, "subjective": 70}


def test_final_ranking_rows_carry_the_mos_on_the_judges_scale_and_a_rank_interval():
    # z-scored judges decide the blend, the row still shows A's MOS 61/9 with its t interval
    ranking = final_ranking({"A": 100.0, "B": 90.0}, hand_table(),
                            model=MosModel(normalisation="zscore"), samples=50, seed=1)
    a = next(r for r in ranking.rows if r["team"] == "A")
    assert a["mos"] == pytest.approx(61 / 9)
    assert a["mos_ci95"] == pytest.approx(2.1098155778 * (2034 / 81 / 17) ** 0.5 / 18**0.5)
    assert a["subjective"] != pytest.approx(a["mos"])
    assert a["subjective_low"] == pytest.approx(a["subjective"] - a["subjective_ci95"])
    assert len(a["rank_interval"]) == 2 and 1 <= a["rank_interval"][0] <= a["rank_interval"][1]


def test_final_ranking_tells_the_organiser_when_every_judge_is_rejected():
    ratings = hand_ratings() + [Rating(judge, "i2", "B", 6 if judge != "J08" else 4, repeat=1)
                                for judge in HAND_JUDGES]
    ranking = final_ranking({"A": 100.0, "B": 90.0}, RatingsTable.from_ratings(ratings),
                            model=MosModel(max_repeat_diff=0.5), samples=20)
    body = ranking.to_json()
    assert (body["status"], body["rows"]) == ("no_accepted_judges", [])
    assert "every judge was rejected by screening" in body["reason"]
    assert len(body["rejected_judges"]) == 10
    assert body["method"]["bootstrap"]["valid_samples"] == 0


def test_final_ranking_with_best_3_picks_as_raim_2026_track_3():
    # picks as in test_picks: A 6, B 3, C 2, D 1 of 6 showings -> 90, 84, 82, 80 on 80-90;
    # objective points as they are, 30/70:
    # A = 21 + 63 = 84; B = 22.5 + 58.8 = 81.3; C = 21.6 + 57.4 = 79; D = 18 + 56 = 74
    ranking = final_ranking({"A": 70.0, "B": 75.0, "C": 72.0, "D": 60.0}, hand_picks(),
                            model=BestKPicksModel(band=(80, 90), samples=50),
                            weights={"objective": 30, "subjective": 70}, normalisation="none",
                            samples=50)
    assert [(r["team"], r["final"]) for r in ranking.rows] == [
        ("A", pytest.approx(84.0)), ("B", pytest.approx(81.3)), ("C", pytest.approx(79.0)),
        ("D", pytest.approx(74.0))]
    assert [r["picks"] for r in ranking.rows] == [6, 3, 2, 1]
    assert ranking.method["model"]["type"] == "BEST_K_PICKS"
    assert ranking.method["bootstrap"]["resampled"] == "judged images, with replacement"


def test_final_ranking_with_pairwise_comparisons_defaults_to_bradley_terry():
    table = tournament()
    ranking = final_ranking({"A": 1.0, "B": 1.0, "C": 1.0}, table, samples=30)
    assert ranking.method["model"]["type"] == "BRADLEY_TERRY"
    assert [r["team"] for r in ranking.rows] == ["A", "B", "C"]
    first = ranking.rows[0]
    assert first["subjective_low"] < first["subjective"] < first["subjective_high"]
    assert (first["wins"], first["losses"]) == (8, 3)
