"""Subjective models: MOS and t intervals worked by hand, rejections, z-scores, the bias model."""

import numpy as np
import pytest

from scoring.ratings import Rating, RatingsTable
from scoring.subjective import (
    MosModel,
    SubjectBiasInconsistencyModel,
    model_from_config,
)
from tests.scoring.studies import (
    HAND_JUDGES,
    hand_ratings,
    hand_table,
    synthetic_ratings,
    synthetic_table,
)

T_975_17 = 2.1098155778  # Student t, 97.5th percentile, 17 degrees of freedom
T_975_8 = 2.3060041350  # ... 8 degrees of freedom


def test_mos_model_team_scores_as_worked_by_hand():
    # J10 is rejected (see test_screening). Team A without J10, 18 ratings:
    # i1: 6 (x6), 8 (x3); i2: 6 (x6), 8 (x2), 10 -> 6 (x12), 8 (x5), 10: mean 122/18 = 61/9
    # squares: 12*(7/9)^2 + 5*(11/9)^2 + (29/9)^2 = 2034/81; s^2 = 2034/81/17
    # Team B: i1: 8 (x6), 6 (x3); i2: 5 (x7), 3, 7 -> sum 111, mean 37/6
    # squares: (6*121 + 3*1 + 7*49 + 361 + 25)/36 = 1458/36 = 40.5; s^2 = 40.5/17
    result = MosModel().run(hand_table())
    a, b = result.teams
    assert (a.team, a.ratings, b.team, b.ratings) == ("A", 18, "B", 18)
    assert a.score == pytest.approx(61 / 9)
    assert a.ci95 == pytest.approx(T_975_17 * (2034 / 81 / 17) ** 0.5 / 18**0.5)
    assert b.score == pytest.approx(37 / 6)
    assert b.ci95 == pytest.approx(T_975_17 * (40.5 / 17) ** 0.5 / 18**0.5)


def test_mos_model_image_scores_as_worked_by_hand():
    # i1/A without J10: 6 (x6), 8 (x3): mean 60/9; s^2 = (6*(2/3)^2 + 3*(4/3)^2)/8 = 1
    result = MosModel().run(hand_table())
    first = result.stimuli[0]
    assert (first.image, first.team, first.ratings) == ("i1", "A", 9)
    assert first.score == pytest.approx(60 / 9)
    assert first.ci95 == pytest.approx(T_975_8 * 1 / 3)


def test_mos_model_records_rejection_reasons_type_version_and_method():
    result = MosModel().run(hand_table())
    assert (result.model_type, result.model_version) == ("MOS", "1.0")
    assert result.accepted_judges == tuple(f"J{i:02d}" for i in range(1, 10))
    (rejected,) = result.rejected_judges
    assert rejected["judge"] == "J10"
    assert rejected["screening"]["P"] == 1 and rejected["screening"]["Q"] == 1
    assert "BT.500" in rejected["reasons"][0]
    assert result.method["model"] == {"type": "MOS", "version": "1.0"}
    assert result.method["judge_normalisation"] == "none"
    assert result.to_json()["model"] == {"type": "MOS", "version": "1.0"}


def test_subjective_model_without_screening_keeps_every_judge():
    result = MosModel(screening=False).run(hand_table())
    assert result.rejected_judges == []
    assert result.teams[0].ratings == 20
    assert result.method["screening"] == "none"


def test_subjective_model_rejects_judges_over_the_repeat_limit():
    ratings = hand_ratings() + [Rating("J03", "i1", "A", 9, repeat=1),  # first was 6: off by 3
                                Rating("J04", "i1", "A", 7, repeat=1)]  # first was 6: off by 1
    result = MosModel(max_repeat_diff=2.0).run(RatingsTable.from_ratings(ratings))
    reasons = {r["judge"]: r["reasons"] for r in result.rejected_judges}
    assert set(reasons) == {"J03", "J10"}
    assert "mean absolute difference 3.000" in reasons["J03"][0]


def test_subjective_model_reports_a_team_no_accepted_judge_rated():
    ratings = hand_ratings() + [Rating("J10", "i1", "C", 5)]
    result = MosModel().run(RatingsTable.from_ratings(ratings))
    assert result.status == "unrated_teams"
    assert "team(s) C" in result.reason
    assert result.teams == () and result.team_scores == {}
    assert [r["judge"] for r in result.rejected_judges] == ["J10"]


def test_subjective_model_reports_every_judge_rejected_instead_of_raising():
    # every judge's hidden repeat is one point off; a limit of 0.5 rejects them all
    ratings = hand_ratings() + [Rating(judge, "i2", "B", 6 if judge != "J08" else 4, repeat=1)
                                for judge in HAND_JUDGES]
    result = MosModel(max_repeat_diff=0.5).run(RatingsTable.from_ratings(ratings))
    assert result.status == "no_accepted_judges"
    assert result.reason.startswith("every judge was rejected by screening")
    assert "J03: repeated trials: mean absolute difference 1.000" in result.reason
    assert result.teams == () and result.stimuli == ()
    assert len(result.rejected_judges) == 10
    body = result.to_json()
    assert (body["status"], body["teams"]) == ("no_accepted_judges", [])


def test_mos_model_zscores_ignore_a_judge_shifting_every_score():
    table = synthetic_table(seed=4)
    shifted = table.scores.copy()
    shifted[0] += 2.5
    moved = RatingsTable(table.judges, table.images, table.teams, table.stimuli, shifted)
    plain = MosModel(normalisation="zscore").run(table).team_scores
    assert MosModel(normalisation="zscore").run(moved).team_scores == pytest.approx(plain)
    assert MosModel().run(moved).team_scores != pytest.approx(MosModel().run(table).team_scores)


def test_mos_model_zscore_team_score_is_the_mean_of_judge_zscores():
    table = hand_table().without_judges(["J10"])
    # independent computation: each judge's z-scores over their four ratings, team A's mean
    z_of_a = []
    for row in table.scores:
        mean, std = row.mean(), row.std(ddof=1)
        z_of_a += [(row[0] - mean) / std, (row[2] - mean) / std]
    result = MosModel(normalisation="zscore").run(hand_table())
    assert result.team_scores["A"] == pytest.approx(np.mean(z_of_a))


def test_bias_model_recovers_planted_biases_exactly_without_noise():
    quality = np.array([2.0, 4.0, 5.5, 7.0, 8.0, 3.0])
    bias = np.array([0.5, -1.0, 0.0, 1.5, -0.25])
    scores = quality[None, :] + bias[:, None]
    ratings = [Rating(f"j{j}", f"i{s // 2}", f"t{s % 2}", float(scores[j, s]))
               for j in range(5) for s in range(6)]
    result = SubjectBiasInconsistencyModel().run(RatingsTable.from_ratings(ratings))
    centred = bias - bias.mean()
    assert [j.params["bias"] for j in result.judges] == pytest.approx(centred, abs=1e-6)
    assert [s.score for s in result.stimuli] == pytest.approx(quality + bias.mean(), abs=1e-6)
    # teams: t0 = mean(2.0, 5.5, 8.0) = 15.5/3; t1 = mean(4.0, 7.0, 3.0) = 14/3
    assert [t.score for t in result.teams] == pytest.approx(
        [15.5 / 3 + bias.mean(), 14 / 3 + bias.mean()], abs=1e-6)


def test_bias_model_recovers_biases_and_flags_the_erratic_judge():
    table = synthetic_table(seed=7)
    result = SubjectBiasInconsistencyModel(screening=False).run(table)
    rng = np.random.default_rng(7)  # the same draws as tests.scoring.studies
    rng.normal(0.0, 0.3, 10)
    planted = rng.normal(0.0, 0.4, 18)
    planted[17] = 0.0  # the erratic judge's scores carry no bias
    estimated = np.array([j.params["bias"] for j in result.judges])
    assert estimated - estimated.mean() == pytest.approx(planted - planted.mean(), abs=0.2)
    inconsistency = [j.params["inconsistency"] for j in result.judges]
    assert int(np.argmax(inconsistency)) == 17
    assert max(inconsistency[:17]) < 1.0 < inconsistency[17]
    assert result.model_type == "SUBJECT_BIAS_INCONSISTENCY_MLE"


def test_model_from_config_builds_named_models_and_names_unknown_ones():
    assert isinstance(model_from_config("mle", normalisation="zscore"),
                      SubjectBiasInconsistencyModel)
    with pytest.raises(ValueError, match="'bt'"):
        model_from_config("bt")
    with pytest.raises(ValueError, match="'minmax'"):
        MosModel(normalisation="minmax")


def test_every_model_carries_the_mos_on_the_judges_scale_beside_its_own_score():
    # team A's MOS over the accepted judges is 61/9 with its t interval (worked above),
    # whatever the judge normalisation or the model
    expected_ci = T_975_17 * (2034 / 81 / 17) ** 0.5 / 18**0.5
    for model in (MosModel(normalisation="zscore"), SubjectBiasInconsistencyModel(),
                  SubjectBiasInconsistencyModel(normalisation="zscore")):
        a = model.run(hand_table()).teams[0]
        assert (a.team, a.mos) == ("A", pytest.approx(61 / 9))
        assert a.mos_ci95 == pytest.approx(expected_ci)
        assert a.to_dict()["mos"] == pytest.approx(61 / 9)
    zscored = MosModel(normalisation="zscore").run(hand_table()).teams[0]
    assert zscored.score != pytest.approx(zscored.mos)  # the z-score mean is another number
    first = MosModel(normalisation="zscore").run(hand_table()).stimuli[0]
    assert first.mos == pytest.approx(60 / 9) and first.mos_ci95 == pytest.approx(T_975_8 / 3)


def _one_rating_study(extra: bool) -> RatingsTable:
    ratings = [Rating(r.judge, r.image, r.team, r.score)
               for r in synthetic_ratings(seed=7, erratic=None, repeats=0)]
    if extra:  # a judge who stopped after one rating, three points above the panel
        ratings.append(Rating("late", "img3", "team4", 8.0))
    return RatingsTable.from_ratings(ratings)


def test_bias_model_keeps_intervals_when_a_judge_gave_one_rating_and_flags_the_judge():
    model = SubjectBiasInconsistencyModel(screening=False)
    without, with_late = model.run(_one_rating_study(False)), model.run(_one_rating_study(True))
    image = {(s.image, s.team): s for s in without.stimuli}[("img3", "team4")]
    again = {(s.image, s.team): s for s in with_late.stimuli}[("img3", "team4")]
    # 18 judges rated the image before, 19 now: the interval may narrow by sqrt(18/19) at
    # most (the newcomer counts as a judge of the panel's inconsistency), never collapse
    # (version 1.0 gave the judge the 1e-3 floor: 0.31 became 0.002)
    assert 0.95 * image.ci95 < again.ci95 <= image.ci95
    assert again.score == pytest.approx(image.score, abs=0.01)
    late = next(j for j in with_late.judges if j.judge == "late")
    others = [j.params["inconsistency"] for j in with_late.judges if j.judge != "late"]
    assert min(others) < late.params["inconsistency"] < max(others)  # the pooled value
    assert late.accepted and late.ratings == 1
    (flag,) = with_late.flagged_judges
    assert flag["judge"] == "late" and flag["ratings"] == 1
    assert "1 rating(s), fewer than 10" in flag["notes"][0]
    assert "pooled inconsistency" in flag["notes"][0]
    assert with_late.to_json()["flagged_judges"] == with_late.flagged_judges
    assert without.flagged_judges == []


def test_bias_model_estimates_every_judge_of_a_complete_design_as_before():
    # 100 ratings each: nobody is under min_ratings, so the threshold changes nothing
    table = synthetic_table(seed=3)
    low = SubjectBiasInconsistencyModel(screening=False, min_ratings=2).run(table)
    high = SubjectBiasInconsistencyModel(screening=False, min_ratings=100).run(table)
    assert [s.score for s in low.stimuli] == [s.score for s in high.stimuli]
    assert [s.ci95 for s in low.stimuli] == [s.ci95 for s in high.stimuli]
    assert low.flagged_judges == high.flagged_judges == []


def test_bias_model_pools_every_judge_when_nobody_rated_enough():
    # four ratings each, all under min_ratings: every judge takes the one pooled value,
    # so all weigh the same
    result = SubjectBiasInconsistencyModel(screening=False).run(hand_table())
    assert len(result.flagged_judges) == 10
    assert len({j.params["inconsistency"] for j in result.judges}) == 1
    with pytest.raises(ValueError, match="min_ratings must be at least 2"):
        SubjectBiasInconsistencyModel(min_ratings=1)


def test_zscore_normalisation_flags_a_judge_whose_ratings_cannot_be_zscored():
    ratings = hand_ratings() + [Rating("late", "i1", "A", 7)]
    result = MosModel(normalisation="zscore").run(RatingsTable.from_ratings(ratings))
    (flag,) = [f for f in result.flagged_judges if f["judge"] == "late"]
    assert "z-scores undefined (1 rating(s), one value)" in flag["notes"][0]
