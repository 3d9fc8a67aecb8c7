"""The submit page's refusals in real headless Chromium: a zip over the size limit is stopped
before it is sent; a 413 or a 429 from the server is shown as what it is, with the server's
message; after any answer the same file is not sent again until it is chosen again."""

import pytest

from app.accounts import create_team, create_user
from app.db import session_scope
from app.lookups import find_phase
from tests.utils.arena import zip_folder
from tests.utils.pages import scored_submission

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LIMIT = 60_000  # bytes: under the three-image zip (about 100 KiB), over a one-image one


@pytest.fixture
def serve_env() -> dict[str, str]:
    return {"RAIM_MAX_UPLOAD_BYTES": str(LIMIT)}


def test_browser_upload_refusals_say_what_they_are(server, page, photos, tmp_path):
    big = zip_folder(photos.pred, tmp_path / "results.zip")
    small = zip_folder(photos.pred, tmp_path / "one.zip", skip=("002.png", "003.png"))
    assert big.stat().st_size > LIMIT > small.stat().st_size
    with session_scope(immediate=True) as session:
        kay = create_user(session, "kay@example.org", name="Kay", password="refusals-password")
        team, _ = create_team(session, find_phase(session, "raim-e2e", "validation").challenge,
                              "Keys", kay)
        team_id = team.id
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url)
            if request.method == "POST" and request.url.endswith("/submit") else None)
    page.goto(server.url + "/sign-in?next=/challenges/raim-e2e/phases/validation/submit")
    page.fill("#email", "kay@example.org")
    page.fill("#password", "refusals-password")
    page.click("button:has-text('Sign in')")
    assert page.inner_text("#max-size") == "58.6 KiB"

    page.set_input_files("#file", str(big))  # checked here, never sent
    assert "over the limit of 58.6 KiB per upload: it was not sent" in page.inner_text("#result")
    assert page.is_disabled("#send") and sent == []

    # A proxy (or an older page) with a higher limit: the server still cuts it off with a 413.
    page.evaluate("() => { document.getElementById('uploader').dataset.maxBytes = '1000000000'; }")
    page.set_input_files("#file", str(big))
    page.click("#send")
    page.wait_for_selector("#result.error")
    refusal = page.inner_text("#result")
    assert refusal.startswith("Too large (HTTP 413): the upload") and "60,000 bytes" in refusal
    assert "Checking every image" not in page.inner_text("#uploader")  # no step is blamed
    assert page.is_disabled("#send") and len(sent) == 1  # the file must be chosen again

    with session_scope(immediate=True) as session:  # the day's one submission is used meanwhile
        find_phase(session, "raim-e2e", "validation").max_submissions_per_day = 1
    scored_submission(find_phase_id(), team_id, {"001": 20.0}, minutes_ago=0)
    page.set_input_files("#file", str(small))
    page.click("#send")
    page.wait_for_selector("#result.error")
    refusal = page.inner_text("#result")
    assert refusal.startswith("Submission limit reached (HTTP 429): team 'Keys' has used its 1 "
                              "submissions of today"), refusal
    page.wait_for_function("() => document.getElementById('file').disabled")
    assert page.inner_text("#chosen").startswith("Your team has used its quota: 0 submissions left")
    assert page.inner_text("#quota").startswith("0 submissions left today")
    assert page.is_disabled("#send") and len(sent) == 2


def find_phase_id() -> int:
    with session_scope(immediate=True) as session:
        return find_phase(session, "raim-e2e", "validation").id
