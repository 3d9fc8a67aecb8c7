"""The demo challenge: loads from real photographs, and its token and example zip are accepted."""

from sqlalchemy import select

from app.accounts import user_for_token
from app.config import get_settings
from app.db import session_scope
from app.demo import install_demo
from app.intake.accept import accept
from app.models import Challenge
from tests.utils.arena import as_upload, zip_folder


def test_install_demo_creates_an_open_challenge_whose_example_is_accepted(migrated, tmp_path):
    demo = install_demo(get_settings())
    with session_scope() as session:
        challenge = session.scalars(select(Challenge).where(Challenge.slug == demo.challenge)).one()
        assert [p.slug for p in challenge.phases] == [demo.phase]
        user_id = user_for_token(session, demo.token).id
    upload = as_upload(zip_folder(demo.example_predictions, tmp_path / "example.zip"))
    accepted = accept(user_id, upload, None, get_settings())
    assert (accepted.challenge, accepted.phase) == (demo.challenge, demo.phase)


def test_install_demo_twice_keeps_one_challenge_and_gives_a_new_token(migrated):
    first, second = install_demo(get_settings()), install_demo(get_settings())
    assert first.token != second.token
    with session_scope() as session:
        assert user_for_token(session, first.token).id == user_for_token(session, second.token).id
        assert len(session.scalars(select(Challenge)).all()) == 1
