"""Completion in the discussion page, in the LMS frame (the set-up of test_discussion.py): the
instructor's rule form and learners' table, a learner's "Your progress", and where completions
stand with their delivery targets.

Delivery targets are real connectors: ``ags`` (the sandbox's token endpoint cannot fetch the
tool's key set over this set-up's self-signed HTTPS, so the attempt is retried later: a failure
the instructor must be able to see) and ``fake`` answering HTTP 503 (retried).
Deliveries are attempted by calling the worker's task directly, as no worker runs here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bridge.delivery.models import OutboxItem, OutboxStatus
from tests.browser.helpers import BrowserRun, CrossSite
from tests.browser.test_discussion import (
    POLL_MS,
    ToolApi,
    focused,
    open_discussion,
    open_thread,
    run_axe,
    shoot_frame,
    unique,
)
from tests.browser.test_discussion_mentions import OVERFLOW_JS, fit_frame

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail) with the reason before any test body runs
    expect = None

pytestmark = pytest.mark.browser

COMPLETIONS = "/api/v1/completions"
THREADS = "Threads to start: {count}"
REACTIONS = "Reactions to receive from peers: {count}"
FAKE_CHANNEL = "discussion-completion-ui"


class CompletionsApi(ToolApi):
    """The completions API with the session token of a page."""

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.client.open(
            COMPLETIONS + path, method=method, headers=self.headers, **kwargs
        )
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json(silent=True)


def add_targets(site: CrossSite) -> None:
    """The sandbox platform's completions go to AGS and to a fake target that answers 503."""
    runner = site.tool_app.test_cli_runner()
    for args in (
        ["ags"],
        ["fake", "--set", f"channel={FAKE_CHANNEL}", "--set", "script=[503]"],
    ):
        name, *settings = args
        result = runner.invoke(
            args=["connector", "set", name, "--issuer", site.sandbox_url, *settings]
        )
        assert result.exit_code == 0, result.output


def attempt_deliveries(site: CrossSite) -> list[str]:
    """One delivery attempt for every pending outbox row (what the worker would do)."""
    app = site.tool_app
    with app.extensions["bridge.runtime"].database.transaction() as session:
        ids = session.scalars(
            select(OutboxItem.id).where(OutboxItem.status == OutboxStatus.PENDING)
        ).all()
    jobs = app.extensions["bridge.jobs"]
    return [jobs.deliver_one(str(outbox_id)) for outbox_id in ids]


def tab_to(run: BrowserRun, target: Any, limit: int = 40, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the keyboard focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if target.evaluate("el => el === document.activeElement"):
            return
        run.page.keyboard.press(key)
    raise AssertionError(f"{target} never got the focus with {key}")


def progress_item(frame: Any, template: str, count: int) -> Any:
    label = template.format(count=count)
    return frame.locator("#d-progress li").filter(has_text=label)


def test_learner_completes_a_rule_set_with_the_keyboard_and_everyone_sees_where_it_went(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun], axe_script: str
):
    ada, lin, sam = chromiums("ada"), chromiums("lin"), chromiums("sam")
    lin.context.clock.install()  # Lin's polling timer is fast-forwarded below, not waited for
    add_targets(cross_site)
    title = unique("My first thread")

    with ada.failure_screenshot("instructor-sets-rule"):
        frame = open_discussion(ada, cross_site, "instructor")
        fit_frame(ada, 320)  # the narrowest frame the page supports (WCAG 1.4.10)
        toggle = frame.get_by_role("button", name="Completion", exact=True)
        toggle.focus()
        ada.page.keyboard.press("Enter")
        expect(frame.locator("#d-completion-title")).to_be_focused()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        panel = frame.locator("#d-completion-panel")
        expect(panel.locator("#d-rule-version")).to_have_text(
            "No completion rule yet: learners see no progress here until you save one."
        )
        expect(panel.locator("#d-learners-status")).to_have_text(
            "Save a completion rule to follow learners' progress here."
        )
        criteria = panel.get_by_role("group", name="Criteria (a learner meets every one chosen)")
        expect(criteria.get_by_role("checkbox")).to_have_count(4)
        threads = criteria.get_by_role("checkbox", name="Threads to start: 1", exact=True)
        tab_to(ada, threads)
        ada.page.keyboard.press("Space")
        expect(threads).to_be_checked()
        ada.page.keyboard.press("Tab")
        expect(focused(frame)).to_have_accessible_name("How many for “Threads to start: 1”")
        count = frame.locator(f"#{focused(frame).get_attribute('id')}")
        expect(count).to_have_attribute("type", "number")
        ada.page.keyboard.press("Control+A")
        ada.page.keyboard.type("3")
        # The label follows the number chosen, for the checkbox and for the number's own name.
        threads = criteria.get_by_role("checkbox", name="Threads to start: 3", exact=True)
        expect(threads).to_be_checked()
        expect(count).to_have_accessible_name("How many for “Threads to start: 3”")
        ada.page.keyboard.press("Control+A")
        ada.page.keyboard.type("1")
        reactions = criteria.get_by_role("checkbox", name=REACTIONS.format(count=1), exact=True)
        tab_to(ada, reactions)
        ada.page.keyboard.press("Space")
        mode = panel.get_by_role("group", name="Score sent to the gradebook")
        complete = mode.get_by_role("radio", name="Complete/incomplete")
        expect(complete).to_be_checked()  # the default
        tab_to(ada, complete)
        ada.page.keyboard.press("ArrowDown")
        progress = mode.get_by_role("radio", name="Progress (fraction of criteria met)")
        expect(progress).to_be_checked()
        expect(progress).to_be_focused()
        save = panel.get_by_role("button", name="Save completion rule")
        tab_to(ada, save)
        ada.page.keyboard.press("Enter")
        saved = "Completion rule saved as version 1. Learners' progress was brought up to date."
        expect(panel.locator("#d-rule-message")).to_have_text(saved)
        expect(frame.locator("#d-announcer")).to_have_text(saved)
        expect(panel.locator("#d-rule-version")).to_have_text("Current rule: version 1.")
        expect(save).to_be_focused()  # a success leaves the focus where it was
        rules = CompletionsApi(cross_site, ada).call("GET", "/rules", 200)
        assert rules["version"] == 1 and rules["score_mode"] == "progress"
        assert [(c["key"], c["count"]) for c in rules["criteria"]] == [
            ("discussion.threads_started", 1),
            ("discussion.reactions_received", 1),
        ]
        expect(panel.locator("#d-learners-status")).to_have_text(
            "No learners have opened this activity yet."
        )
        assert ada.tool_frame().evaluate(OVERFLOW_JS) <= 0
        assert ada.console_errors() == []

    with lin.failure_screenshot("learner-progress"):
        frame_a = open_discussion(lin, cross_site, "learner")
        box = frame_a.get_by_role("region", name="Your progress")
        expect(box).to_be_visible()
        expect(box.locator('[data-slot="summary"]')).to_have_text("0 of 2 criteria met.")
        expect(progress_item(frame_a, THREADS, 1)).to_contain_text("Threads to start: 1 — 0 of 1")
        expect(progress_item(frame_a, REACTIONS, 1)).to_contain_text("— 0 of 1")
        expect(box.locator('[data-slot="done"]:visible')).to_have_count(0)
        expect(box.locator('[data-slot="gradebook"]')).to_be_hidden()  # nothing recorded yet
        frame_a.get_by_role("button", name="New thread").click()
        frame_a.get_by_label("Title").fill(title)
        frame_a.get_by_label("Message").fill("Hello, everyone.")
        frame_a.get_by_role("button", name="Post thread").click()
        frame_a.locator("#d-thread-title").get_by_text(title, exact=True).wait_for()
        # The page refreshes the thread after posting, and the progress with it.
        expect(progress_item(frame_a, THREADS, 1)).to_contain_text("Threads to start: 1 — 1 of 1")
        expect(progress_item(frame_a, THREADS, 1)).to_contain_text("Done")
        expect(progress_item(frame_a, REACTIONS, 1)).to_contain_text("— 0 of 1")
        expect(box.locator('[data-slot="summary"]')).to_have_text("1 of 2 criteria met.")
        expect(frame_a.locator("#d-announcer")).to_have_text(
            "Progress: “Threads to start: 1” is done."
        )
        # Progress mode: 0.5 is recorded and due to go to the gradebook.
        expect(box.locator('[data-slot="gradebook"]')).to_have_text(
            "Waiting to be sent to your LMS gradebook."
        )
        run_axe(lin, axe_script, "thread page with “Your progress”")
        assert lin.console_errors() == []

    with sam.failure_screenshot("peer-reacts"):
        frame_b = open_discussion(sam, cross_site, "learner2")
        expect(progress_item(frame_b, THREADS, 1)).to_contain_text("— 0 of 1")  # his own
        open_thread(frame_b, title)
        like = frame_b.locator(".d-post--opening").get_by_role("button", name="Like")
        like.click()
        expect(like.locator(".d-reaction__count")).to_have_text("1")
        assert sam.console_errors() == []

    with lin.failure_screenshot("learner-completes"):
        lin.page.clock.fast_forward(POLL_MS + 1_000)  # the next poll brings the reaction
        expect(box.locator('[data-slot="summary"]')).to_have_text(
            re.compile(r"^Completed on .+\.$")
        )
        assert box.locator('[data-slot="summary"] time').get_attribute("datetime")
        expect(progress_item(frame_a, REACTIONS, 1)).to_contain_text("— 1 of 1")
        expect(box.locator('[data-slot="done"]:visible')).to_have_count(2)
        expect(frame_a.locator("#d-announcer")).to_have_text("You have completed this activity.")
        expect(box.locator('[data-slot="gradebook"]')).to_have_text(
            "Waiting to be sent to your LMS gradebook."
        )
        # The worker's attempts: the platform cannot get the tool's keys here, the fake is down.
        outcomes = attempt_deliveries(cross_site)
        assert sorted(set(outcomes)) == ["pending"], outcomes
        lin.page.clock.fast_forward(POLL_MS + 1_000)
        expect(box.locator('[data-slot="gradebook"]')).to_have_text(
            "Could not be sent to your LMS gradebook yet; it will be retried."
        )
        run_axe(lin, axe_script, "“Your progress” completed")
        shoot_frame(lin, "learner-progress-complete")

    with ada.failure_screenshot("instructor-sees-learners"):
        refresh = frame.get_by_role("button", name="Refresh", exact=True)
        refresh.focus()
        ada.page.keyboard.press("Enter")
        expect(frame.locator("#d-announcer")).to_have_text("Learners' progress updated.")
        expect(refresh).to_be_focused()
        table = frame.get_by_role("region", name="Learners' progress").get_by_role("table")
        lin_row = table.get_by_role("row").filter(
            has=frame.get_by_role("rowheader", name="Lin Chen")
        )
        cells = lin_row.get_by_role("cell")
        expect(cells.nth(0)).to_have_text("2 of 2")
        expect(cells.nth(1)).to_have_text("100%")
        assert cells.nth(2).locator("time").get_attribute("datetime")
        deliveries = cells.nth(3).get_by_role("listitem")
        expect(deliveries).to_have_count(2)
        expect(deliveries.filter(has_text="ags:")).to_have_text(
            re.compile(r"^ags: retrying \(1 attempt\) — .+")
        )
        expect(deliveries.filter(has_text="fake:")).to_have_text(
            re.compile(r"^fake: retrying \(1 attempt\) — .*503")
        )
        sam_row = table.get_by_role("row").filter(
            has=frame.get_by_role("rowheader", name="Sam Okafor")
        )
        expect(sam_row.get_by_role("cell")).to_have_text(
            ["0 of 2", "0%", "Not yet", "Nothing to send yet"]
        )
        assert ada.tool_frame().evaluate(OVERFLOW_JS) <= 0  # the table scrolls, not the page
        run_axe(ada, axe_script, "completion panel with the learners' table")
        shoot_frame(ada, "completion-panel-320")
        assert ada.console_errors() == []

    with lin.failure_screenshot("learner-sent"):
        # Once the gradebook has it, the learner is told when (the answer of /me is changed here
        # to a delivered AGS row: the sandbox platform cannot reach the tool's keys here).
        def delivered(route: Any) -> None:
            answer = route.fetch().json()
            answer["standing"]["deliveries"] = [
                {
                    "connector": "ags",
                    "status": "delivered",
                    "attempts": 1,
                    "delivered_at": "2031-05-04T09:30:00+00:00",
                    "last_reason": "",
                }
            ]
            route.fulfill(content_type="application/json", body=json.dumps(answer))

        lin.context.route(re.compile(r".*/api/v1/completions/me$"), delivered)
        lin.page.clock.fast_forward(POLL_MS + 1_000)
        gradebook = box.locator('[data-slot="gradebook"]')
        expect(gradebook).to_have_text(re.compile(r"^Sent to your LMS gradebook on .*2031.*\.$"))
        assert gradebook.locator("time").get_attribute("datetime") == "2031-05-04T09:30:00+00:00"
        assert lin.console_errors() == []


def test_a_rule_the_api_refuses_shows_its_message_beside_the_form_and_viewers_see_nothing(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun], axe_script: str
):
    ada, noor = chromiums("ada-422"), chromiums("noor")
    with ada.failure_screenshot("rule-refused"):
        frame = open_discussion(ada, cross_site, "instructor", course="hist220")
        fit_frame(ada, 320)
        frame.get_by_role("button", name="Completion", exact=True).click()
        panel = frame.locator("#d-completion-panel")
        message = panel.locator("#d-rule-message")
        save = panel.get_by_role("button", name="Save completion rule")
        expect(save).to_be_visible()
        # Nothing chosen: the API's 422, said beside the form, with the focus on it.
        save.click()
        expect(message.locator("p")).to_have_text("Choose at least one criterion.")
        expect(message.get_by_role("listitem")).to_have_count(0)
        expect(message).to_be_focused()
        expect(message).to_have_class(re.compile(r"notice--error"))
        criteria = panel.get_by_role("group", name="Criteria (a learner meets every one chosen)")
        expect(criteria).to_have_attribute("aria-describedby", "d-rule-message")
        assert frame.locator("#d-alerts").inner_text() == ""  # said once, where it applies
        run_axe(ada, axe_script, "completion form with the API's error")
        shoot_frame(ada, "completion-422-320")
        # Too many for the API: its message names the limit.
        criteria.get_by_role("checkbox", name="Threads to start: 1", exact=True).check()
        count = criteria.get_by_role("spinbutton", name="How many for “Threads to start: 1”")
        count = frame.locator(f"#{count.get_attribute('id')}")  # its name follows the number
        count.fill("1001")
        save.click()
        expect(message.locator("p")).to_have_text("The completion rule is not valid.")
        expect(message.get_by_role("listitem")).to_have_text(
            ["“Threads to start: 1001”: count must be a whole number from 1 to 1000"]
        )
        expect(message).to_be_focused()
        # Not a whole number: said before anything is sent.
        count.fill("0")
        sent = len(ada.requests_to(f"{cross_site.tool_url}{COMPLETIONS}/rules"))
        save.click()
        expect(message).to_have_text(
            "Enter a whole number of at least 1 for “Threads to start: …”."
        )
        expect(message).to_be_focused()
        expect(count).to_have_attribute("aria-invalid", "true")
        assert len(ada.requests_to(f"{cross_site.tool_url}{COMPLETIONS}/rules")) == sent
        count.fill("2")
        save.click()
        expect(message).to_have_text(
            "Completion rule saved as version 1. Learners' progress was brought up to date."
        )
        expect(message).to_have_class(re.compile(r"notice--ok"))
        expect(count).not_to_have_attribute("aria-invalid", "true")
        assert criteria.get_attribute("aria-describedby") is None
        assert ada.tool_frame().evaluate(OVERFLOW_JS) <= 0
        # Escape closes the panel and gives the focus back to its button.
        save.focus()
        ada.page.keyboard.press("Escape")
        expect(panel).to_be_hidden()
        expect(focused(frame)).to_have_text("Completion")
        assert ada.console_errors(expected=("status of 422",)) == []  # the refusals above

    with noor.failure_screenshot("viewer"):
        frame_v = open_discussion(noor, cross_site, "norole", course="hist220")
        expect(frame_v.locator('[data-field="access"]')).to_have_text("Viewer (read-only)")
        assert frame_v.locator("#d-progress, #d-completion-panel").count() == 0
        assert frame_v.get_by_role("button", name="Completion").count() == 0
        completions = noor.requests_to(f"{cross_site.tool_url}{COMPLETIONS}")
        assert completions == [], [r.url for r in completions]
        assert noor.console_errors() == []
