"""The discussion page in the LMS frame: headless Chromium, tool cross-site, third-party cookies
blocked (the set-up of test_frames.py), several people side by side in their own browsers.

Content other tests need is posted through the API with the bearer token the page carries (the
tool app's own test client, so it is quick); everything a person does is done in the page.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.helpers import BrowserRun, CrossSite, axe_violations, describe_violations
from tests.unit.widgets.test_discussion_rules import XSS

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail) with the reason before any test body runs
    expect = None

pytestmark = pytest.mark.browser

API = "/api/v1/discussion"
READY = '#discussion[data-state="ready"]'
POLL_MS = 15_000


# -- helpers --------------------------------------------------------------------------------------


def open_discussion(run: BrowserRun, site: CrossSite, user: str, course: str = "bio101") -> Any:
    """Launch the discussion from the sandbox course page; the tool frame once its list is shown."""
    state = run.open_launch(site.launch_url(course=course, user=user, widget="discussion"))
    assert state == "ok", f"the discussion did not open (state {state!r})\n{run.describe_frames()}"
    frame = run.page.frame_locator("#tool-frame")
    frame.locator(READY).wait_for()
    return frame


class ToolApi:
    """The discussion API with the session token of a page (through the tool app's test client)."""

    def __init__(self, site: CrossSite, run: BrowserRun) -> None:
        self.client = site.tool_app.test_client()
        token = run.tool_frame().evaluate(
            "() => document.querySelector('meta[name=\"bridge-session\"]').content"
        )
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.client.open(API + path, method=method, headers=self.headers, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json(silent=True)

    def thread(self, title: str, body: str, is_question: bool = False) -> dict[str, Any]:
        data = {"title": title, "body": body, "is_question": is_question}
        thread = self.call("POST", "/threads", 201, json=data)
        thread["opening"] = self.call("GET", f"/threads/{thread['id']}", 200)["posts"][0]
        return thread

    def reply(self, thread: dict[str, Any], parent_id: str, body: str) -> dict[str, Any]:
        data = {"parent_id": parent_id, "body": body}
        return self.call("POST", f"/threads/{thread['id']}/posts", 201, json=data)


def session_ended(route: Any) -> None:
    """Answer as the API does for an expired session token."""
    error = {"code": "session_expired", "message": "Your session has expired.", "details": {}}
    route.fulfill(status=401, content_type="application/json", body=json.dumps({"error": error}))


def moderator_api(run: BrowserRun, site: CrossSite, course: str = "bio101") -> ToolApi:
    """Launch as the course's instructor and raise the placement's posting rate (a moderator's
    setting), so a test may seed many posts within the minute the default limit counts."""
    open_discussion(run, site, "instructor", course)
    api = ToolApi(site, run)
    api.call("PATCH", "/settings", 200, json={"posts_per_minute": 120})
    return api


def unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:6]}"


def open_thread(frame: Any, title: str) -> None:
    frame.get_by_role("link", name=title, exact=True).click()
    frame.locator("#d-thread-title").get_by_text(title, exact=True).wait_for()
    frame.locator(READY).wait_for()


def focused(frame: Any) -> Any:
    """The element that has the keyboard focus in the tool frame, as a locator."""
    return frame.locator(":focus")


def shoot_frame(run: BrowserRun, name: str) -> None:
    """A PNG of the whole tool frame in the artifacts folder (a cross-site frame paints only what
    is in the viewport, so the LMS window is made as tall as the frame first)."""
    run.tool_frame().evaluate("() => window.scrollTo(0, 0)")
    frame_box = run.page.locator("#tool-frame")
    box = frame_box.bounding_box()
    size = run.page.viewport_size
    run.page.set_viewport_size(
        {"width": size["width"], "height": int(box["y"] + box["height"]) + 16}
    )
    frame_box.screenshot(path=str(run.artifacts / f"{name}.png"))
    run.page.set_viewport_size(size)


def run_axe(run: BrowserRun, axe_script: str, where: str) -> None:
    violations = axe_violations(run.tool_frame(), axe_script)
    assert violations == [], f"axe-core, {where}:\n{describe_violations(violations)}"


# -- learners, side by side -----------------------------------------------------------------------


def test_learner_starts_a_thread_another_replies_and_the_first_sees_it_by_polling(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun]
):
    lin, sam = chromiums("lin"), chromiums("sam")
    lin.context.clock.install()  # Lin's polling timer is fast-forwarded below, not waited for
    title = unique("How does osmosis work?")
    with lin.failure_screenshot("lin-starts"):
        frame = open_discussion(lin, cross_site, "learner")
        assert frame.locator('[data-field="access"]').inner_text() == "Participant"
        toggle = frame.get_by_role("button", name="New thread")
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true"
        assert focused(frame).get_attribute("id") == "d-new-title"  # focus goes to the form
        frame.get_by_label("Title").fill(title)
        frame.get_by_label("Message").fill("Water moves **across** a membrane?")
        frame.get_by_label("Ask as a question").check()
        frame.get_by_role("button", name="Preview").click()
        frame.locator("#d-new-preview strong").get_by_text("across").wait_for()
        frame.get_by_role("button", name="Post thread").click()
        frame.locator("#d-thread-title").get_by_text(title, exact=True).wait_for()
        opening = frame.locator(".d-post--opening")
        assert (
            opening.locator(".d-post__body strong").inner_text() == "across"
        )  # Markdown, rendered
        assert "Lin Chen (you)" in opening.inner_text()
        assert frame.locator("#d-thread-view .d-badge--question").is_visible()
        assert frame.locator("#d-replies-title").inner_text() == "No replies yet."

    with sam.failure_screenshot("sam-replies"):
        frame_b = open_discussion(sam, cross_site, "learner2")
        item = frame_b.locator(".d-thread", has=frame_b.get_by_role("link", name=title))
        assert "Started by Lin Chen" in item.inner_text() and "0 replies" in item.inner_text()
        assert item.locator(".d-badge--question").inner_text() == "Question"
        assert item.locator("time").get_attribute("datetime")
        open_thread(frame_b, title)
        like_b = frame_b.locator(".d-post--opening").get_by_role("button", name="Like")
        like_b.click()
        expect(like_b.locator(".d-reaction__count")).to_have_text("1")
        expect(like_b).to_be_focused()
        frame_b.locator(".d-post--opening").get_by_role("button", name="Reply").click()
        frame_b.get_by_label("Reply to Lin Chen").fill("Osmosis is diffusion of *water*.")
        frame_b.get_by_role("button", name="Post reply").click()
        reply = frame_b.locator(".d-reply--depth-1 .d-post").filter(has_text="diffusion of")
        expect(reply).to_be_focused()  # focus moves to the new reply
        assert "Sam Okafor (you)" in reply.inner_text()
        expect(frame_b.locator("#d-announcer")).to_have_text("Your reply was posted.")

    with lin.failure_screenshot("lin-polls"):
        lin.page.clock.fast_forward(POLL_MS + 1_000)
        expect(frame.locator("#d-announcer")).to_have_text("1 new reply: Sam Okafor.")
        reply_a = frame.locator(".d-reply--depth-1 .d-post").filter(has_text="diffusion of")
        assert reply_a.locator(".d-post__body em").inner_text() == "water"
        assert reply_a.locator(".d-badge--new").is_visible()
        assert frame.locator("#d-replies-title").inner_text() == "1 reply"
        like = frame.locator(".d-post--opening").get_by_role("button", name="Like")
        assert like.locator(".d-reaction__count").inner_text() == "1"
        # Keyboard only: reply to the reply (the second level), then edit and remove own posts.
        reply_a.get_by_role("button", name="Reply").focus()
        lin.page.keyboard.press("Enter")
        assert focused(frame).get_attribute("aria-describedby")  # the reply box, with its hint
        lin.page.keyboard.type("Thanks, Sam!")
        lin.page.keyboard.press("Tab")
        expect(focused(frame)).to_have_text("Post reply")
        lin.page.keyboard.press("Enter")
        deep = frame.locator(".d-reply--depth-2 .d-post").filter(has_text="Thanks, Sam!")
        expect(deep).to_be_focused()
        assert deep.get_by_role("button", name="Reply").count() == 0  # two levels, no more
        assert reply_a.get_by_role("button", name="Edit").count() == 0  # not Lin's post
        deep.get_by_role("button", name="Edit").click()
        box = frame.get_by_label("Edit your post")
        assert box.input_value() == "Thanks, Sam!"
        box.fill("Thanks a lot, Sam!")
        frame.get_by_role("button", name="Save changes").click()
        deep = frame.locator(".d-reply--depth-2 .d-post").filter(has_text="Thanks a lot, Sam!")
        deep.locator(".d-post__edited").get_by_text("(edited)").wait_for()
        deep.get_by_role("button", name="Remove").click()
        frame.get_by_role("button", name="Remove post").click()
        removed = frame.locator(".d-reply--depth-2 .d-post--removed")
        removed.get_by_text("Post removed").wait_for()
        assert "Thanks a lot" not in removed.inner_text()
        assert lin.console_errors() == [] and sam.console_errors() == []

    with sam.failure_screenshot("sam-goes-back"):
        frame_b.get_by_role("link", name="← All threads").click()
        item = frame_b.locator(".d-thread", has=frame_b.get_by_role("link", name=title))
        expect(item).to_contain_text("2 replies")
        expect(item.get_by_role("link")).to_be_focused()  # back where the reader left the list


def test_viewer_reads_without_any_posting_control(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun]
):
    run = chromiums("noor")
    title = unique("Read-only check")
    with run.failure_screenshot("viewer"):
        api = moderator_api(run, cross_site)
        thread = api.thread(title, "Opening **post**", is_question=True)
        opening = thread["opening"]["id"]
        api.call("POST", f"/posts/{opening}/reactions", 200, json={"kind": "thanks"})
        answer = api.reply(thread, opening, "A reply")
        api.call("POST", f"/threads/{thread['id']}/accepted", 200, json={"post_id": answer["id"]})
        hidden = api.reply(thread, opening, "Hidden from learners")
        api.call("POST", f"/posts/{hidden['id']}/hidden", 204, json={"value": True})
        frame = open_discussion(run, cross_site, "norole")
        assert frame.locator('[data-field="access"]').inner_text() == "Viewer (read-only)"
        notice = "You can read everything here; your role does not allow posting."
        assert frame.locator("#d-list-view").get_by_text(notice).is_visible()
        open_thread(frame, title)
        assert frame.locator("#d-thread-view").get_by_text(notice).is_visible()
        assert frame.locator(".d-post").count() == 3
        assert frame.locator(".d-post--opening .d-reaction--static").inner_text() == "Thanks: 1"
        answer_post = frame.locator(f"#post-{answer['id']}")
        assert answer_post.locator(".d-badge--accepted").inner_text() == "Accepted answer"
        concealed = frame.locator(f"#post-{hidden['id']}")
        assert concealed.inner_text().splitlines()[-1] == "Post hidden by a moderator"
        assert "Ada" not in concealed.inner_text()
        controls = frame.locator(
            "#d-new-thread, #d-new-thread-toggle, form, textarea, "
            "#discussion button:visible:not(#d-load-more)"
        )
        assert controls.count() == 0, controls.evaluate_all("els => els.map(e => e.outerHTML)")
        assert run.console_errors() == []
        # The session ends (expired token): the next API answer is a 401, and the page says
        # what to do instead of failing silently.
        run.context.route(re.compile(r".*/api/v1/discussion/threads\?.*"), session_ended)
        frame.get_by_role("link", name="← All threads").click()
        alert = frame.get_by_role("alert")
        expect(alert).to_have_text(
            "Your session has ended. Reopen this activity from your course to continue."
        )
        expect(frame.locator("#api-status")).to_have_attribute("data-state", "failed")


def test_sort_and_load_more_page_through_the_threads(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun]
):
    run = chromiums("pages")
    with run.failure_screenshot("pages"):
        api = moderator_api(run, cross_site, course="none")  # a placement of its own
        threads = [api.thread(f"Thread {n:02d}", "Body") for n in range(21)]
        api.reply(threads[0], threads[0]["opening"]["id"], "Oldest thread, newest activity")
        frame = open_discussion(run, cross_site, "instructor", course="none")
        links = frame.locator(".d-thread__link")
        expect(links).to_have_count(20)
        assert links.first.inner_text() == "Thread 00"  # recent activity first
        frame.get_by_label("Sort by").select_option("newest")
        expect(links.first).to_have_text("Thread 20")
        expect(links).to_have_count(20)
        more = frame.get_by_role("button", name="Load more threads")
        more.click()
        expect(links).to_have_count(21)
        expect(links.last).to_have_text("Thread 00")
        expect(links.last).to_be_focused()  # the first thread loaded
        expect(more).to_be_hidden()
        expect(frame.locator("#d-announcer")).to_have_text("1 more thread loaded")
        assert run.console_errors() == []


# -- untrusted content ----------------------------------------------------------------------------

MARK = "window.__xss=1"
EXTRA_XSS = [
    f"<img src=x onerror={MARK}//",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    f'<details open ontoggle="{MARK}">x</details>',
    f'<a href="&#x6A;avascript&#x3A;{MARK}">x</a>',
    f"<javascript:{MARK}>",
    f"[x](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==) `<script>{MARK}</script>`",
    f"<form><button formaction=javascript:{MARK}>x</button></form>",
    f"&lt;script&gt;{MARK}&lt;/script&gt; %3Cscript%3E{MARK}%3C/script%3E",
    f"<style>@import 'javascript:{MARK}';</style><p style=\"x:expression({MARK})\">y</p>",
]
PAYLOADS = [payload.replace("alert(1)", MARK) for payload in XSS] + EXTRA_XSS
# Where the page puts what people wrote (post bodies and previews, titles, names).
USER_CONTENT = ".d-post__body, .d-thread__title, #d-thread-title, .d-post__author"
# Every element and attribute built there; any of these means unsafe HTML reached the page.
UNSAFE_DOM_JS = """(selector) => {
  const bad = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of root.querySelectorAll("*")) {
      const tag = el.tagName.toLowerCase();
      if (["script", "img", "svg", "math", "iframe", "object", "embed", "style", "form",
           "details", "noscript", "link", "meta", "base"].includes(tag)) { bad.push(el.outerHTML); }
      for (const attr of el.attributes) {
        const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, "").toLowerCase();
        if (attr.name.startsWith("on") || attr.name === "style" || attr.name === "srcdoc" ||
            /^(javascript|data|vbscript):/.test(value)) { bad.push(el.outerHTML); }
      }
    }
  }
  return bad;
}"""


def test_xss_corpus_posted_through_the_api_runs_no_script_in_the_page(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun]
):
    # The CSP is switched off here: the page itself must be safe, not only the policy strict.
    run = chromiums("xss", bypass_csp=True)
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    run.page.on("dialog", dismiss)
    title = f'<script>{MARK}</script><img src=x onerror="{MARK}"> {uuid.uuid4().hex[:6]}'
    with run.failure_screenshot("xss"):
        api = moderator_api(run, cross_site, course="hist220")
        thread = api.thread(title, PAYLOADS[0], is_question=True)
        first = api.reply(thread, thread["opening"]["id"], PAYLOADS[1])
        api.reply(thread, first["id"], PAYLOADS[2])  # the second level too
        for payload in PAYLOADS[3:]:
            api.reply(thread, thread["opening"]["id"], payload)
        frame = open_discussion(run, cross_site, "learner", course="hist220")
        assert_no_script_ran(run, dialogs)
        link = frame.get_by_role("link", name=title, exact=True)
        assert link.inner_text() == title  # shown as text, exactly as written
        link.click()
        frame.locator(".d-post").nth(len(PAYLOADS) - 1).wait_for()
        assert frame.locator("#d-thread-title").inner_text() == title
        assert frame.locator(".d-post").count() == len(PAYLOADS)
        # The editor's preview renders through the same sanitiser.
        frame.locator(".d-post--opening").get_by_role("button", name="Reply").click()
        frame.get_by_label("Reply to Ada Lovelace").fill("\n\n".join(PAYLOADS))
        frame.locator(".d-post--opening").get_by_role("button", name="Preview").click()
        frame.locator(".d-post--opening [data-slot='preview'] p").first.wait_for()
        assert_no_script_ran(run, dialogs)
        assert run.console_errors() == []


def assert_no_script_ran(run: BrowserRun, dialogs: list[str]) -> None:
    run.page.wait_for_timeout(300)  # let any event handler or late load fire
    unsafe = run.tool_frame().evaluate(UNSAFE_DOM_JS, USER_CONTENT)
    assert unsafe == [], unsafe
    assert run.tool_frame().evaluate("() => window.__xss") is None
    assert run.page.evaluate("() => window.__xss") is None
    assert dialogs == []


# -- accessibility and layout ---------------------------------------------------------------------


def seed_rich_thread(api: ToolApi, title: str) -> dict[str, Any]:
    """A question with an accepted answer, a reply to it, an endorsed and edited post, a hidden
    one, a removed one, and reactions (seeded by a moderator)."""
    thread = api.thread(title, "Which **organelle** makes ATP?\n\n- one\n- two", is_question=True)
    opening = thread["opening"]["id"]
    first = api.reply(thread, opening, "The *mitochondrion*; see [notes](https://example.edu).")
    api.call("POST", f"/threads/{thread['id']}/accepted", 200, json={"post_id": first["id"]})
    second = api.reply(thread, first["id"], "And `chloroplasts` in plants.")
    api.call("POST", f"/posts/{second['id']}/endorsed", 204, json={"value": True})
    hidden = api.reply(thread, opening, "Off topic")
    api.call("POST", f"/posts/{hidden['id']}/hidden", 204, json={"value": True})
    edited = api.reply(thread, opening, "Ribosomes? (no)")
    api.call("PATCH", f"/posts/{edited['id']}", 200, json={"body": "Not ribosomes."})
    gone = api.reply(thread, opening, "Spam")
    api.call("DELETE", f"/posts/{gone['id']}", 204)
    for kind in ("like", "thanks"):
        api.call("POST", f"/posts/{first['id']}/reactions", 200, json={"kind": kind})
    return thread


def test_thread_list_and_thread_page_have_no_wcag_21_aa_violations(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun], axe_script: str
):
    run = chromiums("axe")
    title = unique("Accessibility: where is ATP made?")
    with run.failure_screenshot("axe"):
        seed_rich_thread(moderator_api(run, cross_site), title)
        frame = open_discussion(run, cross_site, "instructor")
        frame.get_by_role("link", name=title).wait_for()
        frame.get_by_role("button", name="New thread").click()
        frame.get_by_label("Message").fill("A **draft**")
        frame.get_by_role("button", name="Preview").click()
        frame.locator("#d-new-preview strong").wait_for()
        frame.get_by_role("button", name=re.compile("^Notifications")).click()
        expect(frame.locator("#d-notif-title")).to_be_focused()  # the list is in
        run_axe(run, axe_script, "thread list with the new-thread form and notifications open")
        shoot_frame(run, "moderator-list")
        frame.get_by_role("button", name="Cancel").click()
        open_thread(frame, title)
        frame.locator(".d-post--removed").wait_for()
        frame.locator(".d-post--opening").get_by_role("button", name="Reply").click()
        run_axe(run, axe_script, "thread page with a reply form open")
        shoot_frame(run, "moderator-thread")
        assert run.console_errors() == []
        # Positive control: axe really runs in this frame and reports what it should.
        run.tool_frame().evaluate(
            "() => document.getElementById('d-opening').append(document.createElement('input'))"
        )
        found = [v["id"] for v in axe_violations(run.tool_frame(), axe_script)]
        assert found == ["label"], found


@pytest.mark.parametrize("width", [320, 1024])
def test_pages_fit_the_frame_without_horizontal_scrolling(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun], width: int
):
    """WCAG 1.4.10 reflow at 320 CSS px, and the wide layout; screenshots kept for review."""
    run = chromiums(f"w{width}")
    title = unique("Layout: a long title that has to wrap on a narrow phone screen")
    with run.failure_screenshot(f"layout-{width}"):
        seed_rich_thread(moderator_api(run, cross_site), title)
        frame = open_discussion(run, cross_site, "learner")
        # Size the LMS page so that the tool's frame itself is `width` CSS pixels wide (the
        # sandbox's content column stops at 56rem; an LMS may give the frame the whole width).
        run.page.evaluate("() => { document.getElementById('main').style.maxWidth = 'none'; }")
        run.page.set_viewport_size({"width": width, "height": 800})
        inner = run.tool_frame().evaluate("() => document.documentElement.clientWidth")
        run.page.set_viewport_size({"width": 2 * width - inner, "height": 800})
        assert run.tool_frame().evaluate("() => document.documentElement.clientWidth") == width
        frame.get_by_role("link", name=title).wait_for()
        overflow = (
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert run.tool_frame().evaluate(overflow) <= 0
        shoot_frame(run, f"list-{width}")
        open_thread(frame, title)
        frame.locator(".d-post--opening").get_by_role("button", name="Reply").click()
        assert run.tool_frame().evaluate(overflow) <= 0
        # The LMS was asked to fit the frame to the content (lti.frameResize): no inner scrollbar.
        content = run.tool_frame().evaluate(
            "() => Math.ceil(document.getElementById('main').getBoundingClientRect().bottom"
            " + window.scrollY)"
        )
        run.page.wait_for_function(
            "h => Math.abs(document.getElementById('tool-frame').clientHeight - h) <= 2",
            arg=content,
        )
        shoot_frame(run, f"thread-{width}")
        print(f"screenshots: {run.artifacts}/list-{width}.png, thread-{width}.png")


# -- questions, moderation, flags, notifications --------------------------------------------------


def test_asker_accepts_an_answer_and_another_learner_sees_the_badge(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun]
):
    lin, sam = chromiums("asker"), chromiums("answerer")
    lin.context.clock.install()
    title = unique("Which enzyme splits starch?")
    with lin.failure_screenshot("asker"):
        moderator_api(lin, cross_site)  # the placement's posting rate, raised for seeding
        frame = open_discussion(lin, cross_site, "learner")
        lin_api = ToolApi(cross_site, lin)
        lin_api.call("POST", "/notifications/read", 204)  # earlier tests may have left some
        thread = lin_api.thread(title, "Starch?", is_question=True)
    with sam.failure_screenshot("answerer"):
        frame_b = open_discussion(sam, cross_site, "learner2")
        answer = ToolApi(cross_site, sam).reply(thread, thread["opening"]["id"], "Amylase.")
    with lin.failure_screenshot("asker-accepts"):
        # The reply reaches Lin's notification badge with the next poll.
        lin.page.clock.fast_forward(POLL_MS + 1_000)
        expect(frame.locator("#d-notif-count")).to_have_text("1")
        expect(frame.locator("#d-notif-toggle")).to_have_accessible_name(
            re.compile(r"^Notifications\s*\(1 unread\)$")
        )
        open_thread(frame, title)
        post = frame.locator(f"#post-{answer['id']}")
        accept = post.get_by_role("button", name="Accept answer")
        accept.click()
        expect(post.locator(".d-badge--accepted")).to_have_text("Accepted answer")
        accepted = post.get_by_role("button", name="Accepted")
        expect(accepted).to_have_attribute("aria-pressed", "true")
        expect(accepted).to_be_focused()
        expect(frame.locator("#d-announcer")).to_have_text("Answer accepted.")
        # The opening post is no answer; Lin may not flag her own post.
        opening = frame.locator(".d-post--opening")
        assert opening.get_by_role("button", name="Accept answer").count() == 0
        assert opening.get_by_role("button", name="Flag").count() == 0
        assert lin.console_errors() == []
    with sam.failure_screenshot("answerer-sees"):
        open_thread(frame_b, title)
        post_b = frame_b.locator(f"#post-{answer['id']}")
        expect(post_b.locator(".d-badge--accepted")).to_have_text("Accepted answer")
        assert frame_b.get_by_role("button", name="Accept answer").count() == 0  # not the asker
        assert frame_b.get_by_role("button", name="Accepted").count() == 0
        # Sam was notified that the answer was accepted; opening the panel marks it read.
        frame_b.get_by_role("button", name=re.compile("^Notifications")).click()
        item = frame_b.locator("#d-notif-panel li").filter(has_text=title)
        expect(item).to_contain_text("Lin Chen accepted your answer in")
        expect(frame_b.locator("#d-notif-count")).to_be_hidden()
        assert sam.console_errors() == []


def test_notification_badge_counts_a_reply_and_clears_when_opened(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun]
):
    lin, sam = chromiums("notified"), chromiums("replier")
    lin.context.clock.install()
    title = unique("Notify me")
    with lin.failure_screenshot("notified"):
        moderator_api(lin, cross_site, course="hist220")
        frame = open_discussion(lin, cross_site, "learner", course="hist220")
        inbox = ToolApi(cross_site, lin)
        inbox.call("POST", "/notifications/read", 204)  # earlier tests may have left some
        thread = inbox.thread(title, "Anyone?")
        lin.page.clock.fast_forward(POLL_MS + 1_000)
        expect(frame.locator("#d-notif-count")).to_be_hidden()
    with sam.failure_screenshot("replier"):
        open_discussion(sam, cross_site, "learner2", course="hist220")
        ToolApi(cross_site, sam).reply(thread, thread["opening"]["id"], "Me!")
    with lin.failure_screenshot("notified-opens"):
        lin.page.clock.fast_forward(POLL_MS + 1_000)
        expect(frame.locator("#d-notif-count")).to_have_text("1")
        toggle = frame.get_by_role("button", name=re.compile("^Notifications"))
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(frame.locator("#d-notif-title")).to_be_focused()
        item = frame.locator("#d-notif-panel li").first
        expect(item).to_contain_text("Sam Okafor replied to your post in")
        assert item.get_by_role("link").inner_text() == title
        expect(frame.locator("#d-notif-count")).to_be_hidden()
        expect(toggle).to_have_accessible_name("Notifications")
        assert inbox.call("GET", "/notifications", 200)["unread"] == 0
        lin.page.keyboard.press("Escape")
        expect(toggle).to_be_focused()
        expect(frame.locator("#d-notif-panel")).to_be_hidden()
        toggle.click()
        frame.locator("#d-notif-panel").get_by_role("link", name=title).first.click()
        frame.locator("#d-thread-title").get_by_text(title, exact=True).wait_for()
        assert lin.console_errors() == []


def test_moderator_pins_locks_endorses_and_hides_and_learners_see_it(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun]
):
    ada, lin = chromiums("moderator"), chromiums("reader")
    title = unique("Moderated thread")
    with ada.failure_screenshot("moderator"):
        api = moderator_api(ada, cross_site)
        thread = api.thread(title, "Read the syllabus.")
        good = api.reply(thread, thread["opening"]["id"], "A good answer")
        bad = api.reply(thread, thread["opening"]["id"], "Off-topic remark")
        frame = ada.page.frame_locator("#tool-frame")  # the launch moderator_api made (one less)
        ada.tool_frame().evaluate("id => { location.hash = '#/threads/' + id; }", thread["id"])
        frame.locator("#d-thread-title").get_by_text(title, exact=True).wait_for()
        frame.locator(READY).wait_for()
        actions = frame.locator("#d-thread-actions")
        actions.get_by_role("button", name="Pin").click()
        expect(actions.get_by_role("button", name="Unpin")).to_be_focused()
        expect(frame.locator("#d-thread-view .d-badge--pinned")).to_have_text("Pinned")
        actions.get_by_role("button", name="Lock").click()
        expect(frame.locator("#d-locked")).to_be_visible()
        expect(actions.get_by_role("button", name="Unlock")).to_be_visible()
        good_post = frame.locator(f"#post-{good['id']}")
        good_post.get_by_role("button", name="Endorse").click()
        expect(good_post.locator(".d-badge--endorsed")).to_be_visible()
        expect(good_post.get_by_role("button", name="Withdraw endorsement")).to_be_focused()
        bad_post = frame.locator(f"#post-{bad['id']}")
        bad_post.get_by_role("button", name="Hide").click()
        expect(bad_post.locator('[data-badge="hidden"]')).to_have_text("Hidden from learners")
        expect(bad_post.get_by_role("button", name="Show")).to_be_focused()
        shoot_frame(ada, "moderator-controls")
        assert ada.console_errors() == []
    with lin.failure_screenshot("reader"):
        frame_b = open_discussion(lin, cross_site, "learner")
        item = frame_b.locator(".d-thread", has=frame_b.get_by_role("link", name=title))
        expect(item.locator(".d-badge--pinned")).to_be_visible()
        expect(item.locator(".d-badge--locked")).to_be_visible()
        open_thread(frame_b, title)
        expect(frame_b.locator(f"#post-{bad['id']}")).to_contain_text("Post hidden by a moderator")
        assert "Off-topic" not in frame_b.locator(f"#post-{bad['id']}").inner_text()
        expect(frame_b.locator(f"#post-{good['id']} .d-badge--endorsed")).to_be_visible()
        for name in ("Pin", "Unpin", "Lock", "Unlock", "Endorse", "Hide", "Show", "Reply"):
            assert frame_b.locator("#d-thread-view").get_by_role("button", name=name).count() == 0
        expect(frame_b.locator("#d-thread-actions").get_by_role("button")).to_have_text(["Follow"])
        frame_b.get_by_role("button", name="Follow").click()
        expect(frame_b.get_by_role("button", name="Unfollow")).to_be_focused()
        assert lin.console_errors() == []


def test_flagged_post_appears_in_the_moderation_queue_and_resolves(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun], axe_script: str
):
    ada, sam = chromiums("queue"), chromiums("flagger")
    title = unique("Flag me")
    reason = unique("Rude words")
    with sam.failure_screenshot("flagger"):
        api = moderator_api(ada, cross_site)
        thread = api.thread(title, "Something rude")
        frame_b = open_discussion(sam, cross_site, "learner2")
        open_thread(frame_b, title)
        opening = frame_b.locator(".d-post--opening")
        flag = opening.get_by_role("button", name="Flag", exact=True)
        flag.click()
        expect(flag).to_have_attribute("aria-expanded", "true")
        box = frame_b.get_by_label("Why should a moderator look at this post? (optional)")
        expect(box).to_be_focused()
        box.fill(reason)
        run_axe(sam, axe_script, "thread page with a flag form open")
        frame_b.get_by_role("button", name="Send flag").click()
        flagged = opening.get_by_role("button", name="Flagged")
        expect(flagged).to_be_focused()
        expect(flagged).to_have_attribute("aria-disabled", "true")
        expect(frame_b.locator("#d-announcer")).to_have_text(
            "Thank you. The moderators will look at this post."
        )
        assert sam.console_errors() == []
    with ada.failure_screenshot("queue"):
        frame = open_discussion(ada, cross_site, "instructor")
        toggle = frame.get_by_role("button", name="Moderation queue")
        toggle.click()
        item = frame.locator("#d-queue-panel li").filter(has_text=reason)
        expect(item).to_have_count(1)
        link = item.get_by_role("link")
        expect(link).to_have_text(f"Flagged post in “{title}”")
        assert link.get_attribute("href") == f"#/threads/{thread['id']}"
        run_axe(ada, axe_script, "moderation queue open")
        shoot_frame(ada, "moderation-queue")
        item.get_by_role("button", name="Resolve").click()
        expect(item).to_have_count(0)
        expect(frame.locator("#d-announcer")).to_have_text("The flag was resolved.")
        flags = api.call("GET", "/moderation/flags", 200)["flags"]
        assert all(f["reason"] != reason for f in flags)
        assert ada.console_errors() == []


def test_placement_settings_offer_anonymous_posting_and_can_close_new_threads_to_learners(
    cross_site: CrossSite, chromiums: Callable[..., BrowserRun], axe_script: str
):
    run = chromiums("settings")
    title = unique("Anonymous replies welcome")
    with run.failure_screenshot("settings"):
        api = moderator_api(run, cross_site, course="hist220")
        settings = {"anonymous_allowed": True, "thread_starters": "moderators"}
        api.call("PATCH", "/settings", 200, json=settings)
        try:
            thread = api.thread(title, "Say what you think.")
            frame = open_discussion(run, cross_site, "learner", course="hist220")
            frame.get_by_role("link", name=title).wait_for()
            expect(frame.get_by_role("button", name="New thread")).to_be_hidden()
            open_thread(frame, title)
            frame.locator(".d-post--opening").get_by_role("button", name="Reply").click()
            editor = frame.locator(f"#d-editor-{thread['opening']['id']}").locator("..")
            editor.get_by_label("Reply to Ada Lovelace").fill("I am not sure.")
            editor.get_by_label("Post anonymously").check()
            run_axe(run, axe_script, "reply form with the anonymous choice")
            frame.get_by_role("button", name="Post reply").click()
            reply = frame.locator(".d-reply--depth-1 .d-post").filter(has_text="I am not sure.")
            expect(reply).to_be_focused()
            expect(reply.locator('[data-badge="anonymous"]')).to_have_text("Anonymous to peers")
            posts = api.call("GET", f"/threads/{thread['id']}", 200)["posts"]
            assert [p["anonymous"] for p in posts] == [False, True]
            assert run.console_errors() == []
        finally:
            reset = {"anonymous_allowed": False, "thread_starters": "everyone"}
            api.call("PATCH", "/settings", 200, json=reset)
