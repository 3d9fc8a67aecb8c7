"""Accounts: users, sign-in, API tokens, teams and their members (no HTTP, no CLI here)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import browser_sessions, last_use, security
from app.judging.conflicts import team_refusal
from app.last_use import Credential
from app.models import ApiToken, Challenge, Team, TeamMember, User, utcnow

TEAM_EMAIL_DOMAIN = "teams.local"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """An account operation refused, with a message fit for the person who asked."""


class WrongPassword(AccountError):
    """The current password given to confirm a change is wrong (callers count it as a failure)."""


def normalise_email(email: str) -> str:
    """Trimmed and lower-cased; raises AccountError when it is not an address."""
    value = email.strip().lower()
    if not _EMAIL.match(value):
        raise AccountError(f"not an email address: {email!r}")
    return value


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(session: Session, email: str, *, name: str | None = None,
                password: str | None = None, is_organiser: bool = False) -> User:
    """A new user; AccountError when the address is taken or the password too weak."""
    address = normalise_email(email)
    if find_user(session, address) is not None:
        raise AccountError(f"a user with email {address} already exists")
    try:
        password_hash = security.hash_password(password) if password is not None else None
    except security.WeakPassword as exc:
        raise AccountError(str(exc)) from exc
    user = User(email=address, name=(name or address.split("@")[0]).strip(),
                password_hash=password_hash, is_organiser=is_organiser)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    try:
        user.password_hash = security.hash_password(password)
    except security.WeakPassword as exc:
        raise AccountError(str(exc)) from exc


def change_password(session: Session, user: User, current: str, new: str, *,
                    keep_session: str | None = None) -> int:
    """Set a new password after checking the current one, and end the user's other browser
    sessions (all but ``keep_session``); returns how many were ended. AccountError if refused.
    """
    if not security.verify_password(user.password_hash, current):
        raise WrongPassword("the current password is wrong")
    if new == current:
        raise AccountError("the new password is the same as the current one")
    set_password(user, new)
    return browser_sessions.revoke_others(session, user.id, keep=keep_session)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user these credentials sign in, or None (unknown address or wrong password).

    Exactly one password verification either way: an unknown or malformed address is checked
    against a dummy hash, so the answer's time does not tell whether the account exists.
    """
    try:
        user = find_user(session, email)
    except AccountError:
        user = None
    password_hash = user.password_hash if user is not None else None
    if not security.verify_password(password_hash, password) or user is None:
        return None
    if user.password_hash and security.password_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    return user


def create_token(session: Session, user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new API token for ``user``: the row (hash only) and the token itself, shown once."""
    token = security.new_token()
    row = ApiToken(user_id=user.id, token_hash=security.hash_token(token),
                   prefix=security.token_display_prefix(token), name=name)
    session.add(row)
    session.flush()
    return row, token


def find_token(session: Session, token: str, *, now: datetime | None = None) -> Credential | None:
    """The owner of a valid, unrevoked token, else None. Reads only; ``stale`` says whether
    its last use is due to be recorded (``record_token_use``, at most once a minute)."""
    if not security.looks_like_token(token):
        return None
    found = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(
        ApiToken.token_hash == security.hash_token(token),
        ApiToken.revoked_at.is_(None))).one_or_none()
    if found is None:
        return None
    row, user = found
    return Credential(user=user, row_id=row.id,
                      stale=last_use.is_stale(row.last_used_at, now or utcnow()))


def record_token_use(session: Session, row_id: int, *, now: datetime | None = None) -> None:
    """Write the token's last_used_at (callers do it only when ``Credential.stale``)."""
    last_use.record(session, ApiToken.last_used_at, row_id, now=now)


def user_for_token(session: Session, token: str) -> User | None:
    """The owner of a valid, unrevoked token, else None; its use is recorded in this session
    when due (callers that must not write look it up with ``find_token``)."""
    found = find_token(session, token)
    if found is None:
        return None
    if found.stale:
        record_token_use(session, found.row_id)
    return found.user


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The user's API tokens: active ones first, newest first."""
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(row: ApiToken) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def find_team(session: Session, challenge: Challenge, name: str) -> Team | None:
    return session.scalar(select(Team).where(Team.challenge_id == challenge.id,
                                             Team.name == name.strip()))


def team_of(session: Session, user: User, challenge: Challenge) -> Team | None:
    """The team ``user`` belongs to in ``challenge``, if any."""
    return session.scalar(
        select(Team).join(TeamMember).where(Team.challenge_id == challenge.id,
                                            TeamMember.user_id == user.id))


def teams_of(session: Session, user: User) -> list[Team]:
    """Every team ``user`` belongs to (one per challenge at most), oldest first."""
    return list(session.scalars(select(Team).join(TeamMember).where(TeamMember.user_id == user.id)
                                .order_by(Team.created_at, Team.id)))


def team_ids(session: Session, user: User | None) -> set[int]:
    """The ids of the teams ``user`` belongs to; none for an anonymous viewer."""
    return set() if user is None else {team.id for team in teams_of(session, user)}


def add_member(session: Session, team: Team, user: User) -> TeamMember:
    """Put ``user`` in ``team``; one team per user per challenge, and never a judge of it
    (app.judging.conflicts)."""
    refusal = team_refusal(session, user, team.challenge)
    if refusal is not None:
        raise AccountError(refusal)
    current = team_of(session, user, team.challenge)
    if current is not None:
        raise AccountError(f"{user.email} is already in team {current.name!r} "
                           f"of challenge {team.challenge.slug}")
    member = TeamMember(team_id=team.id, user_id=user.id)
    session.add(member)
    session.flush()
    return member


def create_team(session: Session, challenge: Challenge, name: str,
                member: User | None = None) -> tuple[Team, str]:
    """A new team and an API token that submits for it.

    The token belongs to ``member`` when given; otherwise to a password-less service
    user created for the team (``team-<challenge>-<name>@teams.local``).
    """
    clean = name.strip()
    if not clean:
        raise AccountError("team name must not be empty")
    if find_team(session, challenge, clean) is not None:
        raise AccountError(f"team {clean!r} already exists in challenge {challenge.slug}")
    refusal = team_refusal(session, member, challenge) if member is not None else None
    if refusal is not None:  # before the team exists: nothing is half-made
        raise AccountError(refusal)
    team = Team(challenge_id=challenge.id, name=clean)
    team.challenge = challenge
    session.add(team)
    session.flush()
    holder = member or _service_user(session, challenge, team)
    add_member(session, team, holder)
    _, token = create_token(session, holder, name=f"team {clean}")
    return team, token


def _service_user(session: Session, challenge: Challenge, team: Team) -> User:
    slug = re.sub(r"[^a-z0-9]+", "-", team.name.lower()).strip("-") or "team"
    email = f"team-{challenge.slug}-{slug}@{TEAM_EMAIL_DOMAIN}"
    if find_user(session, email) is not None:
        email = f"team-{challenge.slug}-{slug}-{team.id}@{TEAM_EMAIL_DOMAIN}"
    return create_user(session, email, name=team.name)


def ensure_organiser(session: Session, email: str, *, name: str | None = None,
                     password: str | None = None) -> tuple[User, bool]:
    """Make ``email`` an organiser, creating the user if needed; returns (user, created)."""
    user = find_user(session, email)
    if user is None:
        return create_user(session, email, name=name, password=password, is_organiser=True), True
    user.is_organiser = True
    if name:
        user.name = name
    if password is not None:  # a reset: whoever holds a browser session must sign in again
        set_password(user, password)
        browser_sessions.revoke_others(session, user.id)
    return user, False
