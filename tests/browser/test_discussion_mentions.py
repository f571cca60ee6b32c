"""@mentions in the discussion page, in the LMS frame (the set-up of test_discussion.py): the
suggestion list under a composer, used with the keyboard only and with the mouse, and what the
mentioned learners are told.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.browser.helpers import BrowserRun, CrossSite
from tests.browser.test_discussion import (
    API,
    ToolApi,
    focused,
    moderator_api,
    open_discussion,
    open_thread,
    run_axe,
    shoot_frame,
    unique,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail) with the reason before any test body runs
    expect = None

pytestmark = pytest.mark.browser

OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def fit_frame(run: BrowserRun, width: int) -> None:
    """Size the LMS page so that the tool's frame is ``width`` CSS pixels wide."""
    run.page.evaluate("() => { document.getElementById('main').style.maxWidth = 'none'; }")
    run.page.set_viewport_size({"width": width, "height": 800})
    inner = run.tool_frame().evaluate("() => document.documentElement.clientWidth")
    run.page.set_viewport_size({"width": 2 * width - inner, "height": 800})
    assert run.tool_frame().evaluate("() => document.documentElement.clientWidth") == width


def test_learner_mentions_another_with_the_keyboard_only_and_the_other_is_notified(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun], axe_script: str
):
    lin, sam = chromiums("mentioned"), chromiums("mentioner")
    title = unique("Who has the lab notes?")
    with lin.failure_screenshot("mentioned"):
        thread = moderator_api(lin, cross_site).thread(title, "Please share them here.")
        frame_a = open_discussion(lin, cross_site, "learner")  # Lin is a course member from now

    with sam.failure_screenshot("mentioner"):
        frame_b = open_discussion(sam, cross_site, "learner2")
        fit_frame(sam, 320)  # the narrowest frame the page supports (WCAG 1.4.10)
        members = ToolApi(cross_site, sam).call("GET", "/members?q=Chen", 200)["members"]
        lin_id = next(m["id"] for m in members if m["name"] == "Lin Chen")
        open_thread(frame_b, title)
        frame_b.locator(".d-post--opening").get_by_role("button", name="Reply").focus()
        sam.page.keyboard.press("Enter")
        box = frame_b.get_by_role("combobox", name="Reply to Ada Lovelace")
        expect(box).to_be_focused()
        expect(box).to_have_attribute("aria-autocomplete", "list")
        expect(box).to_have_attribute("aria-expanded", "false")
        listbox = frame_b.locator(f"#{box.get_attribute('aria-controls')}")
        expect(listbox).to_have_attribute("role", "listbox")
        options = listbox.get_by_role("option")
        announcer = frame_b.locator("#d-announcer")
        none = frame_b.locator(".d-editor", has=box).get_by_text("No members found")

        sam.page.keyboard.type("Thanks! @Zq")
        expect(announcer).to_have_text("No members found")
        expect(none).to_be_visible()
        sam.page.keyboard.press("Backspace")
        sam.page.keyboard.press("Backspace")
        expect(none).to_be_hidden()  # "@" alone asks nothing
        sam.page.keyboard.type("Ch")
        expect(options).to_have_text(["Lin Chen"])
        expect(box).to_have_attribute("aria-expanded", "true")
        expect(announcer).to_have_text("1 member found")
        run_axe(sam, axe_script, "reply form with the @mention list open")
        assert sam.tool_frame().evaluate(OVERFLOW_JS) <= 0
        shoot_frame(sam, "mention-list-320")

        sam.page.keyboard.press("Escape")  # closes the list, not the reply form
        expect(listbox).to_be_hidden()
        expect(box).to_have_attribute("aria-expanded", "false")
        expect(box).to_be_focused()
        sam.page.keyboard.type("e")  # typing opens it again
        expect(options).to_have_text(["Lin Chen"])
        sam.page.keyboard.press("ArrowDown")
        option = listbox.get_by_role("option", name="Lin Chen")
        expect(option).to_have_attribute("aria-selected", "true")
        expect(box).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
        shoot_frame(sam, "mention-option-320")
        sam.page.keyboard.press("Enter")
        expect(box).to_have_value("Thanks! @Lin Chen ")
        expect(box).to_be_focused()
        expect(box).to_have_attribute("aria-expanded", "false")
        assert box.get_attribute("aria-activedescendant") is None

        sam.page.keyboard.type("can you help?")
        sam.page.keyboard.press("Tab")  # the list is closed: Tab leaves the box
        expect(focused(frame_b)).to_have_text("Post reply")
        sam.page.keyboard.press("Enter")
        reply = frame_b.locator(".d-reply--depth-1 .d-post").filter(has_text="can you help?")
        expect(reply).to_be_focused()
        assert reply.locator(".d-post__body").inner_text() == "Thanks! @Lin Chen can you help?"
        posts_url = f"{cross_site.tool_url}{API}/threads/{thread['id']}/posts"
        sent = [r for r in sam.requests_to(posts_url) if r.method == "POST"]
        assert sent[-1].post_data_json["mentions"] == [lin_id]
        assert sam.console_errors() == []

    with lin.failure_screenshot("mentioned-reads"):
        frame_a.get_by_role("button", name=re.compile("^Notifications")).click()
        item = frame_a.locator("#d-notif-panel li").filter(has_text=title)
        expect(item).to_contain_text("Sam Okafor mentioned you in")
        # Lin starts a thread and mentions Sam with a click in the new-thread form.
        frame_a.get_by_role("button", name="New thread").click()
        second = unique("Lab notes, part two")
        frame_a.get_by_label("Title").fill(second)
        body = frame_a.get_by_role("combobox", name="Message")
        body.press_sequentially("Over to @Oka")
        frame_a.get_by_role("option", name="Sam Okafor").click()
        expect(body).to_have_value("Over to @Sam Okafor ")
        expect(body).to_be_focused()
        frame_a.get_by_role("button", name="Post thread").click()
        frame_a.locator("#d-thread-title").get_by_text(second, exact=True).wait_for()
        inbox = ToolApi(cross_site, sam).call("GET", "/notifications", 200)["notifications"]
        assert ("mention", second) in [(n["kind"], n["thread_title"]) for n in inbox]
        assert lin.console_errors() == []
