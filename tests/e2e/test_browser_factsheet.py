"""The submit page of a phase that asks for a factsheet, in real headless Chromium: the form is
shown, a missing required field stops the upload before anything is sent, and a filled form
arrives with the zip and is stored with the submission."""

import pytest
from sqlalchemy import select

from app.accounts import create_team, create_user
from app.db import session_scope
from app.lookups import find_phase
from app.models import Submission
from tests.utils.arena import zip_folder
from tests.utils.bundles import DEFAULT_YAML

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FACTSHEET = """    factsheet:
      source: form
      fields:
        - {name: method, label: Method, required: true, help: "one line: the idea"}
        - {name: runtime_per_image_s, label: Runtime per image (s), type: number, required: true}
        - {name: extra_data, label: Extra training data, type: boolean, required: true}
        - {name: hardware}
"""


@pytest.fixture
def bundle_yaml() -> str:
    return DEFAULT_YAML.replace("    rank_by: best\n", "    rank_by: best\n" + FACTSHEET, 1)


def test_browser_factsheet_form_is_required_then_sent_with_the_zip(server, page, photos,
                                                                    tmp_path):
    results = zip_folder(photos.pred, tmp_path / "results.zip")
    with session_scope(immediate=True) as session:
        fay = create_user(session, "fay@example.org", name="Fay", password="factsheet-password")
        create_team(session, find_phase(session, "raim-e2e", "validation").challenge,
                    "Forms", fay)
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.post_data or "")
            if request.method == "POST" and request.url.endswith("/submit") else None)
    page.goto(server.url + "/sign-in?next=/challenges/raim-e2e/phases/validation/submit")
    page.fill("#email", "fay@example.org")
    page.fill("#password", "factsheet-password")
    page.click("button:has-text('Sign in')")
    assert "Runtime per image (s)" in page.inner_text("#factsheet")
    assert "one line: the idea" in page.inner_text("#factsheet")

    page.set_input_files("#file", str(results))
    page.fill("#factsheet-method", "Test-time ensembling")
    page.click("#send")  # two required fields are empty: the browser asks for them
    page.wait_for_timeout(300)
    assert sent == []
    assert page.evaluate("() => document.activeElement.id") == "factsheet-runtime_per_image_s"

    page.fill("#factsheet-runtime_per_image_s", "0.75")
    page.select_option("#factsheet-extra_data", "no")
    page.click("#send")
    page.wait_for_selector("#steps li.done[data-step='check']")  # answered: 202
    assert len(sent) == 1
    with session_scope(immediate=True) as session:
        stored = session.scalars(select(Submission)).one().factsheet
    assert stored == {"method": "Test-time ensembling", "runtime_per_image_s": 0.75,
                      "extra_data": False}
