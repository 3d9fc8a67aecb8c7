"""``raim db upgrade`` and ``raim db status``."""

from app import db
from app.cli import main


def test_db_upgrade_brings_empty_database_to_head(db_url, capsys):
    assert db.current_revision() is None
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert f"is at revision {db.head_revision()}" in out
    assert db.current_revision() == db.head_revision()


def test_db_status_reports_pending_then_up_to_date(db_url, capsys):
    assert main(["db", "status"]) == 1
    assert "needs `raim db upgrade`" in capsys.readouterr().out
    main(["db", "upgrade"])
    capsys.readouterr()
    assert main(["db", "status"]) == 0
    assert "up to date" in capsys.readouterr().out



def test_db_rebuild_leaderboards_counts_phases_and_lines(db_url, capsys):
    assert main(["db", "rebuild-leaderboards"]) == 0
    assert "rebuilt the leaderboards of 0 phase(s): 0 team line(s) in all" in capsys.readouterr().out
