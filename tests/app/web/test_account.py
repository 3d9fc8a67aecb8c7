"""Sign-up, sign-in, sign-out and the account page: sessions, cookies, tokens, redirects."""

from sqlalchemy import select

from app.db import session_scope
from app.models import ApiToken, User
from tests.utils.pages import HTML, PASSWORD, make_user, post_form, sign_in


def test_sign_up_creates_the_user_signs_in_and_returns(client):
    response = post_form(client, "/sign-up", {"name": "Ada", "email": "Ada@Example.org",
                                             "password": PASSWORD, "next": "/account"})
    assert response.status_code == 303 and response.headers["location"] == "/account"
    cookie = response.headers["set-cookie"].lower()
    assert "raim_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    page = client.get("/account", headers=HTML)
    assert page.status_code == 200 and "ada@example.org" in page.text
    with session_scope() as session:
        user = session.scalar(select(User).where(User.email == "ada@example.org"))
        assert user is not None and user.password_hash.startswith("$argon2")


def test_session_cookie_is_secure_when_configured(client, monkeypatch):
    from fastapi.testclient import TestClient

    from app.config import get_settings
    from app.main import create_app

    monkeypatch.setenv("RAIM_COOKIE_SECURE", "true")
    get_settings.cache_clear()
    with TestClient(create_app(background=False), base_url="https://testserver") as secure:
        response = post_form(secure, "/sign-up", {"name": "Ada", "email": "ada@example.org",
                                                 "password": PASSWORD})
    assert "secure" in response.headers["set-cookie"].lower()


def test_sign_up_lists_every_problem_and_keeps_the_form(client):
    response = post_form(client, "/sign-up", {"name": "", "email": "not-an-address",
                                             "password": "short"})
    assert response.status_code == 400 and response.template.name == "sign_up.html"
    errors = " ".join(response.context["errors"])
    assert "Name" in errors and "not an email address" in errors.lower()
    assert 'value="not-an-address"' in response.text


def test_sign_up_with_a_taken_email_says_so(client):
    make_user("ann@example.org")
    response = post_form(client, "/sign-up", {"name": "Ann", "email": "ann@example.org",
                                             "password": PASSWORD})
    assert response.status_code == 400 and "already exists" in response.text


def test_sign_in_with_a_wrong_password_is_refused(client):
    make_user("ann@example.org")
    response = post_form(client, "/sign-in", {"email": "ann@example.org", "password": "wrong-one"})
    assert response.status_code == 400 and "Wrong email or password" in response.text
    assert client.get("/account", headers=HTML, follow_redirects=False).status_code == 303


def test_sign_in_never_redirects_to_another_site(client):
    make_user("ann@example.org")
    response = post_form(client, "/sign-in", {"email": "ann@example.org", "password": PASSWORD,
                                             "next": "//evil.example/x"})
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_sign_in_renews_the_csrf_token(client):
    from tests.utils.pages import csrf_of

    make_user("ann@example.org")
    before = csrf_of(client)
    sign_in(client, "ann@example.org")
    assert csrf_of(client) != before


def test_sign_out_ends_the_session(client):
    make_user("ann@example.org")
    sign_in(client, "ann@example.org")
    response = post_form(client, "/sign-out")
    assert response.status_code == 303
    assert client.get("/account", headers=HTML, follow_redirects=False).status_code == 303


def test_sign_out_without_csrf_is_refused(client):
    make_user("ann@example.org")
    sign_in(client, "ann@example.org")
    assert client.post("/sign-out", headers=HTML).status_code == 403
    assert client.get("/account", headers=HTML).status_code == 200


def test_account_page_needs_sign_in(client):
    response = client.get("/account", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sign-in?next=/account"


def test_create_token_shows_it_once_with_a_curl_example_and_it_works(client):
    make_user("ann@example.org")
    sign_in(client, "ann@example.org")
    response = post_form(client, "/account/tokens", {"name": "laptop"})
    assert response.status_code == 200
    token = response.context["new_token"]["value"]
    assert token.startswith("raim_")
    assert f'Authorization: Bearer {token}' in response.text and "/score" in response.text
    assert token not in client.get("/account", headers=HTML).text
    api = client.get("/api/submissions/999", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 404  # authenticated: the submission simply does not exist


def test_revoke_token_stops_it_working(client):
    make_user("ann@example.org")
    sign_in(client, "ann@example.org")
    token = post_form(client, "/account/tokens", {"name": "laptop"}).context["new_token"]["value"]
    with session_scope() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "laptop"))
    assert post_form(client, f"/account/tokens/{token_id}/revoke").status_code == 303
    api = client.get("/api/submissions/999", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


def test_revoke_someone_elses_token_is_not_found(client):
    make_user("ann@example.org")
    other = make_user("bob@example.org")
    with session_scope() as session:
        from app.accounts import create_token

        row, _ = create_token(session, session.get_one(User, other), name="bobs")
        token_id = row.id
    sign_in(client, "ann@example.org")
    assert post_form(client, f"/account/tokens/{token_id}/revoke").status_code == 404
    with session_scope() as session:
        assert session.get_one(ApiToken, token_id).revoked_at is None


def test_account_page_offers_a_password_change_that_checks_the_repeat(client):
    make_user("ann@example.org")
    sign_in(client, "ann@example.org")
    page = client.get("/account", headers=HTML)
    assert 'action="/account/password"' in page.text and 'autocomplete="new-password"' in page.text
    refused = post_form(client, "/account/password", {"current": PASSWORD, "new": "new secret 1",
                                                      "repeat": "new secret 2"})
    assert refused.status_code == 400 and "The two new passwords differ" in refused.text
    too_short = post_form(client, "/account/password", {"current": PASSWORD, "new": "short",
                                                        "repeat": "short"})
    assert too_short.status_code == 400 and "at least 8 characters" in too_short.text


def test_signing_in_again_revokes_the_browsers_previous_session(client):
    from app.models import BrowserSession

    make_user("ann@example.org")
    make_user("bob@example.org")
    sign_in(client, "ann@example.org")
    first = client.cookies.get("raim_session")
    sign_in(client, "bob@example.org")
    with session_scope() as session:
        live = session.scalars(select(BrowserSession)
                               .where(BrowserSession.revoked_at.is_(None))).all()
    assert len(live) == 1 and client.cookies.get("raim_session") != first


def test_account_curl_commands_use_the_address_the_browser_used(settings):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(background=False), base_url="http://arena.example:8123") as other:
        make_user("ann@example.org")
        sign_in(other, "ann@example.org")
        page = other.get("/account", headers=HTML).text
    assert '"http://arena.example:8123/score?wait=600"' in page
    assert "127.0.0.1:8000" not in page
