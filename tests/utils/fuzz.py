"""An API fuzz run with schemathesis over /openapi.json: every operation, several identities.

``fuzz_api(app, identities, examples=N)`` loads the schema from the application in-process
(schemathesis' ASGI transport: no server, no network), and for each operation, each identity
(headers: none for anonymous, a Bearer token for a team or an organiser) and each generation
mode (data that fits the schema, data that does not) runs ``examples`` Hypothesis examples,
derandomized, so the same code gives the same requests. Operations with a path parameter are
run twice: with generated values, and with the real ones given in ``path_values`` (so that the
requests reach the code behind the lookups). Any 5xx, or an exception escaping the
application, is a server error; the report counts requests and statuses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode


@dataclass
class FuzzReport:
    operations: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # status code -> requests
    by_identity: dict[str, Counter] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    unsatisfiable: int = 0  # (operation, identity, mode) runs with no case to generate

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def table(self) -> str:
        """Requests by identity and status class, then every status, as plain text."""
        classes = ["2xx", "3xx", "4xx", "5xx"]
        lines = [f"{'identity':<12}" + "".join(f"{c:>8}" for c in classes) + f"{'total':>8}"]
        for who, counts in self.by_identity.items():
            per_class = Counter(f"{code // 100}xx" for code in counts.elements())
            lines.append(f"{who:<12}" + "".join(f"{per_class[c]:>8}" for c in classes)
                         + f"{sum(counts.values()):>8}")
        lines.append("statuses: " + ", ".join(f"{code}: {n}"
                                              for code, n in sorted(self.statuses.items())))
        lines.append(f"{len(self.operations)} operations, {self.requests} requests, "
                     f"{len(self.server_errors)} server errors")
        return "\n".join(lines)


def fuzz_api(app: Any, identities: dict[str, dict[str, str]], *, examples: int,
             path_values: dict[str, str] | None = None,
             modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE,
                                                  GenerationMode.NEGATIVE)) -> FuzzReport:
    """Fuzz every operation of ``app``'s OpenAPI schema; see the module notes."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = FuzzReport()
    run_settings = settings(max_examples=examples, derandomize=True, database=None,
                            deadline=None, phases=[Phase.explicit, Phase.generate],
                            suppress_health_check=list(HealthCheck))
    for result in schema.get_all_operations():
        operation = result.ok()
        report.operations.append(operation.label)
        names = {p.name for p in operation.path_parameters}
        fixed = {k: v for k, v in (path_values or {}).items() if k in names}
        for who, headers in identities.items():
            counts = report.by_identity.setdefault(who, Counter())
            for mode in modes:
                strategies = [operation.as_strategy(generation_mode=mode)]
                if fixed and mode is GenerationMode.POSITIVE:
                    strategies.append(operation.as_strategy(generation_mode=mode,
                                                            path_parameters=fixed))
                for strategy in strategies:
                    _run(strategy, headers, who, run_settings, report, counts)
    return report


def _run(strategy: Any, headers: dict[str, str], who: str, run_settings: settings,
         report: FuzzReport, counts: Counter) -> None:
    @run_settings
    @given(case=strategy)
    def example(case: Any) -> None:
        where = f"{case.method} {case.formatted_path} as {who}"
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the application raised through the transport
            report.statuses[500] += 1
            counts[500] += 1
            report.server_errors.append(f"{where}: {type(exc).__name__}: {exc}")
            return
        report.statuses[response.status_code] += 1
        counts[response.status_code] += 1
        if response.status_code >= 500:
            report.server_errors.append(f"{where} -> {response.status_code} "
                                        f"{response.text[:200]}")

    try:
        example()
    except Unsatisfiable:  # nothing in this operation can be made not to fit its schema
        report.unsatisfiable += 1
