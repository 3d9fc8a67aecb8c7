"""The judging protocols a campaign can use: each one's table type and models, by configuration name.

- ``rating``: absolute ratings (``scoring.ratings.RatingsTable``); models ``mos`` (default) and
  ``mle`` (``scoring.subjective``).
- ``best-k``: best-k picks per image (``scoring.picks.PicksTable``); model ``best-k``
  (``scoring.picks_model``).
- ``pairwise``: pairwise comparisons (``scoring.comparisons.ComparisonsTable``); models
  ``bradley-terry`` (default) and ``thurstone`` (``scoring.pairwise``).
"""

from __future__ import annotations

from scoring.comparisons import ComparisonsTable
from scoring.pairwise import BradleyTerryModel, ThurstoneModel
from scoring.picks import PicksTable
from scoring.picks_model import BestKPicksModel
from scoring.ratings import RatingsTable
from scoring.study import StudyModel
from scoring.subjective import MosModel, SubjectBiasInconsistencyModel

Table = RatingsTable | PicksTable | ComparisonsTable

MODELS: dict[str, dict[str, type]] = {
    "rating": {"mos": MosModel, "mle": SubjectBiasInconsistencyModel},
    "best-k": {"best-k": BestKPicksModel},
    "pairwise": {"bradley-terry": BradleyTerryModel, "thurstone": ThurstoneModel},
}
TABLES: dict[str, type] = {"rating": RatingsTable, "best-k": PicksTable,
                           "pairwise": ComparisonsTable}
PROTOCOLS = tuple(MODELS)


def study_model(protocol: str, name: str | None = None, **options) -> StudyModel:
    """The named model of a protocol (its first model when ``name`` is None) with its options;
    an unknown protocol, model or option is a ValueError naming it."""
    if protocol not in MODELS:
        raise ValueError(f"unknown judging protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    models = MODELS[protocol]
    name = name or next(iter(models))
    if name not in models:
        raise ValueError(f"unknown {protocol} model {name!r}; known: {', '.join(models)}")
    try:
        return models[name](**options)
    except TypeError as exc:  # an option the model does not take
        raise ValueError(f"{protocol} model {name!r}: {exc}") from None


def protocol_of(table: Table) -> str:
    """The protocol whose judgements the table holds."""
    for protocol, kind in TABLES.items():
        if isinstance(table, kind):
            return protocol
    raise TypeError(f"not a judgements table: {type(table).__name__}")


def default_model(table: Table) -> StudyModel:
    """The default model of the table's protocol: MOS, best-k counts, or Bradley-Terry."""
    return study_model(protocol_of(table))
