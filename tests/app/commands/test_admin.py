"""``raim challenge load``, ``raim team add`` and ``raim organiser add`` as operators run them."""

import io

from sqlalchemy import select

from app import accounts
from app.cli import main
from app.db import session_scope
from app.models import AuditLog, Challenge, Team
from tests.utils.bundles import write_bundle


def _last_word(text):
    return text.strip().splitlines()[-1].split()[-1]


def _load(tmp_path, sample_set, capsys):
    assert main(["challenge", "load", str(write_bundle(tmp_path / "b", sample_set))]) == 0
    return capsys.readouterr()


def test_challenge_load_prints_phases_and_counts(db_url, tmp_path, sample_set, capsys):
    out = _load(tmp_path, sample_set, capsys).out
    assert "challenge raim-test created: 2 phase(s)" in out
    assert "validation (paired, leaderboard public): inputs 3, ground_truth 3" in out
    assert "final (unpaired, leaderboard public): inputs 3" in out


def test_challenge_load_twice_reports_update(db_url, tmp_path, sample_set, capsys):
    root = write_bundle(tmp_path / "b", sample_set)
    main(["challenge", "load", str(root)])
    capsys.readouterr()
    assert main(["challenge", "load", str(root)]) == 0
    out = capsys.readouterr().out
    assert "challenge raim-test updated" in out and "image sets copied" not in out


def test_challenge_load_bad_bundle_lists_problems_and_exits_2(db_url, tmp_path, sample_set,
                                                              capsys):
    root = write_bundle(tmp_path / "b", sample_set)
    (root / "validation" / "gt" / "002.png").unlink()
    assert main(["challenge", "load", str(root)]) == 2
    err = capsys.readouterr().err
    assert "has 1 problem(s)" in err
    assert "validation/lq/002.png: no ground-truth image named 002.*" in err
    with session_scope() as s:
        assert s.scalars(select(Challenge)).all() == []


def test_team_add_prints_working_token_last(db_url, tmp_path, sample_set, capsys):
    _load(tmp_path, sample_set, capsys)
    assert main(["team", "add", "Team Alpha", "--challenge", "raim-test"]) == 0
    token = _last_word(capsys.readouterr().out)
    with session_scope() as s:
        user = accounts.user_for_token(s, token)
        team = accounts.team_of(s, user, s.scalar(select(Challenge)))
        assert team.name == "Team Alpha"
        assert s.scalar(select(AuditLog).where(AuditLog.action == "team.add")) is not None


def test_team_add_with_member_gives_member_token(db_url, tmp_path, sample_set, capsys):
    _load(tmp_path, sample_set, capsys)
    assert main(["team", "add", "Beta", "--challenge", "raim-test",
                 "--member", "Ann@Example.org"]) == 0
    token = _last_word(capsys.readouterr().out)
    with session_scope() as s:
        assert accounts.user_for_token(s, token).email == "ann@example.org"


def test_team_add_member_to_an_existing_team_gives_a_token_for_that_team(db_url, tmp_path,
                                                                        sample_set, capsys):
    _load(tmp_path, sample_set, capsys)
    assert main(["team", "add", "Beta", "--challenge", "raim-test", "--member", "ann@example.org"]) == 0
    capsys.readouterr()
    assert main(["team", "add", "Beta", "--challenge", "raim-test", "--member", "bob@example.org"]) == 0
    out = capsys.readouterr().out
    assert "bob@example.org added to team 'Beta' of raim-test; API token for bob@example.org" in out
    token = _last_word(out)
    with session_scope() as s:
        bob = accounts.user_for_token(s, token)
        team = accounts.team_of(s, bob, s.scalar(select(Challenge)))
        assert team.name == "Beta"
        assert sorted(m.user.email for m in team.members) == ["ann@example.org", "bob@example.org"]
        joined = s.scalar(select(AuditLog).where(AuditLog.action == "team.join"))
        assert joined.details == {"user": "bob@example.org", "via": "raim team add"}


def test_team_add_member_keeps_one_team_per_person_per_challenge(db_url, tmp_path, sample_set,
                                                                 capsys):
    _load(tmp_path, sample_set, capsys)
    assert main(["team", "add", "Beta", "--challenge", "raim-test", "--member", "ann@example.org"]) == 0
    assert main(["team", "add", "Gamma", "--challenge", "raim-test"]) == 0
    capsys.readouterr()
    assert main(["team", "add", "Gamma", "--challenge", "raim-test", "--member", "ann@example.org"]) == 2
    assert "already in team 'Beta' of challenge raim-test" in capsys.readouterr().err
    assert main(["team", "add", "Beta", "--challenge", "raim-test", "--member", "ann@example.org"]) == 2
    assert "already a member of team 'Beta'" in capsys.readouterr().err


def test_team_add_refuses_unknown_challenge_and_duplicates(db_url, tmp_path, sample_set, capsys):
    assert main(["team", "add", "X", "--challenge", "nope"]) == 2
    assert "no challenge with slug 'nope'" in capsys.readouterr().err
    _load(tmp_path, sample_set, capsys)
    assert main(["team", "add", "X", "--challenge", "raim-test"]) == 0
    assert main(["team", "add", "X", "--challenge", "raim-test"]) == 2
    assert "team 'X' already exists in challenge raim-test; add a person to it with --member EMAIL" \
        in capsys.readouterr().err
    with session_scope() as s:
        assert len(s.scalars(select(Team)).all()) == 1


def test_organiser_add_creates_signable_organiser(db_url, capsys):
    assert main(["organiser", "add", "boss@example.org", "--name", "Boss",
                 "--password", "boss password"]) == 0
    token = _last_word(capsys.readouterr().out)
    with session_scope() as s:
        user = accounts.user_for_token(s, token)
        assert user.is_organiser and user.name == "Boss"
        assert accounts.authenticate(s, "boss@example.org", "boss password").id == user.id


def test_organiser_add_reads_password_from_stdin(db_url, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin pw\n"))
    assert main(["organiser", "add", "ops@example.org", "--password", "-"]) == 0
    capsys.readouterr()
    with session_scope() as s:
        assert accounts.authenticate(s, "ops@example.org", "from stdin pw") is not None


def test_organiser_add_existing_user_promoted_with_new_token(db_url, capsys):
    assert main(["organiser", "add", "a@example.org"]) == 0
    first = _last_word(capsys.readouterr().out)
    assert main(["organiser", "add", "a@example.org"]) == 0
    out = capsys.readouterr().out
    assert "promoted" in out and _last_word(out) != first


def test_organiser_add_refuses_weak_password(db_url, capsys):
    assert main(["organiser", "add", "b@example.org", "--password", "short"]) == 2
    assert "at least 8" in capsys.readouterr().err
