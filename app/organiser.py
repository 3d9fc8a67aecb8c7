"""Organiser actions: rescoring (old results kept in the audit log), phase dates and visibility,
CSV, queue view (workers, their heartbeats and caches, each team's waiting jobs).

Callers enqueue the ids these functions return once their transaction has committed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from http import HTTPStatus

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from app import factsheets
from app.audit import record
from app.config import Settings
from app.errors import ApiError
from app.intake.views import submission_view
from app.jobs import presence
from app.leaderboard import hold_for_rescore
from app.models import (
    LEADERBOARD_VISIBILITY,
    Challenge,
    ImageResult,
    Phase,
    Submission,
    Team,
    User,
    Worker,
    utcnow,
)
from metrics.numerics import NUMERICS_VERSION
from metrics.registry import METRIC_NAMES

CSV_COLUMNS = ("submission_id", "challenge", "phase", "team", "user", "status", "created_at",
               "finished_at", "attempts", "image_count", "upload_bytes", "upload_sha256",
               "original_filename", "score", *METRIC_NAMES, "error")


def reset_for_rescore(session: Session, sub: Submission, actor: User) -> bool:
    """Queue ``sub`` again after copying its results into the audit log; False if in flight.

    Its leaderboard line keeps its results until the new ones are stored (app.leaderboard).
    """
    if sub.status in ("queued", "scoring"):
        return False
    record(session, "submission.rescore", f"submission:{sub.id}",
           {"previous": submission_view(sub), "versions": sub.versions}, actor=actor)
    hold_for_rescore(session, sub)
    session.execute(delete(ImageResult).where(ImageResult.submission_id == sub.id))
    session.expire(sub, ["images"])
    sub.status, sub.attempts, sub.progress_done = "queued", 0, 0
    sub.score = sub.mean = sub.versions = sub.notes = sub.error = sub.resized = None
    sub.started_at = sub.finished_at = sub.heartbeat_at = None
    sub.worker = None
    return True


def _refuse_judged(phase: Phase) -> None:
    """Unpaired phases are judged, not scored by metrics: there is nothing to rescore."""
    if phase.kind != "paired":
        raise ApiError(HTTPStatus.CONFLICT,
                       f"phase {phase.slug!r} is judged by people, not scored by metrics: "
                       "there is nothing to rescore")


def rescore_submission(session: Session, sub: Submission, actor: User) -> list[int]:
    _refuse_judged(sub.phase)
    if not reset_for_rescore(session, sub, actor):
        raise ApiError(HTTPStatus.CONFLICT,
                       f"submission {sub.id} is {sub.status}; rescore it once it has finished")
    return [sub.id]


def rescore_phase(session: Session, phase: Phase, actor: User) -> list[int]:
    """Every finished submission of the phase; queued or scoring ones are left as they are."""
    _refuse_judged(phase)
    subs = session.scalars(select(Submission).where(Submission.phase_id == phase.id)
                           .options(selectinload(Submission.images))
                           .order_by(Submission.created_at, Submission.id))
    ids = [sub.id for sub in subs if reset_for_rescore(session, sub, actor)]
    record(session, "phase.rescore", f"phase:{phase.challenge.slug}/{phase.slug}",
           {"submissions": ids}, actor=actor)
    return ids


def set_visibility(session: Session, phase: Phase, visibility: str, actor: User) -> None:
    if visibility not in LEADERBOARD_VISIBILITY:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"visibility must be one of "
                       f"{', '.join(LEADERBOARD_VISIBILITY)}, not {visibility!r}")
    record(session, "phase.leaderboard", f"phase:{phase.challenge.slug}/{phase.slug}",
           {"from": phase.leaderboard, "to": visibility}, actor=actor)
    phase.leaderboard = visibility


def update_phase(session: Session, phase: Phase, *, start: datetime | None,
                 end: datetime | None, leaderboard: str | None = None,
                 actor: User | None) -> dict:
    """Set the phase's dates (None: no date) and, if given, its leaderboard visibility; the
    change is written to the audit log. Returns what changed, ``{field: [before, after]}``.

    Dates decide who may submit, and a phase's end decides its leaderboard "as it stood at
    its end" (finalists, the objective half of a final ranking); a bundle loaded again sets
    them from challenge.yaml.
    """
    if start is not None and end is not None and end <= start:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"phase {phase.slug}: the end "
                       f"({end.isoformat()}) must come after the start ({start.isoformat()})")
    if leaderboard is not None and leaderboard not in LEADERBOARD_VISIBILITY:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"visibility must be one of "
                       f"{', '.join(LEADERBOARD_VISIBILITY)}, not {leaderboard!r}")
    wanted = {"start": start, "end": end}
    if leaderboard is not None:
        wanted["leaderboard"] = leaderboard
    changed = {field: [_plain(getattr(phase, field)), _plain(value)]
               for field, value in wanted.items() if getattr(phase, field) != value}
    if changed:
        for field, value in wanted.items():
            setattr(phase, field, value)
        record(session, "phase.update", f"phase:{phase.challenge.slug}/{phase.slug}", changed,
               actor=actor)
    return changed


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def export_csv(session: Session, challenge: Challenge) -> str:
    """One line per submission of the challenge, with its means; when a phase asks for a
    factsheet, one ``factsheet.<field>`` column per field after the others."""
    specs = [s for s in (factsheets.spec_of(p.factsheet) for p in challenge.phases) if s]
    extra = [f"{factsheets.FORM_PREFIX}{name}" for name in factsheets.columns(specs)]
    query = (select(Submission).join(Phase).where(Phase.challenge_id == challenge.id)
             .options(selectinload(Submission.team), selectinload(Submission.user),
                      selectinload(Submission.phase))
             .order_by(Submission.id))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*CSV_COLUMNS, *extra])
    writer.writeheader()
    writer.writerows({**_csv_row(challenge, sub), **{
        f"{factsheets.FORM_PREFIX}{k}": factsheets.shown(v)
        for k, v in (sub.factsheet or {}).items()
        if f"{factsheets.FORM_PREFIX}{k}" in extra}} for sub in session.scalars(query))
    return out.getvalue()


def _csv_row(challenge: Challenge, sub: Submission) -> dict:
    mean = sub.mean or {}
    return {
        "submission_id": sub.id, "challenge": challenge.slug, "phase": sub.phase.slug,
        "team": sub.team.name, "user": sub.user.email if sub.user else "",
        "status": sub.status, "created_at": sub.created_at.isoformat(),
        "finished_at": sub.finished_at.isoformat() if sub.finished_at else "",
        "attempts": sub.attempts, "image_count": sub.image_count,
        "upload_bytes": sub.upload_bytes, "upload_sha256": sub.upload_sha256,
        "original_filename": sub.original_filename,
        "score": "" if sub.score is None else sub.score,
        **{m: mean.get(m, "") for m in METRIC_NAMES},
        "error": sub.error or "",
    }


def outdated_numerics(session: Session, challenge: Challenge) -> dict[int, int]:
    """Per phase id, how many scored submissions were computed with other numerics than
    today's (docs/fidelity.md, "When to rescore"); results stored before numerics were
    recorded count as other. Unpaired phases are not scored by metrics: never outdated."""
    counts: dict[int, int] = {}
    rows = session.execute(
        select(Submission.phase_id, Submission.versions).join(Phase)
        .where(Phase.challenge_id == challenge.id, Phase.kind == "paired",
               Submission.status == "scored"))
    for phase_id, versions in rows:
        if (versions or {}).get("numerics") != NUMERICS_VERSION:
            counts[phase_id] = counts.get(phase_id, 0) + 1
    return counts


def status_counts(session: Session, phase: Phase) -> dict[str, int]:
    """How many submissions of the phase are in each state."""
    return dict(session.execute(select(Submission.status, func.count(Submission.id))
                                .where(Submission.phase_id == phase.id)
                                .group_by(Submission.status)).all())


def challenge_submissions(session: Session, challenge: Challenge, limit: int) -> list[Submission]:
    """The challenge's latest submissions, newest first, with their team and phase."""
    return list(session.scalars(
        select(Submission).join(Phase).where(Phase.challenge_id == challenge.id)
        .options(selectinload(Submission.team), selectinload(Submission.phase))
        .order_by(Submission.id.desc()).limit(limit)))


def waiting_submissions(session: Session) -> list[Submission]:
    """Queued and scoring submissions, oldest first."""
    return list(session.scalars(
        select(Submission).where(Submission.status.in_(("queued", "scoring")))
        .options(selectinload(Submission.phase).selectinload(Phase.challenge))
        .order_by(Submission.created_at, Submission.id)))


def recent_failures(session: Session, limit: int) -> list[Submission]:
    """The latest failed submissions, with their team."""
    return list(session.scalars(
        select(Submission).where(Submission.status == "failed")
        .options(selectinload(Submission.team))
        .order_by(Submission.finished_at.desc(), Submission.id.desc()).limit(limit)))


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 3)


def queue_dashboard(session: Session, *, mode: str, settings: Settings) -> dict:
    """Counts by state, the oldest waiting submission, each worker (what it does, when it last
    beat, its caches), each team's waiting jobs, and a warning when jobs wait and no worker
    lives. Keys are a contract (docs/service.md): extended, never renamed."""
    now = utcnow()
    counts = dict(session.execute(select(Submission.status, func.count())
                                  .group_by(Submission.status)).all())
    oldest = session.scalar(select(func.min(Submission.created_at))
                            .where(Submission.status == "queued"))
    running = session.execute(
        select(Submission.id, Submission.worker, Submission.started_at, Submission.heartbeat_at,
               Submission.progress_done, Submission.image_count, Team.name)
        .join(Team, Team.id == Submission.team_id)
        .where(Submission.status == "scoring").order_by(Submission.started_at)).all()
    workers = _per_worker(session, now, running, settings)
    live = sum(1 for w in workers if w["state"] == "live")
    waiting = counts.get("queued", 0)
    return {
        "mode": mode,
        "waiting": waiting,
        "running": counts.get("scoring", 0),
        "failed": counts.get("failed", 0),
        "scored": counts.get("scored", 0),
        "oldest_waiting_seconds": _age(now, oldest),
        "workers": workers,
        "live_workers": live,
        "warning": _no_worker_warning(waiting, live, mode, oldest, now),
        "teams": _per_team(session, now),
        "cache": _cache_totals(workers),
        "heartbeat_seconds": presence.heartbeat_seconds(settings),
        "silent_after_seconds": presence.silent_after_seconds(settings),
    }


def _no_worker_warning(waiting: int, live: int, mode: str, oldest: datetime | None,
                       now: datetime) -> str | None:
    if not waiting or live:
        return None
    age = _age(now, oldest) or 0.0
    start = ("`raim serve` scores in its own worker thread; restart it" if mode == "local" else
             "start `raim worker` (remote or shared-disk, docs/service.md \"Workers\")")
    return (f"{waiting} submission(s) wait, the oldest for {int(age // 60)} min, and no worker "
            f"is alive: nothing will be scored until one is. {start[0].upper()}{start[1:]}.")


def _per_team(session: Session, now: datetime) -> list[dict]:
    """Teams with unfinished jobs: waiting and running counts, the oldest waiting job's age."""
    rows = session.execute(
        select(Team.name, Challenge.slug, Submission.status, func.count(),
               func.min(Submission.created_at))
        .join(Team, Team.id == Submission.team_id).join(Challenge, Challenge.id == Team.challenge_id)
        .where(Submission.status.in_(("queued", "scoring")))
        .group_by(Team.id, Team.name, Challenge.slug, Submission.status)).all()
    teams: dict[tuple[str, str], dict] = {}
    for team, challenge, status, count, first in rows:
        entry = teams.setdefault((challenge, team), {
            "team": team, "challenge": challenge, "waiting": 0, "running": 0,
            "oldest_waiting_seconds": None})
        if status == "queued":
            entry["waiting"], entry["oldest_waiting_seconds"] = count, _age(now, first)
        else:
            entry["running"] = count
    return sorted(teams.values(), key=lambda e: (-e["waiting"], e["challenge"], e["team"]))


def _per_worker(session: Session, now: datetime, running: Iterable,
                settings: Settings) -> list[dict]:
    """Each worker heard from lately (app.jobs.presence) and each holding a job, with its jobs,
    totals, kind, host, version, device, heartbeat and caches."""
    running = list(running)
    holding = {row[1] for row in running if row[1]}
    rows = {w.name: w for w in presence.listed(session, now, holding)}
    names = set(rows) | holding
    workers = {name: {"worker": name, "jobs": [], "scored": 0, "failed": 0,
                      "last_finished_at": None} for name in names}
    totals = session.execute(select(Submission.worker, Submission.status, func.count(),
                                    func.max(Submission.finished_at))
                             .where(Submission.worker.in_(names),
                                    Submission.status.in_(("scored", "failed")))
                             .group_by(Submission.worker, Submission.status)).all()
    for name, status, count, last in totals:
        entry = workers[name]
        entry[status] = count
        if last is not None:
            previous = entry["last_finished_at"]
            entry["last_finished_at"] = max(previous or last, last)
    for sub_id, name, started, heartbeat, done, total, team in running:
        workers[name]["jobs"].append({"submission_id": sub_id, "team": team,
                                      "running_seconds": _age(now, started),
                                      "since_heartbeat_seconds": _age(now, heartbeat),
                                      "progress": {"done": done, "total": total}})
    for name, entry in workers.items():
        last = entry["last_finished_at"]
        entry["last_finished_at"] = last.isoformat() if last else None
        entry.update(_presence(rows.get(name), now, settings))
    return sorted(workers.values(), key=lambda e: (e["state"] != "live", e["worker"]))


def _presence(row: Worker | None, now: datetime, settings: Settings) -> dict:
    if row is None:  # holds a job but never registered (a worker of an older version)
        return {"kind": None, "host": None, "version": None, "device": None,
                "started_at": None, "last_heartbeat_at": None, "since_heartbeat_seconds": None,
                "state": "unknown", "cache": None, "ground_truth_cache": None}
    caches = row.caches or {}
    return {"kind": row.kind, "host": row.host, "version": row.version, "device": row.device,
            "started_at": row.started_at.isoformat(),
            "last_heartbeat_at": row.heartbeat_at.isoformat(),
            "since_heartbeat_seconds": _age(now, row.heartbeat_at),
            "state": presence.state(row, now, settings),
            "cache": caches.get("features"), "ground_truth_cache": caches.get("ground_truth")}


def _cache_totals(workers: list[dict]) -> dict:
    """The live workers' feature caches added up (hits, misses, bytes, entries), and how many
    workers reported one."""
    totals = {"hits": 0, "misses": 0, "bytes": 0, "entries": 0, "workers": 0}
    for entry in workers:
        cache = entry.get("cache")
        if entry["state"] != "live" or not cache:
            continue
        totals["workers"] += 1
        for key in ("hits", "misses", "bytes", "entries"):
            totals[key] += int(cache.get(key, 0))
    return totals
