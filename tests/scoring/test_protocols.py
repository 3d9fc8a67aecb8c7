"""The protocol registry: each protocol's models by name, defaults by table, clear refusals."""

import json

import pytest

from scoring.final import final_ranking
from scoring.pairwise import ThurstoneModel
from scoring.picks_model import BestKPicksModel
from scoring.protocols import PROTOCOLS, default_model, protocol_of, study_model
from scoring.subjective import MosModel, SubjectBiasInconsistencyModel
from tests.scoring.studies import hand_picks, hand_table, synthetic_comparisons, tournament


def test_study_model_builds_each_protocols_models_with_options():
    assert PROTOCOLS == ("rating", "best-k", "pairwise")
    assert isinstance(study_model("rating"), MosModel)
    assert study_model("rating", "mle", min_ratings=5).min_ratings == 5
    assert isinstance(study_model("rating", "mle"), SubjectBiasInconsistencyModel)
    assert study_model("best-k", band=(80, 90)).band == (80.0, 90.0)
    assert isinstance(study_model("pairwise", "thurstone", prior=0.5), ThurstoneModel)


@pytest.mark.parametrize(("args", "options", "message"), [
    (("ranking",), {}, "unknown judging protocol 'ranking'"),
    (("pairwise", "elo"), {}, "unknown pairwise model 'elo'; known: bradley-terry, thurstone"),
    (("best-k",), {"bands": (1, 2)}, "best-k model 'best-k': .*'bands'"),
])
def test_study_model_names_what_it_does_not_know(args, options, message):
    with pytest.raises(ValueError, match=message):
        study_model(*args, **options)


def test_default_model_and_protocol_follow_the_table():
    assert protocol_of(hand_table()) == "rating" and isinstance(default_model(hand_table()),
                                                                 MosModel)
    assert protocol_of(hand_picks()) == "best-k"
    assert isinstance(default_model(hand_picks()), BestKPicksModel)
    assert default_model(tournament()).TYPE == "BRADLEY_TERRY"
    with pytest.raises(TypeError, match="not a judgements table: dict"):
        protocol_of({})


def test_every_protocols_result_and_final_ranking_is_plain_json():
    tables = (hand_table(), hand_picks(), synthetic_comparisons(per_judge=20, tie_share=0.2))
    for table in tables:
        model = study_model(protocol_of(table), **({} if protocol_of(table) == "rating"
                                                    else {"samples": 20}))
        body = model.run(table).to_json()
        assert json.loads(json.dumps(body, allow_nan=False)) == body
        ranking = final_ranking({t: 1.0 for t in table.teams}, table, model=model, samples=10)
        assert json.dumps(ranking.to_json(), allow_nan=False)
