"""The judging revision upgrades and downgrades cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from app import db

JUDGING_TABLES = {"judges", "qualifications", "campaigns", "campaign_entries", "judge_trials",
                  "judge_candidates", "judge_ratings"}


def test_judging_revision_round_trip(db_url: str) -> None:
    db.upgrade(db_url)
    assert JUDGING_TABLES <= set(inspect(db.get_engine(db_url)).get_table_names())
    db.downgrade(db_url, "0002")
    assert not JUDGING_TABLES & set(inspect(db.get_engine(db_url)).get_table_names())
    db.upgrade(db_url)
    assert JUDGING_TABLES <= set(inspect(db.get_engine(db_url)).get_table_names())


def test_one_migration_head() -> None:
    from alembic.script import ScriptDirectory

    assert len(ScriptDirectory.from_config(db.alembic_config()).get_heads()) == 1


def test_protocols_revision_round_trip(db_url: str) -> None:
    """0013 adds the campaign's protocol and options, picks and pairs; down to 0012 removes
    them, and back up again."""
    db.upgrade(db_url)
    tables = {"judge_picks", "judge_pairs"}

    def campaign_columns() -> set[str]:
        return {c["name"] for c in inspect(db.get_engine(db_url)).get_columns("campaigns")}

    assert tables <= set(inspect(db.get_engine(db_url)).get_table_names())
    assert {"protocol", "protocol_options"} <= campaign_columns()
    db.downgrade(db_url, "0012")
    assert not tables & set(inspect(db.get_engine(db_url)).get_table_names())
    assert not {"protocol", "protocol_options"} & campaign_columns()
    db.upgrade(db_url)
    assert tables <= set(inspect(db.get_engine(db_url)).get_table_names())
