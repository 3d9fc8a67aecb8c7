"""The schema of ``challenge.yaml``: pydantic models, and every problem named by key path and value.

The schema is documented in docs/challenge-bundle.md. ``parse_spec`` checks a text completely:
each key against the schema, then the references between phases and the ranking.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
)

from metrics.registry import METRIC_NAMES
from scoring.formula import NAMED_FORMULAS, formula_from_config

BUNDLE_FILE = "challenge.yaml"
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class BundleError(ValueError):
    """The bundle cannot be loaded; ``problems`` lists every reason, each naming where."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class QualifySpec(_Strict):
    from_: Slug = Field(alias="from")
    top: PositiveInt


class FactsheetField(_Strict):
    """One field of a phase's factsheet: its name (``factsheet.<name>`` in the form, a key of
    ``factsheet.yaml``), label, type and whether it is required."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    label: str | None = None
    type: Literal["text", "number", "boolean"] = "text"
    required: bool = False
    help: str = ""


class FactsheetSpec(_Strict):
    """What a phase asks teams to declare with each submission, and where it comes from."""

    source: Literal["form", "zip", "both"] = "form"
    fields: list[FactsheetField] = Field(min_length=1)

    def problems(self, where: str) -> list[str]:
        seen: set[str] = set()
        found = []
        for i, item in enumerate(self.fields):
            if item.name in seen:
                found.append(f"{where}.fields[{i}].name: {item.name!r} is used by an earlier "
                             f"field")
            seen.add(item.name)
        return found
def checked_formula(value: Any) -> dict[str, Any]:
    """A ``formula:`` value (a name or a mapping) as the stored dict; ValueError says why not."""
    if not isinstance(value, str | dict):
        raise ValueError(f"must be a formula name ({', '.join(NAMED_FORMULAS)}) or a mapping "
                         "with 'terms'")
    if isinstance(value, dict) and "stages" in value:
        raise ValueError("stages are a phase key (phases[i].stages), not a formula option")
    try:
        formula = formula_from_config(value)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from exc
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from exc
    unknown = [m for m in formula.metrics if m not in METRIC_NAMES]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; known: "
                         f"{', '.join(METRIC_NAMES)}")
    return formula.to_dict()


class PhaseSpec(_Strict):
    slug: Slug
    title: str | None = None
    kind: Literal["paired", "unpaired"] = "paired"
    inputs: str
    ground_truth: str | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    max_submissions_per_day: PositiveInt | None = None
    max_submissions: PositiveInt | None = None
    leaderboard: Literal["public", "private", "hidden"] = "public"
    rank_by: Literal["best", "latest"] = "best"
    qualify: QualifySpec | None = None
    factsheet: FactsheetSpec | None = None
    formula: dict[str, Any] | None = None  # the phase's own; None: the challenge's
    stages: list[Slug] | None = Field(default=None, min_length=1)

    @field_validator("formula", mode="before")
    @classmethod
    def _formula(cls, value: Any) -> dict[str, Any] | None:
        return None if value is None else checked_formula(value)

    def problems(self, where: str) -> list[str]:
        """Disagreements between this phase's own keys."""
        found = self.factsheet.problems(f"{where}.factsheet") if self.factsheet else []
        if self.kind == "paired" and not self.ground_truth:
            found.append(f"{where}.ground_truth: required key missing (phase kind is paired)")
        if self.kind == "unpaired" and self.ground_truth:
            found.append(f"{where}.ground_truth: an unpaired phase has no ground truth "
                         f"(got {self.ground_truth!r})")
        if self.stages and len(set(self.stages)) != len(self.stages):
            found.append(f"{where}.stages: each stage is listed once (got {self.stages})")
        if self.start and self.end and self.start >= self.end:
            found.append(f"{where}.end: must be after start {self.start.isoformat()} "
                         f"(got {self.end.isoformat()!r})")
        return found


class RankingEntry(_Strict):
    phase: Slug
    weight: PositiveFloat


class ChallengeSpec(_Strict):
    slug: Slug
    title: str = Field(min_length=1)
    description: str = ""
    formula: dict[str, Any] = Field(default_factory=lambda: formula_from_config(None).to_dict())
    phases: list[PhaseSpec] = Field(min_length=1)
    ranking: list[RankingEntry] = Field(default_factory=list)

    @field_validator("formula", mode="before")
    @classmethod
    def _formula(cls, value: Any) -> dict[str, Any]:
        return checked_formula(value)


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error: Any) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "missing":
        return f"{_path(error['loc'])}: required key missing"
    if kind == "extra_forbidden":
        return f"{_path(error['loc'])}: unknown key"
    message = message.removeprefix("Value error, ")
    shown = error["input"]
    if isinstance(shown, dict | list):
        return f"{_path(error['loc'])}: {message}"
    return f"{_path(error['loc'])}: {message} (got {shown!r})"


class _NoTimestamps(yaml.SafeLoader):
    """A safe loader that leaves dates as text, for pydantic to parse with their time zones."""


_NoTimestamps.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_spec(text: str, source: str = BUNDLE_FILE) -> ChallengeSpec:
    """The validated schema of a challenge.yaml text; BundleError lists every problem."""
    spec = parse_keys(text, source)
    problems = [f"{source}: {p}" for p in cross_problems(spec)]
    if problems:
        raise BundleError(problems)
    return spec


def parse_keys(text: str, source: str) -> ChallengeSpec:
    try:
        data = yaml.load(text, Loader=_NoTimestamps)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise BundleError([f"{source}: not valid YAML ({exc})"]) from exc
    if not isinstance(data, dict):
        raise BundleError([f"{source}: must be a mapping of keys (slug, title, phases, ...)"])
    try:
        spec = ChallengeSpec.model_validate(data)
    except ValidationError as exc:
        raise BundleError([f"{source}: {_describe(e)}" for e in exc.errors()]) from exc
    return spec


def cross_problems(spec: ChallengeSpec) -> list[str]:
    """References between phases and the ranking, which the per-key schema cannot see."""
    problems: list[str] = []
    seen: dict[str, PhaseSpec] = {}
    for i, phase in enumerate(spec.phases):
        problems += phase.problems(f"phases[{i}]")
        if phase.slug in seen:
            problems.append(f"phases[{i}].slug: {phase.slug!r} is used by an earlier phase")
        if phase.qualify is not None:
            source = seen.get(phase.qualify.from_)
            if source is None:
                problems.append(f"phases[{i}].qualify.from: {phase.qualify.from_!r} is not an "
                                f"earlier phase of this challenge")
            elif source.kind != "paired":
                problems.append(f"phases[{i}].qualify.from: {phase.qualify.from_!r} is unpaired; "
                                f"qualification needs a scored (paired) phase")
        seen.setdefault(phase.slug, phase)
    ranked: set[str] = set()
    for i, entry in enumerate(spec.ranking):
        if entry.phase not in seen:
            problems.append(f"ranking[{i}].phase: {entry.phase!r} is not a phase of this "
                            f"challenge ({', '.join(seen)})")
        if entry.phase in ranked:
            problems.append(f"ranking[{i}].phase: {entry.phase!r} is listed twice")
        ranked.add(entry.phase)
    return problems


