"""Operator commands: ``raim challenge load``, ``raim team add`` (also a member), ``raim organiser add``.

Commands that create a credential print it as the last word of their last line, so
that scripts can take it with ``| tail -n1 | awk '{print $NF}'``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app import accounts, audit, invitations
from app.bundles.load import BundleError, install_bundle
from app.commands.common import EXIT_INVALID, database, error
from app.db import ensure_schema
from app.errors import ApiError
from app.lookups import find_challenge


def register(sub: argparse._SubParsersAction) -> None:
    _register_challenge(sub)
    _register_team(sub)
    _register_organiser(sub)


def _register_challenge(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("challenge", help="create or update challenges")
    actions = parser.add_subparsers(dest="action", required=True)
    load = actions.add_parser(
        "load", help="create or update a challenge from DIR/challenge.yaml and its images",
        description="Checks the whole bundle first (schema, phases, every image), listing every "
        "problem; then copies the image sets under RAIM_DATA_DIR/datasets and creates or updates "
        "the challenge. Loading the same bundle again changes nothing. See "
        "docs/challenge-bundle.md.")
    load.add_argument("dir", type=Path, metavar="DIR", help="bundle folder")
    load.set_defaults(handler=_challenge_load)


def _register_team(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("team", help="manage teams")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add", help="create a team, or add a member to an existing one, and print an API token "
        "(last word of the last line)",
        description="Creates the team in the challenge. The token belongs to --member when "
        "given (created without a password if new), else to a service account of the team. "
        "When the team exists, --member adds that person to it (one team per person per "
        "challenge; no judge of the challenge) and prints a token of theirs.")
    add.add_argument("name", metavar="NAME", help="team name, unique in the challenge")
    add.add_argument("--challenge", required=True, metavar="SLUG", help="challenge slug")
    add.add_argument("--member", metavar="EMAIL",
                     help="the person the token is issued to; added to the team if it exists")
    add.set_defaults(handler=_team_add)


def _register_organiser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("organiser", help="manage organisers")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add", help="make EMAIL an organiser (creating the user) and print a new API token",
        description="Creates the user, or promotes an existing one, and issues a personal API "
        "token, printed as the last word of the last line.")
    add.add_argument("email", metavar="EMAIL", help="the organiser's email (their sign-in)")
    add.add_argument("--name", help="display name (default: the part of EMAIL before @)")
    add.add_argument("--password", metavar="P",
                     help="sign-in password for the browser; '-' reads it from standard input")
    add.set_defaults(handler=_organiser_add)


def _challenge_load(args: argparse.Namespace) -> int:
    ensure_schema()
    try:
        result = install_bundle(args.dir)
    except BundleError as exc:
        print(f"error: the bundle in {args.dir} has {len(exc.problems)} problem(s):",
              file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INVALID
    challenge = result.challenge
    verb = "created" if result.created else "updated"
    print(f"challenge {challenge.slug} {verb}: {len(challenge.phases)} phase(s)")
    for phase in challenge.phases:
        counts = ", ".join(f"{d.role} {d.image_count}" for d in phase.datasets)
        print(f"  {phase.slug} ({phase.kind}, leaderboard {phase.leaderboard}): {counts}")
    if result.replaced:
        print(f"image sets copied: {', '.join(result.replaced)}")
    if result.removed_phases:
        print(f"phases removed: {', '.join(result.removed_phases)}")
    return 0


def _team_add(args: argparse.Namespace) -> int:
    try:
        with database() as session:
            try:
                challenge = find_challenge(session, args.challenge)
            except ApiError:
                return error(f"no challenge with slug {args.challenge!r} "
                             f"(load one with `raim challenge load DIR`)")
            existing = accounts.find_team(session, challenge, args.name)
            if existing is not None and not args.member:
                return error(f"team {existing.name!r} already exists in challenge "
                             f"{challenge.slug}; add a person to it with --member EMAIL")
            member = None
            if args.member:
                member = accounts.find_user(session, args.member) or \
                    accounts.create_user(session, args.member)
            if existing is not None and member is not None:
                invitations.admit(session, existing, member, via="raim team add")
                team, holder = existing, member.email
                _, token = accounts.create_token(session, member, name=f"team {team.name}")
                done = f"{holder} added to team {team.name!r} of {challenge.slug}"
            else:
                team, token = accounts.create_team(session, challenge, args.name, member)
                holder = member.email if member else team.members[0].user.email
                audit.record(session, "team.add", f"team:{challenge.slug}/{team.name}",
                             {"token_holder": holder})
                done = f"team {team.name!r} created in {challenge.slug}"
    except accounts.AccountError as exc:
        return error(str(exc))
    print(f"{done}; API token for {holder} (shown once):")
    print(f"token: {token}")
    return 0


def _organiser_add(args: argparse.Namespace) -> int:
    password = args.password
    if password == "-":
        password = sys.stdin.readline().rstrip("\n")
    try:
        with database() as session:
            user, created = accounts.ensure_organiser(session, args.email, name=args.name,
                                                      password=password)
            _, token = accounts.create_token(session, user, name="organiser (cli)")
            audit.record(session, "organiser.add", f"user:{user.email}", {"created": created})
    except accounts.AccountError as exc:
        return error(str(exc))
    verb = "created" if created else "promoted"
    print(f"organiser {user.email} {verb}; API token (shown once):")
    print(f"token: {token}")
    return 0
