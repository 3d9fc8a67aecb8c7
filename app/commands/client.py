"""``raim submit``, ``raim submissions``, ``raim status``: a team's client of the service's API.

These talk HTTP only (httpx): no database, no metric models. The server is ``--server``, else
RAIM_SERVER (default http://127.0.0.1:8000); the team's API token is RAIM_TOKEN, else the first
line of RAIM_CONFIG_DIR/token (``~/.config/raim/token``; see app.config). Exit status: 0 done
(scored, or accepted without ``--wait``), 1 the submission failed scoring, 2 refused (bad input,
no token, a 4xx answer: every problem is printed), 3 the server could not be reached or
answered 5xx, or ``--timeout`` passed while waiting.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

from app.commands.common import EXIT_INVALID, error
from app.config import Settings, get_settings

EXIT_FAILED = 1
EXIT_UNAVAILABLE = 3
POLL_SECONDS = 1.0
TOKEN_NOTE = (" The team's API token: RAIM_TOKEN, else the first line of "
              "$RAIM_CONFIG_DIR/token (default ~/.config/raim/token).")
# Read: the service checks every image of an upload before it answers, which takes a while.
TIMEOUT = httpx.Timeout(600.0, connect=10.0)


class ClientError(Exception):
    """A request that went wrong: the lines to print and the exit status."""

    def __init__(self, lines: list[str], status: int):
        super().__init__("; ".join(lines))
        self.lines = lines
        self.status = status


def register(sub: argparse._SubParsersAction) -> None:
    submit = sub.add_parser(
        "submit", help="upload a zip of results to a phase (a team's token)",
        description="Uploads ZIP to the service (a progress bar on a terminal), then, with "
        "--wait, follows its scoring. Exit status: 0 scored (or accepted, without --wait), "
        "1 scoring failed, 2 refused (every problem is listed, each naming its file), "
        "3 server unreachable or --timeout passed." + TOKEN_NOTE)
    submit.add_argument("zip", type=Path, metavar="ZIP", help="the zip of restored images")
    submit.add_argument("--phase", metavar="P",
                        help="phase slug, or challenge/phase (default: the one open paired "
                        "phase of your team's challenges)")
    submit.add_argument("--challenge", metavar="C",
                        help="the challenge of --phase, when your teams have several")
    submit.add_argument("--wait", action="store_true",
                        help="follow the submission until it is scored or failed")
    submit.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="with --wait, give up after this long (exit 3; default: no limit)")
    _common(submit, "print the submission as GET /api/submissions/{id} gives it")
    submit.set_defaults(handler=run_submit)

    listing = sub.add_parser(
        "submissions", help="list your team's submissions, newest first",
        description="A table of your teams' submissions (GET /api/submissions), newest "
        "first." + TOKEN_NOTE)
    listing.add_argument("--phase", metavar="P", help="only this phase (slug or challenge/phase)")
    listing.add_argument("--challenge", metavar="C", help="only this challenge")
    listing.add_argument("--page", type=int, default=1, help="page number, from 1 (default 1)")
    listing.add_argument("--per-page", type=int, default=20, help="rows per page (default 20)")
    _common(listing, "print the page as GET /api/submissions gives it")
    listing.set_defaults(handler=run_submissions)

    status = sub.add_parser(
        "status", help="show one submission's status and score",
        description="A submission's status, score and means (GET /api/submissions/{id}). "
        "Exit status: 0 scored, queued or scoring; 1 failed; 2 not found or refused."
        + TOKEN_NOTE)
    status.add_argument("id", type=int, metavar="ID", help="the submission's number")
    _common(status, "print the submission as GET /api/submissions/{id} gives it")
    status.set_defaults(handler=run_status)


def _common(parser: argparse.ArgumentParser, json_help: str) -> None:
    parser.add_argument("--server", metavar="URL",
                        help="the service's address (default: RAIM_SERVER, else "
                        "http://127.0.0.1:8000)")
    parser.add_argument("--json", action="store_true", help=json_help)


# -- the connection ----------------------------------------------------------------------------


def read_token(settings: Settings) -> str | None:
    """RAIM_TOKEN, else the first line of the token file; None when neither holds one."""
    if settings.token and settings.token.strip():
        return settings.token.strip()
    try:
        first = settings.token_file.read_text().strip().splitlines()
    except OSError:
        return None
    return first[0].strip() if first and first[0].strip() else None


def connect(args: argparse.Namespace) -> httpx.Client:
    """A client for the server with the team's token; ClientError (exit 2) without a token."""
    settings = get_settings()
    token = read_token(settings)
    if token is None:
        raise ClientError([f"no API token: set RAIM_TOKEN, or put the token in "
                           f"{settings.token_file} (your team page shows how to make one)"],
                          EXIT_INVALID)
    server = (args.server or settings.server).rstrip("/")
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"},
                        timeout=TIMEOUT)


def call(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """The server's answer, or ClientError with its reason and every problem it listed."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise ClientError([f"cannot reach {client.base_url}: {exc}"], EXIT_UNAVAILABLE) from None
    if response.is_success:
        return response
    raise ClientError(refusal_lines(response),
                      EXIT_UNAVAILABLE if response.status_code >= 500 else EXIT_INVALID)


def refusal_lines(response: httpx.Response) -> list[str]:
    """``detail`` and each of ``problems`` (``file: message``) of the service's error body."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail") or response.reason_phrase or "refused"
    lines = [f"{response.status_code}: {detail}"]
    for problem in body.get("problems") or []:
        if isinstance(problem, dict):
            where = problem.get("file") or "-"
            lines.append(f"  {where}: {problem.get('message', '')}")
    return lines


def _run(body: Any, args: argparse.Namespace) -> int:
    try:
        with connect(args) as client:
            return int(body(client, args))
    except ClientError as exc:
        for line in exc.lines:
            error(line)
        return exc.status


# -- raim submit -------------------------------------------------------------------------------


class Counting:
    """A file read by the upload that reports how far it has been read."""

    def __init__(self, handle: IO[bytes], report: Any):
        self.handle = handle
        self.report = report

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.report(self.handle.tell())
        return chunk

    def __getattr__(self, name: str) -> Any:  # seek, tell, fileno: the length of the body
        return getattr(self.handle, name)


class UploadProgress:
    """A bar on a terminal's standard error; plain lines at each quarter otherwise."""

    def __init__(self, name: str, total: int, stream: IO[str]):
        self.total, self.stream, self.quarter = total, stream, 0
        self.bar = None
        if stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"uploading {name}",
                            file=stream, leave=False)
        else:
            print(f"uploading {name} ({_size(total)})", file=stream, flush=True)

    def __call__(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            return
        quarter = 4 * done // self.total if self.total else 4
        if quarter > self.quarter:
            self.quarter = quarter
            print(f"uploaded {25 * quarter}%", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000  # type: ignore[assignment]
    return ""


def run_submit(args: argparse.Namespace) -> int:
    path: Path = args.zip
    if not path.is_file():
        return error(f"{path}: no such file (give the zip of your results)")
    if args.challenge and not args.phase:
        return error("--challenge needs --phase")
    return _run(_submit, args)


def _submit(client: httpx.Client, args: argparse.Namespace) -> int:
    path: Path = args.zip
    phase = f"{args.challenge}/{args.phase}" if args.challenge else args.phase
    data = {"phase": phase} if phase else {}
    progress = UploadProgress(path.name, path.stat().st_size, sys.stderr)
    try:
        with path.open("rb") as handle:
            upload = Counting(handle, progress)
            accepted = call(client, "POST", "/score", data=data,
                            files={"file": (path.name, upload, "application/zip")}).json()
    finally:
        progress.close()
    print(f"submission {accepted['id']} accepted for {accepted['challenge']}/"
          f"{accepted['phase']}: {accepted['status']}", file=sys.stderr)
    view = (follow(client, accepted["id"], args.timeout) if args.wait
            else call(client, "GET", f"/api/submissions/{accepted['id']}").json())
    show(view, args.json)
    return outcome(view)


def follow(client: httpx.Client, submission_id: int, timeout: float | None) -> dict:
    """Poll the submission until it is scored or failed, showing each change of status on
    standard error (one line each; rewritten in place on a terminal)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    live = sys.stderr.isatty()
    last = ""
    while True:
        view = call(client, "GET", f"/api/submissions/{submission_id}").json()
        line = status_line(view)
        if line != last:
            if live:
                print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
            else:
                print(line, file=sys.stderr, flush=True)
            last = line
        if view["status"] in ("scored", "failed"):
            if live:
                print(file=sys.stderr)
            return view
        if deadline is not None and time.monotonic() >= deadline:
            if live:
                print(file=sys.stderr)
            raise ClientError([f"submission {submission_id} is still {view['status']} after "
                               f"{timeout:g} s; see `raim status {submission_id}`"],
                              EXIT_UNAVAILABLE)
        time.sleep(POLL_SECONDS)


def status_line(view: dict) -> str:
    """``submission 7: scoring 3/10 images`` and the like."""
    text = f"submission {view['id']}: {view['status']}"
    progress = view.get("progress")
    if view["status"] == "scoring" and progress:
        text += f" {progress.get('done') or 0}/{progress.get('total') or '?'} images"
    return text


def outcome(view: dict) -> int:
    """The exit status a submission's state gives: 1 failed, else 0."""
    return EXIT_FAILED if view["status"] == "failed" else 0


# -- raim status, raim submissions -------------------------------------------------------------


def run_status(args: argparse.Namespace) -> int:
    return _run(_status, args)


def _status(client: httpx.Client, args: argparse.Namespace) -> int:
    view = call(client, "GET", f"/api/submissions/{args.id}").json()
    show(view, args.json)
    return outcome(view)


def show(view: dict, as_json: bool) -> None:
    """The submission on standard output: its JSON, or a few lines for a person."""
    if as_json:
        print(json.dumps(view, indent=2))
        return
    print(f"submission {view['id']}  {view['challenge']}/{view['phase']}  team {view['team']}")
    print(f"status     {status_line(view).split(': ', 1)[1]}")
    print(f"submitted  {view['created_at']}")
    if view.get("finished_at"):
        print(f"finished   {view['finished_at']}")
    if view.get("image_count") is not None:
        print(f"images     {view['image_count']}")
    mean = view.get("mean") or {}
    if mean:
        print("mean       " + "  ".join(f"{key} {_number(value)}" for key, value in mean.items()
                                        if key != "score"))
        if mean.get("score") is not None:
            print(f"score      {_number(mean['score'])}")
    for note in view.get("notes") or []:
        print(f"note       {note}")
    if view.get("error"):
        print(f"error      {view['error']}")


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def run_submissions(args: argparse.Namespace) -> int:
    if args.page < 1 or not 1 <= args.per_page <= 100:
        return error("--page must be 1 or more and --per-page from 1 to 100")
    return _run(_submissions, args)


def _submissions(client: httpx.Client, args: argparse.Namespace) -> int:
    params = {key: value for key, value in (("phase", args.phase), ("challenge", args.challenge),
                                            ("page", args.page), ("per_page", args.per_page))
              if value is not None}
    body = call(client, "GET", "/api/submissions", params=params).json()
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    print(submissions_table(body))
    return 0


def submissions_table(body: dict) -> str:
    """The page as a table, and which page of how many."""
    rows = [("id", "submitted", "phase", "status", "images", "score")]
    for item in body["items"]:
        score = (item.get("mean") or {}).get("score")
        rows.append((str(item["id"]), item["created_at"][:19].replace("T", " "),
                     f"{item['challenge']}/{item['phase']}", item["status"],
                     "-" if item.get("image_count") is None else str(item["image_count"]),
                     _number(score)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    pages = max(1, -(-body["total"] // body["per_page"]))
    lines.append(f"page {body['page']} of {pages} ({body['total']} submission(s))")
    return "\n".join(lines)
