"""Pairwise models: a score per team from comparisons (Bradley-Terry, Thurstone Case V), with ties.

Each model gives the probability that team i's result is preferred to team j's, or that the
judge calls a tie, from the difference ``d = s[i] - s[j]`` of their scores:

- ``BradleyTerryModel`` (scores in natural-log strength units, as ``choix`` uses):
  without ties ``P(i) = 1 / (1 + exp(-d))``. Ties by Davidson (1970, default):
  ``P(i) : P(tie) : P(j) = exp(d/2) : nu : exp(-d/2)``; or by Rao-Kupper (1967):
  ``P(i) = 1 / (1 + kappa exp(-d))`` with ``kappa >= 1``, the tie taking the rest.
- ``ThurstoneModel`` (Case V, in JOD units, as pwcmp and ASAP use: 1 JOD apart means 75% of
  judges prefer the better): ``P(i) = Phi((d - tau) / sigma)``, ``P(j) = Phi((-d - tau) / sigma)``,
  the tie in between (Glenn and David, 1960), ``sigma = 1 / Phi^-1(0.75) = 1.4826``.

The fit maximises the likelihood of the first comparisons of the accepted judges under a
Gaussian prior ``N(0, 1/prior)`` on every score (and on the log of the tie parameter), so a team
that wins every comparison keeps a finite score (``prior=0`` gives the plain maximum likelihood
estimate, infinite for such a team). The scores come out centred on 0. The tie parameter is
fitted only when the data have ties; without ties the model is the plain one. 95% intervals
and rank intervals come from a bootstrap over comparisons (resampled with replacement, seeded).
Judges are screened by ``scoring.pairwise_screening`` before the fit.

Choix's ``opt_pairwise(alpha)`` minimises ``-loglik + alpha * sum(theta^2)``: it equals this
Bradley-Terry fit with ``prior = 2 * alpha`` (its docstring's "variance 1/alpha" is off by two).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit
from scipy.stats import norm

from scoring.comparisons import ComparisonsTable
from scoring.pairwise_screening import (
    PairAgreement,
    PairConsistency,
    Transitivity,
    panel_agreement,
    repeat_agreement,
    transitivity,
)
from scoring.study import (
    CONFIDENCE,
    NO_ACCEPTED_JUDGES,
    OK,
    UNRATED_TEAMS,
    JudgedResult,
    all_rejected_reason,
    bootstrap,
    competition_ranks,
    percentile_interval,
    rank_interval,
    sampled_ranks,
)

JOD_SIGMA = 1.0 / float(norm.ppf(0.75))
MAX_ITERATIONS = 200
STEP_TOLERANCE = 1e-10


@dataclass(frozen=True)
class PairwiseFit:
    """Scores per team (centred), the tie parameter's log (None without ties), the fit's quality."""

    scores: np.ndarray
    tie: float | None
    log_likelihood: float
    converged: bool


@dataclass(frozen=True)
class PairTeam:
    team: str
    score: float
    low: float | None
    high: float | None
    wins: int
    losses: int
    ties: int
    rank: int
    rank_interval: tuple[int, int] | None

    @property
    def comparisons(self) -> int:
        return self.wins + self.losses + self.ties

    def to_dict(self) -> dict:
        return {"team": self.team, "score": self.score, "low": self.low, "high": self.high,
                "wins": self.wins, "losses": self.losses, "ties": self.ties,
                "comparisons": self.comparisons, "rank": self.rank,
                "rank_interval": None if self.rank_interval is None else list(self.rank_interval)}


@dataclass(frozen=True)
class PairJudge:
    judge: str
    accepted: bool
    reasons: tuple[str, ...]
    comparisons: int
    agreement: PairAgreement
    transitivity: Transitivity
    consistency: PairConsistency
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"judge": self.judge, "accepted": self.accepted, "reasons": list(self.reasons),
                "comparisons": self.comparisons, "agreement": self.agreement.to_dict(),
                "transitivity": self.transitivity.to_dict(),
                "consistency": self.consistency.to_dict(), "notes": list(self.notes)}


@dataclass(frozen=True)
class PairwiseResult(JudgedResult):
    JUDGE_COUNT = "comparisons"

    model_type: str
    model_version: str
    method: dict
    judges: tuple[PairJudge, ...]
    teams: tuple[PairTeam, ...]  # empty unless status is "ok"
    tie_parameter: dict | None = None  # {"name", "value"} when ties were fitted
    status: str = OK
    reason: str | None = None

    def final_columns(self, team: str) -> dict:
        t = self.team(team)
        return {"subjective_low": t.low, "subjective_high": t.high, "wins": t.wins,
                "losses": t.losses, "ties": t.ties}

    def to_json(self) -> dict:
        return {"status": self.status, "reason": self.reason,
                "model": {"type": self.model_type, "version": self.model_version},
                "method": self.method, "teams": [t.to_dict() for t in self.teams],
                "tie_parameter": self.tie_parameter,
                "judges": [j.to_dict() for j in self.judges],
                "rejected_judges": self.rejected_judges, "flagged_judges": self.flagged_judges}


class PairwiseModel(ABC):
    """The shared fit, screening and bootstrap; subclasses give the outcome probabilities."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[str]
    UNITS: ClassVar[str]
    RESAMPLED: ClassVar[str] = "first comparisons of the accepted judges, with replacement"

    def __init__(self, *, prior: float = 0.1, screening: bool = True,
                 max_disagreement_z: float = 2.326, min_comparisons: int = 10,
                 max_circular_share: float | None = None,
                 min_repeat_agreement: float | None = None, samples: int = 1000,
                 seed: int = 0) -> None:
        if not (math.isfinite(prior) and prior >= 0):
            raise ValueError(f"prior must be a number >= 0, not {prior}")
        if max_disagreement_z <= 0:
            raise ValueError(f"max_disagreement_z must be > 0, not {max_disagreement_z}")
        for name, value in (("max_circular_share", max_circular_share),
                            ("min_repeat_agreement", min_repeat_agreement)):
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name} must be in 0..1, not {value}")
        if samples < 1:
            raise ValueError(f"bootstrap samples must be at least 1, not {samples}")
        self.prior = prior
        self.screening = screening
        self.max_disagreement_z = max_disagreement_z
        self.min_comparisons = min_comparisons
        self.max_circular_share = max_circular_share
        self.min_repeat_agreement = min_repeat_agreement
        self.samples = samples
        self.seed = seed

    @property
    def method(self) -> dict:
        return {
            "model": {"type": self.TYPE, "version": self.VERSION},
            "units": self.UNITS, "ties": self.tie_model, "prior": self.prior,
            "prior_meaning": f"N(0, 1/{self.prior}) on every score" if self.prior else "none",
            "screening": (f"panel agreement: rejected when z < -{self.max_disagreement_z} over "
                          f"at least {self.min_comparisons} decisive comparisons"
                          if self.screening else "none"),
            "max_circular_share": self.max_circular_share,
            "min_repeat_agreement": self.min_repeat_agreement,
            "confidence": CONFIDENCE,
            "interval": f"bootstrap percentiles over comparisons ({self.samples} samples, "
                        f"seed {self.seed})",
        }

    # -- the model's own part ------------------------------------------------------------
    @property
    @abstractmethod
    def tie_model(self) -> str:
        """How ties are modelled, in words."""

    @property
    @abstractmethod
    def tie_parameter(self) -> str:
        """The tie parameter's name (its value is reported when the data have ties)."""

    @abstractmethod
    def _terms(self, d: np.ndarray, eta: float | None) -> tuple[np.ndarray, np.ndarray]:
        """Log probabilities of (first wins, tie, second wins) for differences ``d`` (shape
        3 x n) and their derivatives (shape 2 x 3 x n: by d, then by the tie parameter's log
        ``eta``; tie entries are -inf / 0 when ``eta`` is None)."""

    def probabilities(self, d: np.ndarray, eta: float | None = None) -> np.ndarray:
        """P(first wins), P(tie), P(second wins) for score differences ``d`` (3 x n)."""
        logs, _ = self._terms(np.atleast_1d(np.asarray(d, dtype=float)), eta)
        return np.exp(logs)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, table: ComparisonsTable, start: PairwiseFit | None = None) -> PairwiseFit:
        """The maximum a posteriori scores (centred) and tie parameter for the table's
        comparisons, by Fisher scoring with step halving; ``start`` only sets where the search
        begins (the same optimum is reached from anywhere: the objective is convex in the
        scores)."""
        n = len(table.teams)
        with_ties = table.has_ties
        x = np.zeros(n + with_ties)
        if start is not None:
            x[:n] = start.scores
            if with_ties and start.tie is not None:
                x[n] = start.tie
        value, gradient = self.objective(x, table, with_ties)
        converged = False
        for _ in range(MAX_ITERATIONS):
            step = np.linalg.lstsq(self.information(x, table, with_ties), gradient,
                                   rcond=None)[0]
            for _ in range(60):  # halve the step until the objective does not rise
                trial = x - step
                trial_value, trial_gradient = self.objective(trial, table, with_ties)
                if trial_value <= value + 1e-12 * max(1.0, abs(value)):
                    break
                step = step / 2
            x, value, gradient = trial, trial_value, trial_gradient
            if float(np.max(np.abs(step), initial=0.0)) < STEP_TOLERANCE:
                converged = True
                break
        if self.prior == 0 and not _finite_mle(table):
            converged = False  # the scores run away: some team never lost (or never won)
        scores = x[:n] - x[:n].mean()
        return PairwiseFit(scores, float(x[n]) if with_ties else None, -value, converged)

    def objective(self, x: np.ndarray, table: ComparisonsTable,
                  with_ties: bool) -> tuple[float, np.ndarray]:
        """The negative log posterior and its gradient at ``x`` (scores, then eta with ties)."""
        n = len(table.teams)
        theta, eta = x[:n], (float(x[n]) if with_ties else None)
        d = theta[table.a] - theta[table.b]
        logs, grads = self._terms(d, eta)
        which = np.where(table.outcome == 1, 0, np.where(table.outcome == 0.5, 1, 2))
        pick = np.arange(d.size)
        value = -float(logs[which, pick].sum()) + 0.5 * self.prior * float(theta @ theta)
        by_d = grads[0][which, pick]
        gradient = np.zeros_like(x)
        gradient[:n] = (-np.bincount(table.a, by_d, n) + np.bincount(table.b, by_d, n)
                        + self.prior * theta)
        if with_ties:
            value += 0.5 * self.prior * eta**2
            gradient[n] = -float(grads[1][which, pick].sum()) + self.prior * eta
        return value, gradient

    def information(self, x: np.ndarray, table: ComparisonsTable,
                    with_ties: bool) -> np.ndarray:
        """The expected (Fisher) information of the comparisons at ``x`` plus the prior's:
        the expected Hessian of the negative log posterior."""
        n = len(table.teams)
        size = n + with_ties
        theta, eta = x[:n], (float(x[n]) if with_ties else None)
        logs, grads = self._terms(theta[table.a] - theta[table.b], eta)
        p = np.exp(logs)
        dd = np.sum(p * np.nan_to_num(grads[0]) ** 2, axis=0)
        cells = np.bincount(table.a * size + table.a, dd, size * size)
        cells += np.bincount(table.b * size + table.b, dd, size * size)
        cells -= np.bincount(table.a * size + table.b, dd, size * size)
        cells -= np.bincount(table.b * size + table.a, dd, size * size)
        matrix = cells.reshape(size, size)
        if with_ties:
            de = np.sum(p * np.nan_to_num(grads[0] * grads[1]), axis=0)
            column = np.bincount(table.a, de, n) - np.bincount(table.b, de, n)
            matrix[:n, n] += column
            matrix[n, :n] += column
            matrix[n, n] += float(np.sum(p * np.nan_to_num(grads[1]) ** 2))
        return matrix + self.prior * np.eye(size)

    def covariance(self, table: ComparisonsTable, fit: PairwiseFit) -> np.ndarray:
        """The Laplace approximation of the scores' posterior covariance (teams x teams): the
        inverse of the information at the fit, the tie parameter held fixed. Needs
        ``prior > 0`` (otherwise the scores' common shift is not determined)."""
        if self.prior <= 0:
            raise ValueError("the posterior covariance needs a prior > 0")
        n = len(table.teams)
        x = np.concatenate([fit.scores, [] if fit.tie is None else [fit.tie]])
        return np.linalg.inv(self.information(x, table, fit.tie is not None)[:n, :n])

    # -- the pipeline --------------------------------------------------------------------------
    def run(self, table: ComparisonsTable) -> PairwiseResult:
        """Screen the judges, fit the accepted judges' comparisons, bootstrap the intervals."""
        judges = self._screen(table)
        kept = table.without_judges(j.judge for j in judges if not j.accepted)
        if not kept.judges:
            return self._result(judges, (), None, NO_ACCEPTED_JUDGES, all_rejected_reason(
                (j.judge, j.reasons) for j in judges))
        wins, losses, ties = kept.counts()
        unseen = [t for t, w, lo, ti in zip(kept.teams, wins, losses, ties, strict=True)
                  if w + lo + ti == 0]
        if unseen:
            return self._result(judges, (), None, UNRATED_TEAMS,
                                f"no accepted judge compared team(s) {', '.join(unseen)}")
        fit = self.fit(kept)
        sampled = bootstrap(lambda rng: self._resample(kept, rng, fit), self.samples,
                            self.seed, len(kept.teams))
        ranks = competition_ranks(fit.scores)
        draws = sampled_ranks(sampled)
        teams = []
        for k, team in enumerate(kept.teams):
            interval = percentile_interval(sampled[:, k])
            teams.append(PairTeam(team, float(fit.scores[k]), *(interval or (None, None)),
                                  int(wins[k]), int(losses[k]), int(ties[k]), int(ranks[k]),
                                  rank_interval(draws[:, k])))
        tie = None if fit.tie is None else {"name": self.tie_parameter,
                                            "value": self._tie_value(fit.tie)}
        return self._result(judges, tuple(teams), tie, OK, None)

    def resample_team_scores(self, table: ComparisonsTable, rng: np.random.Generator,
                             ) -> np.ndarray:
        """One bootstrap draw: the comparisons resampled with replacement and refitted."""
        return self._resample(table, rng, None)

    def _resample(self, table: ComparisonsTable, rng: np.random.Generator,
                  start: PairwiseFit | None) -> np.ndarray:
        draw = table.take(rng.integers(0, table.outcome.size, table.outcome.size))
        wins, losses, ties = draw.counts()
        if np.any(wins + losses + ties == 0):
            return np.full(len(table.teams), np.nan)
        return self.fit(draw, start).scores

    def _screen(self, table: ComparisonsTable) -> tuple[PairJudge, ...]:
        agreement = panel_agreement(table, self._loo_probabilities)
        cycles = transitivity(table)
        repeats = repeat_agreement(table)
        judges = []
        for j, judge in enumerate(table.judges):
            a, t, c = agreement[j], cycles[j], repeats[j]
            reasons, notes = [], []
            if self.screening and a.comparisons >= self.min_comparisons:
                if a.z is not None and a.z < -self.max_disagreement_z:
                    reasons.append(a.reason(self.max_disagreement_z))
            elif self.screening:
                notes.append(f"{a.comparisons} decisive comparison(s) with a panel to compare "
                             f"against, fewer than {self.min_comparisons}: not screened for "
                             f"agreement")
            limit = self.max_circular_share
            if limit is not None and t.share is not None and t.share > limit:
                reasons.append(f"transitivity: {t.circular} of {t.triads} complete triads are "
                               f"circular ({t.share:.3f} > {limit})")
            limit = self.min_repeat_agreement
            if limit is not None and c.agreement is not None and c.agreement < limit:
                reasons.append(f"repeated pairs: agreement {c.agreement:.3f} over {c.pairs} "
                               f"repeat(s) is below {limit}")
            count = int(np.sum(table.judge_of == j))
            judges.append(PairJudge(judge, not reasons, tuple(reasons), count, a, t, c,
                                    tuple(notes)))
        return tuple(judges)

    def _loo_probabilities(self, table: ComparisonsTable, judge: int) -> np.ndarray | None:
        """For the judge's comparisons: the others' model's P(first wins | not a tie); None
        when no other judge compared anything."""
        others = table.take(np.flatnonzero(table.judge_of != judge))
        mine = np.flatnonzero(table.judge_of == judge)
        if others.outcome.size == 0:
            return None
        fit = self.fit(others)
        p = self.probabilities(fit.scores[table.a[mine]] - fit.scores[table.b[mine]], fit.tie)
        return p[0] / (p[0] + p[2])

    def _tie_value(self, eta: float) -> float:
        return float(math.exp(eta))

    def _result(self, judges: tuple[PairJudge, ...], teams: tuple[PairTeam, ...],
                tie: dict | None, status: str, reason: str | None) -> PairwiseResult:
        return PairwiseResult(self.TYPE, self.VERSION, self.method, judges, teams, tie, status,
                              reason)


class BradleyTerryModel(PairwiseModel):
    """Bradley-Terry, ties by Davidson (default) or Rao-Kupper; log-strength units."""

    TYPE = "BRADLEY_TERRY"
    VERSION = "1.0"
    UNITS = "natural log of the Bradley-Terry strength (choix's parameters), centred on 0"
    TIES = ("davidson", "rao-kupper")

    def __init__(self, *, ties: str = "davidson", **options) -> None:
        if ties not in self.TIES:
            raise ValueError(f"unknown tie model {ties!r}; choose one of {', '.join(self.TIES)}")
        super().__init__(**options)
        self.ties = ties

    @property
    def tie_model(self) -> str:
        return "Davidson (1970)" if self.ties == "davidson" else "Rao-Kupper (1967)"

    @property
    def tie_parameter(self) -> str:
        return "nu" if self.ties == "davidson" else "kappa"

    def _tie_value(self, eta: float) -> float:
        return float(math.exp(eta)) if self.ties == "davidson" else 1.0 + float(math.exp(eta))

    def _terms(self, d: np.ndarray, eta: float | None) -> tuple[np.ndarray, np.ndarray]:
        if self.ties == "davidson":
            return _davidson(d, eta)
        return _rao_kupper(d, eta)


class ThurstoneModel(PairwiseModel):
    """Thurstone Case V in JOD units, ties by a threshold (Glenn and David)."""

    TYPE = "THURSTONE_CASE_V"
    VERSION = "1.0"
    UNITS = "JOD (1 JOD apart: 75% prefer the better), centred on 0"
    @property
    def tie_model(self) -> str:
        return "Glenn-David threshold"

    @property
    def tie_parameter(self) -> str:
        return "tau (JOD)"

    def _terms(self, d: np.ndarray, eta: float | None) -> tuple[np.ndarray, np.ndarray]:
        tau = 0.0 if eta is None else math.exp(eta)
        s = JOD_SIGMA
        xw, xl = (d - tau) / s, (-d - tau) / s
        lw, ll = norm.logcdf(xw), norm.logcdf(xl)
        hw, hl = np.exp(norm.logpdf(xw) - lw), np.exp(norm.logpdf(xl) - ll)
        dw, dl = np.array([hw / s, -hw / s]), np.array([-hl / s, -hl / s])  # by d, by tau
        if eta is None:
            lt, dt = np.full_like(d, -np.inf), np.zeros((2, d.size))
        else:
            pt = np.maximum(norm.cdf(-xw) - norm.cdf(xl), 1e-300)
            lt = np.log(pt)
            u1, u2 = -xw, xl
            dt = np.array([(-norm.pdf(u1) + norm.pdf(u2)) / s,
                           (norm.pdf(u1) + norm.pdf(u2)) / s]) / pt
        logs = np.array([lw, lt, ll])
        grads = np.array([[dw[0], dt[0], dl[0]], [dw[1] * tau, dt[1] * tau, dl[1] * tau]])
        return logs, grads


def _finite_mle(table: ComparisonsTable) -> bool:
    """Ford's condition: the plain maximum likelihood scores are finite when every team can
    reach every other through "was preferred to" (a tie counting both ways)."""
    n = len(table.teams)
    won_a, won_b = table.outcome >= 0.5, table.outcome <= 0.5
    rows = np.concatenate([table.a[won_a], table.b[won_b]])
    cols = np.concatenate([table.b[won_a], table.a[won_b]])
    graph = coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=True, connection="strong")[0] == 1


def _davidson(d: np.ndarray, eta: float | None) -> tuple[np.ndarray, np.ndarray]:
    half = d / 2
    if eta is None:
        total = np.logaddexp(half, -half)
    else:  # log(exp(d/2) + exp(-d/2) + exp(eta)), computed without overflow
        top = np.maximum(np.abs(half), eta)
        total = top + np.log(np.exp(half - top) + np.exp(-half - top) + np.exp(eta - top))
    lw, ll = half - total, -half - total
    pw, pl = np.exp(lw), np.exp(ll)
    spread = (pw - pl) / 2
    if eta is None:
        lt, pt = np.full_like(d, -np.inf), np.zeros_like(d)
    else:
        lt = eta - total
        pt = np.exp(lt)
    logs = np.array([lw, lt, ll])
    grads = np.array([[0.5 - spread, -spread, -0.5 - spread], [-pt, 1 - pt, -pt]])
    if eta is None:
        grads[1] = 0.0
    return logs, grads


def _rao_kupper(d: np.ndarray, eta: float | None) -> tuple[np.ndarray, np.ndarray]:
    c = 0.0 if eta is None else float(np.logaddexp(0.0, eta))  # log kappa, kappa = 1 + e^eta
    lw, ll = log_expit(d - c), log_expit(-d - c)
    sw, sl = expit(d - c), expit(-d - c)
    dw = np.array([1 - sw, -(1 - sw)])  # by d, by c
    dl = np.array([-(1 - sl), -(1 - sl)])
    if eta is None:
        lt, dt = np.full_like(d, -np.inf), np.zeros((2, d.size))
    else:
        pt = np.maximum(expit(c - d) - expit(-c - d), 1e-300)
        lt = np.log(pt)
        slope_w, slope_l = sw * (1 - sw), sl * (1 - sl)
        dt = np.array([-slope_w + slope_l, slope_w + slope_l]) / pt
    dc = 0.0 if eta is None else float(expit(eta))
    logs = np.array([lw, lt, ll])
    grads = np.array([[dw[0], dt[0], dl[0]], [dw[1] * dc, dt[1] * dc, dl[1] * dc]])
    return logs, grads


MODELS: dict[str, type[PairwiseModel]] = {"bradley-terry": BradleyTerryModel,
                                          "thurstone": ThurstoneModel}


def pairwise_model(name: str = "bradley-terry", **options) -> PairwiseModel:
    """A pairwise model by its configuration name with its options."""
    if name not in MODELS:
        raise ValueError(f"unknown pairwise model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name](**options)
