"""Team pages (app.web.teams) through the real app: invite, withdraw, join."""

import re

from sqlalchemy import select

from app.db import session_scope
from app.models import TeamInvitation
from tests.utils.pages import HTML, make_user, post_form, sign_in

LINK = re.compile(r'<code id="invitation-link">([^<]+)</code>')


def invitation_link(client, slug="raim-test") -> str:
    """Make an invitation on the challenge page, as a member clicks the button."""
    page = post_form(client, f"/challenges/{slug}/invitations")
    assert page.status_code == 200, page.text[:300]
    match = LINK.search(page.text)
    assert match, "the new link is shown on the page that answers"
    return match.group(1)


def test_a_member_makes_a_link_shown_once_from_the_request_s_own_address(client, arena):
    make_user("ann@example.org", name="Ann", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    link = invitation_link(client)
    assert re.fullmatch(r"http://testserver/join/raim_[\w-]+", link)
    again = client.get("/challenges/raim-test", headers=HTML).text
    assert link not in again and 'id="invitations"' in again  # listed by prefix only
    assert link[len("http://testserver/join/"):][:9] + "…" in again


def test_a_second_member_joins_through_the_link(client, arena):
    make_user("ann@example.org", name="Ann", team="alpha", challenge=arena.challenge)
    make_user("bob@example.org", name="Bob")
    sign_in(client, "ann@example.org")
    path = invitation_link(client).removeprefix("http://testserver")
    client.cookies.clear()

    anonymous = client.get(path, headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/sign-in?next=/join/raim_")

    sign_in(client, "bob@example.org")
    offer = client.get(path, headers=HTML)
    assert offer.status_code == 200 and "Join team alpha" in offer.text
    assert "RAIM test" in offer.text and "Ann" in offer.text
    joined = post_form(client, path)
    assert joined.status_code == 303 and joined.headers["location"] == "/challenges/raim-test#team"
    page = client.get("/challenges/raim-test", headers=HTML).text
    assert "You joined team “alpha”" in page
    members = re.search(r'<ul class="members" id="members">(.*?)</ul>', page, re.S).group(1)
    assert "Ann" in members and "Bob" in members and "(you)" in members
    assert 'href="/challenges/raim-test/phases/validation/submit"' in page  # Bob may submit

    used = client.get(path, headers=HTML)
    assert "already a member of team" in used.text  # the page says why there is no button
    assert 'action="/join/' not in used.text


def test_the_challenge_page_s_box_takes_a_pasted_link(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    make_user("bob@example.org")
    sign_in(client, "ann@example.org")
    link = invitation_link(client)
    sign_in(client, "bob@example.org")
    page = client.get("/challenges/raim-test", headers=HTML).text
    assert 'action="/join"' in page and 'id="invitation-code"' in page
    answer = client.get("/join", params={"code": f" {link} "}, headers=HTML,
                        follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == link.removeprefix(
        "http://testserver")
    wrong = client.get("/join", params={"code": "no code here"}, headers=HTML)
    assert wrong.status_code == 400 and "Paste the invitation link" in wrong.text


def test_joining_a_second_team_of_the_challenge_is_refused_with_the_reason(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    make_user("bob@example.org", team="beta", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    path = invitation_link(client).removeprefix("http://testserver")
    sign_in(client, "bob@example.org")
    offer = client.get(path, headers=HTML)
    assert offer.status_code == 200 and 'id="join-problem"' in offer.text
    assert "already in team &#39;beta&#39;" in offer.text
    refused = post_form(client, path)
    assert refused.status_code == 409 and "You could not join the team" in refused.text
    with session_scope() as session:
        assert session.scalars(select(TeamInvitation.used_at)).one() is None


def test_a_withdrawn_link_no_longer_works(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    make_user("bob@example.org")
    sign_in(client, "ann@example.org")
    path = invitation_link(client).removeprefix("http://testserver")
    with session_scope() as session:
        invitation_id = session.scalars(select(TeamInvitation.id)).one()
    assert post_form(client, "/challenges/raim-test/invitations/999/revoke").status_code == 404
    withdrawn = post_form(client, f"/challenges/raim-test/invitations/{invitation_id}/revoke")
    assert withdrawn.status_code == 303
    assert "withdrawn: its link no longer works" in client.get("/challenges/raim-test",
                                                               headers=HTML).text
    sign_in(client, "bob@example.org")
    assert "withdrawn by the team" in client.get(path, headers=HTML).text
    assert post_form(client, path).status_code == 409
    other = post_form(client, f"/challenges/raim-test/invitations/{invitation_id}/revoke")
    assert other.status_code == 403  # Bob is in no team


def test_an_unknown_code_is_a_404_page(client, arena):
    make_user("bob@example.org")
    sign_in(client, "bob@example.org")
    page = client.get("/join/raim_" + "x" * 40, headers=HTML)
    assert page.status_code == 404 and "no invitation has this code" in page.text.lower()


def test_only_members_make_invitations(client, arena):
    make_user("bob@example.org")
    sign_in(client, "bob@example.org")
    refused = post_form(client, "/challenges/raim-test/invitations")
    assert refused.status_code == 403 and "You are in no team of RAIM test" in refused.text
