// The discussion page: thread list, thread view, posting with @mentions, reactions, polling
// for new posts, and completion (the instructor's rule, learners' progress).
//
// - Calls /api/v1/discussion and /api/v1/completions with the session token as a bearer token
//   (never in a URL) and keeps the renewed token the API hands back in X-Bridge-Session.
// - Builds every element by cloning the page's <template>s and filling them with textContent.
//   The ONLY markup inserted as HTML is `body_html`, which the server rendered from Markdown and
//   sanitised with an allow-list (see setSanitisedHtml). Titles and names are always text.
// - Every text it shows comes from the page (translated there): #d-strings and the templates.
(function () {
  "use strict";
  var root = document.getElementById("discussion");
  if (!root) { return; }

  var STR = JSON.parse(document.getElementById("d-strings").textContent);
  var API = root.getAttribute("data-api");
  var COMPLETIONS_API = root.getAttribute("data-completions-api");
  var GRADEBOOK_TARGETS = (root.getAttribute("data-gradebook-targets") || "").split(" ").filter(Boolean);
  var POLL_MS = Math.max(5, Number(root.getAttribute("data-poll-seconds")) || 15) * 1000;
  var CAN_POST = root.getAttribute("data-can-post") === "true";
  var CAN_MODERATE = root.getAttribute("data-can-moderate") === "true";
  var LANG = document.documentElement.lang || "en";
  var token = document.querySelector('meta[name="bridge-session"]').getAttribute("content");

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    alerts: $("d-alerts"), announcer: $("d-announcer"), status: $("api-status"),
    listView: $("d-list-view"), threadView: $("d-thread-view"), sort: $("d-sort"),
    list: $("d-thread-list"), listStatus: $("d-list-status"), loadMore: $("d-load-more"),
    newToggle: $("d-new-thread-toggle"), newForm: $("d-new-thread"),
    threadTitle: $("d-thread-title"), locked: $("d-locked"), opening: $("d-opening"),
    repliesTitle: $("d-replies-title"), replies: $("d-replies"),
    threadActions: $("d-thread-actions"), notifToggle: $("d-notif-toggle"), notifPanel: $("d-notif-panel"),
    notifCount: $("d-notif-count"), notifSr: $("d-notif-sr"), queueToggle: $("d-queue-toggle"), queuePanel: $("d-queue-panel"),
    completionToggle: $("d-completion-toggle"), completionPanel: $("d-completion-panel"), progress: $("d-progress")
  };
  var editorLabels = {};
  Array.prototype.forEach.call($("d-tpl-editor-labels").content.querySelectorAll("[data-kind]"), function (el) {
    editorLabels[el.getAttribute("data-kind")] = { label: el.getAttribute("data-label"), submit: el.getAttribute("data-submit") };
  });

  var state = {
    sort: "active", threads: [], nextCursor: null, knownThreads: {}, listLoaded: false,
    threadId: null, thread: null, posts: {}, seenPosts: null, newPosts: {}, lastOpened: null,
    busy: false, pollTimer: null, sessionEnded: false, isAsker: false, flagged: {}, following: {},
    settings: { anonymous_allowed: false, thread_starters: "everyone" },
    progress: null, progressAsked: 0
  };

  // -- small helpers ---------------------------------------------------------------------------
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : match;
    });
  }
  function plural(forms, n) { return format(n === 1 ? forms.one : forms.other, { n: n }); }
  function clone(id) { return $(id).content.firstElementChild.cloneNode(true); }
  function slot(el, name) { return el.querySelector('[data-slot="' + name + '"]'); }
  function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } }
  // Busy controls say so with aria-disabled instead of `disabled`, which would drop the keyboard
  // focus to the page's body while the request runs.
  function isBusy(el) { return el.getAttribute("aria-disabled") === "true"; }
  function setBusy(el, busy) {
    if (busy) { el.setAttribute("aria-disabled", "true"); } else { el.removeAttribute("aria-disabled"); }
  }

  // The one place HTML from the API enters the page: `body_html`, Markdown rendered and sanitised
  // by the server with an explicit allow-list (widgets/discussion/rules.py). Links open outside
  // the LMS frame so the activity stays open.
  function setSanitisedHtml(el, html) {
    el.innerHTML = html;
    Array.prototype.forEach.call(el.querySelectorAll("a[href]"), function (a) {
      a.target = "_blank";
      a.rel = "nofollow noopener noreferrer";
    });
  }

  function timeElement(iso) {
    var time = document.createElement("time");
    var date = new Date(iso);
    time.dateTime = iso;
    time.textContent = relativeTime(date);
    time.title = date.toLocaleString(LANG, { dateStyle: "full", timeStyle: "short" });
    return time;
  }
  function relativeTime(date) {
    var seconds = Math.round((date.getTime() - Date.now()) / 1000);
    var abs = Math.abs(seconds);
    if (typeof Intl === "undefined" || !Intl.RelativeTimeFormat) { return date.toLocaleString(LANG); }
    var rtf = new Intl.RelativeTimeFormat(LANG, { numeric: "auto" });
    if (abs < 45) { return rtf.format(0, "second"); }
    if (abs < 3600) { return rtf.format(Math.round(seconds / 60), "minute"); }
    if (abs < 86400) { return rtf.format(Math.round(seconds / 3600), "hour"); }
    if (abs < 7 * 86400) { return rtf.format(Math.round(seconds / 86400), "day"); }
    return date.toLocaleDateString(LANG, { dateStyle: "medium" });
  }
  // Fill a sentence such as "last activity {time}" with a <time> element, the rest as text.
  function fillWithTime(el, template, iso) {
    clear(el);
    var parts = template.split("{time}");
    el.appendChild(document.createTextNode(parts[0]));
    el.appendChild(timeElement(iso));
    if (parts.length > 1) { el.appendChild(document.createTextNode(parts.slice(1).join(""))); }
  }
  // The same with the date and time written out ("on 3 May 2025, 14:05"), for records such as
  // a completion, where "2 days ago" would make the reader work it out.
  function fillWithDate(el, template, iso) {
    clear(el);
    var parts = template.split("{time}");
    var time = document.createElement("time");
    time.dateTime = iso;
    time.textContent = new Date(iso).toLocaleString(LANG, { dateStyle: "medium", timeStyle: "short" });
    el.appendChild(document.createTextNode(parts[0]));
    el.appendChild(time);
    if (parts.length > 1) { el.appendChild(document.createTextNode(parts.slice(1).join(""))); }
  }
  function badges(el, flags) {
    clear(el);
    var all = $("d-tpl-badges").content;
    ["new", "pinned", "question", "locked", "accepted", "endorsed", "hidden", "anonymous"].forEach(function (name) {
      if (flags[name]) { el.appendChild(all.querySelector('[data-badge="' + name + '"]').cloneNode(true)); }
    });
    el.hidden = !el.firstChild;
  }
  function authorName(name, mine) {
    var shown = name || STR.someone;
    return mine ? format(STR.you, { name: shown }) : shown;
  }

  // -- announcements and errors ----------------------------------------------------------------
  var announceTimer = null;
  function announce(text) {
    // Cleared first, then set a moment later, so the same sentence twice is read twice.
    els.announcer.textContent = "";
    clearTimeout(announceTimer);
    announceTimer = setTimeout(function () { els.announcer.textContent = text; }, 100);
  }

  function ApiError(status, error, retryAfter) {
    this.status = status;
    this.code = (error && error.code) || "error";
    this.message = (error && error.message) || STR.unexpected;
    this.details = (error && error.details) || {};
    this.requestId = error && error.request_id;
    this.retryAfter = retryAfter;
  }

  function clearErrors() { clear(els.alerts); }
  function showError(error) {
    clearErrors();
    var box = document.createElement("div");
    box.className = "notice notice--error d-alert";
    var message = document.createElement("p");
    message.textContent = error.status === 401 ? STR.session_ended : error.message;
    box.appendChild(message);
    var fields = error.details && error.details.fields;
    var list = document.createElement("ul");
    if (fields && typeof fields === "object") {
      Object.keys(fields).forEach(function (location) {
        var byField = fields[location];
        if (!byField || typeof byField !== "object") { return; }
        Object.keys(byField).forEach(function (field) {
          var item = document.createElement("li");
          var messages = Array.isArray(byField[field]) ? byField[field].join(" ") : String(byField[field]);
          item.textContent = (STR.fields[field] || field) + ": " + messages;
          list.appendChild(item);
        });
      });
    }
    if (list.firstChild) { box.appendChild(list); }
    if (error.retryAfter) {
      var retry = document.createElement("p");
      retry.textContent = format(STR.retry_after, { n: error.retryAfter });
      box.appendChild(retry);
    }
    if (error.requestId && error.status !== 401) {
      var reference = document.createElement("p");
      reference.className = "muted d-small";
      reference.textContent = format(STR.reference, { id: error.requestId });
      box.appendChild(reference);
    }
    els.alerts.appendChild(box);
  }

  // -- the API ---------------------------------------------------------------------------------
  function api(method, url, body) {
    if (state.sessionEnded) {
      return Promise.reject(new ApiError(401, { code: "unauthorized", message: STR.session_ended }));
    }
    var headers = { "Authorization": "Bearer " + token, "Accept": "application/json" };
    var init = { method: method, headers: headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      var renewed = response.headers.get("X-Bridge-Session");
      if (renewed) { token = renewed; }
      if (response.status === 204) { return null; }
      return response.json().catch(function () { return null; }).then(function (payload) {
        if (response.ok) { return payload; }
        if (response.status === 401) { endSession(); }
        throw new ApiError(response.status, payload && payload.error, response.headers.get("Retry-After"));
      });
    }, function () {
      throw new ApiError(0, { code: "network", message: STR.network });
    });
  }

  function endSession() {
    state.sessionEnded = true;
    clearTimeout(state.pollTimer);
    root.setAttribute("data-state", "ended");
    els.status.setAttribute("data-state", "failed");
    els.status.textContent = STR.not_connected;
    // Without a session nothing can be posted: take the forms away rather than let them fail.
    Array.prototype.forEach.call(root.querySelectorAll("form, [data-action], [data-thread-action], #d-new-thread-toggle, .d-tools button, #d-learners-refresh"), function (el) {
      if (el.tagName === "FORM") { el.hidden = true; } else { el.disabled = true; }
    });
  }

  function markChecked() {
    els.status.setAttribute("data-state", "ok");
    var now = new Date();
    fillWithTime(els.status, format(STR.checked_at, { n: POLL_MS / 1000 }), now.toISOString());
  }

  // -- thread list -----------------------------------------------------------------------------
  function threadsUrl(cursor, limit) {
    var url = API + "/threads?sort=" + encodeURIComponent(state.sort) + "&limit=" + limit;
    return cursor ? url + "&cursor=" + encodeURIComponent(cursor) : url;
  }

  function threadItem(thread, isNew) {
    var item = clone("d-tpl-thread");
    item.setAttribute("data-thread-id", thread.id);
    fillThreadItem(item, thread, isNew);
    return item;
  }
  function fillThreadItem(item, thread, isNew) {
    var link = item.querySelector(".d-thread__link");
    link.href = "#/threads/" + thread.id;
    link.textContent = thread.title;
    badges(slot(item, "badges"), { "new": isNew, pinned: thread.pinned, question: thread.is_question, locked: thread.locked });
    slot(item, "author").textContent = format(STR.started_by, { name: authorName(thread.author_name, false) });
    slot(item, "replies").textContent = plural(STR.replies, thread.reply_count);
    fillWithTime(slot(item, "activity"), STR.last_activity, thread.last_activity_at);
  }

  // Show `threads` in order, reusing the items already on the page (focus stays where it was).
  function renderList(threads, newIds) {
    var focused = document.activeElement;
    var existing = {};
    Array.prototype.forEach.call(els.list.children, function (item) { existing[item.getAttribute("data-thread-id")] = item; });
    var wanted = {};
    threads.forEach(function (thread, index) {
      wanted[thread.id] = true;
      var item = existing[thread.id];
      var isNew = !!newIds[thread.id] || (item && item.querySelector('[data-badge="new"]') !== null);
      if (item) { fillThreadItem(item, thread, isNew); } else { item = threadItem(thread, isNew); }
      if (els.list.children[index] !== item) { els.list.insertBefore(item, els.list.children[index] || null); }
    });
    Object.keys(existing).forEach(function (id) { if (!wanted[id]) { els.list.removeChild(existing[id]); } });
    if (focused && focused !== document.activeElement && document.body.contains(focused)) { focused.focus(); }
    els.listStatus.hidden = threads.length > 0;
    els.listStatus.textContent = STR.no_threads;
    els.loadMore.hidden = !state.nextCursor;
  }

  // Load (or, when polling, refresh) the first page; announce what others started meanwhile.
  function loadList(polling) {
    var limit = Math.min(50, Math.max(20, state.threads.length));
    return api("GET", threadsUrl(null, limit)).then(function (page) {
      var newIds = {};
      var fresh = 0;
      var active = 0;
      page.threads.forEach(function (thread) {
        var known = state.knownThreads[thread.id];
        if (polling && state.listLoaded && !known) { newIds[thread.id] = true; fresh += 1; }
        else if (known && known !== thread.last_activity_at) { active += 1; }
        state.knownThreads[thread.id] = thread.last_activity_at;
        state.following[thread.id] = !!thread.following;
      });
      // Polling keeps threads loaded with "Load more" beyond the refreshed page.
      var refreshed = {};
      page.threads.forEach(function (thread) { refreshed[thread.id] = true; });
      var tail = state.threads.length > page.threads.length
        ? state.threads.slice(page.threads.length).filter(function (t) { return !refreshed[t.id]; })
        : [];
      state.threads = page.threads.concat(tail);
      if (!tail.length) { state.nextCursor = page.next_cursor; }
      state.listLoaded = true;
      renderList(state.threads, newIds);
      markChecked();
      loadProgress();
      root.setAttribute("data-state", "ready");
      if (polling && state.threadId === null) {
        var parts = [];
        if (fresh) { parts.push(plural(STR.new_threads, fresh)); }
        if (active) { parts.push(plural(STR.threads_active, active)); }
        if (parts.length) { announce(parts.join(". ") + "."); }
      }
    });
  }

  function loadMore() {
    if (!state.nextCursor || isBusy(els.loadMore)) { return; }
    setBusy(els.loadMore, true);
    api("GET", threadsUrl(state.nextCursor, 20)).then(function (page) {
      var first = null;
      var seen = {};
      state.threads.forEach(function (t) { seen[t.id] = true; });
      page.threads.forEach(function (thread) {
        state.knownThreads[thread.id] = thread.last_activity_at;
        if (!seen[thread.id]) { state.threads.push(thread); first = first || thread.id; }
      });
      state.nextCursor = page.next_cursor;
      renderList(state.threads, {});
      announce(plural(STR.loaded_more, page.threads.length));
      if (first) { els.list.querySelector('[data-thread-id="' + first + '"] .d-thread__link').focus(); }
      else if (!els.loadMore.hidden) { els.loadMore.focus(); }
    }).catch(showError).then(function () { setBusy(els.loadMore, false); });
  }

  // -- editors (new thread, reply, edit) -------------------------------------------------------
  function wirePreview(form, textarea, previewBox) {
    var toggle = form.querySelector('[data-action="preview"]');
    var target = slot(previewBox, "preview");
    toggle.addEventListener("click", function () {
      var show = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", show ? "true" : "false");
      previewBox.hidden = !show;
      if (!show) { return; }
      if (!textarea.value.trim()) { clear(target); target.textContent = STR.nothing_to_preview; return; }
      target.textContent = STR.loading;
      api("POST", API + "/preview", { body: textarea.value }).then(function (result) {
        setSanitisedHtml(target, result.body_html);
      }).catch(function (error) { clear(target); showError(error); });
    });
    // What is previewed must be what is written: a change hides the stale preview.
    textarea.addEventListener("input", function () {
      if (!previewBox.hidden) { previewBox.hidden = true; toggle.setAttribute("aria-expanded", "false"); }
    });
  }

  // A form being sent ignores a second submit; its fields stay focusable (and read-only).
  function submitting(form, busy) {
    form.setAttribute("aria-busy", busy ? "true" : "false");
    setBusy(form.querySelector('[type="submit"]'), busy);
    Array.prototype.forEach.call(form.querySelectorAll("input[type=text], textarea"), function (el) { el.readOnly = busy; });
  }
  function isSubmitting(form) { return form.getAttribute("aria-busy") === "true"; }

  // @mentions in a composer: the message box is a combobox with a listbox popup (WAI-ARIA APG,
  // list autocomplete with manual selection). "@" and letters before the caret ask the API for
  // matching members; Arrow Up/Down move, Enter or Tab choose, Escape closes, and the focus stays
  // in the box. `mentions()` gives the ids of chosen members whose "@Name" is still in the text.
  var MENTION_QUERY = /(?:^|[^\p{L}\p{N}_@])@(\p{L}[\p{L}\p{M}'’-]*)$/u;
  var MENTION_DELAY_MS = 150;
  function mentionPicker(textarea) {
    var popup = clone("d-tpl-mentions");
    var list = popup.querySelector('[role="listbox"]');
    var none = slot(popup, "none");
    var found = { one: popup.getAttribute("data-one"), other: popup.getAttribute("data-other") };
    var form = textarea.closest("form");
    var hint = form.querySelector(".d-hint");
    var picked = {};  // member id → name, for those chosen in this box
    var members = [];
    var active = -1;
    var start = 0;  // where the "@" of the query is
    var timer = null;
    var asked = 0;  // the latest query: answers to older ones are dropped
    list.id = textarea.id + "-mentions";
    textarea.setAttribute("role", "combobox");
    textarea.setAttribute("aria-autocomplete", "list");
    textarea.setAttribute("aria-expanded", "false");
    textarea.setAttribute("aria-controls", list.id);
    textarea.parentNode.insertBefore(popup, textarea.nextSibling);
    if (hint) { hint.appendChild(document.createTextNode(" " + popup.getAttribute("data-hint"))); }

    function close() {
      clearTimeout(timer);
      asked += 1;
      members = [];
      active = -1;
      popup.hidden = true;
      clear(list);
      textarea.setAttribute("aria-expanded", "false");
      textarea.removeAttribute("aria-activedescendant");
    }
    function update() {
      var before = textarea.value.slice(0, textarea.selectionEnd);
      var match = textarea.selectionStart === textarea.selectionEnd && MENTION_QUERY.exec(before);
      if (!match) { close(); return; }
      start = before.length - match[1].length - 1;
      clearTimeout(timer);
      var ticket = ++asked;
      timer = setTimeout(function () {
        api("GET", API + "/members?q=" + encodeURIComponent(match[1])).then(function (result) {
          if (ticket === asked) { show(result.members); }
        }, function () { if (ticket === asked) { close(); } });  // typing goes on undisturbed
      }, MENTION_DELAY_MS);
    }
    function show(result) {
      close();
      members = result;
      members.forEach(function (member, index) {
        var option = document.createElement("li");
        option.id = list.id + "-" + index;
        option.className = "d-mentions__option";
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = member.name;
        list.appendChild(option);
      });
      list.hidden = !members.length;
      none.hidden = members.length > 0;
      popup.hidden = false;
      textarea.setAttribute("aria-expanded", members.length ? "true" : "false");
      announce(members.length ? plural(found, members.length) : none.textContent);
    }
    function move(step) {
      var n = members.length;
      active = active < 0 ? (step > 0 ? 0 : n - 1) : (active + step + n) % n;
      Array.prototype.forEach.call(list.children, function (option, index) {
        option.setAttribute("aria-selected", index === active ? "true" : "false");
      });
      textarea.setAttribute("aria-activedescendant", list.children[active].id);
      list.children[active].scrollIntoView({ block: "nearest" });
    }
    function choose(index) {
      var member = members[index];
      textarea.setRangeText("@" + member.name + " ", start, textarea.selectionEnd, "end");
      picked[member.id] = member.name;
      close();
      textarea.dispatchEvent(new Event("input", { bubbles: true }));  // a preview is now stale
    }

    textarea.addEventListener("input", update);
    textarea.addEventListener("click", update);
    textarea.addEventListener("blur", close);
    textarea.addEventListener("keydown", function (event) {
      if (popup.hidden || event.isComposing) { return; }
      var key = event.key;
      var plain = !(event.shiftKey || event.ctrlKey || event.altKey || event.metaKey);
      if (key === "Escape") {
        event.preventDefault();
        event.stopPropagation();  // closes the list only, not the editor around it
        close();
      } else if (members.length && (key === "ArrowDown" || key === "ArrowUp")) {
        event.preventDefault();
        move(key === "ArrowDown" ? 1 : -1);
      } else if (active >= 0 && plain && (key === "Enter" || key === "Tab")) {
        event.preventDefault();
        choose(active);
      } else if (/^(Arrow|Page|Home|End)/.test(key)) {
        close();  // the caret leaves the query
      }
    });
    // A click chooses; pressing first must not take the focus from the message box.
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });
    list.addEventListener("click", function (event) {
      var option = event.target.closest('[role="option"]');
      if (option) { choose(Array.prototype.indexOf.call(list.children, option)); }
    });
    form.addEventListener("reset", function () { picked = {}; close(); });

    return {
      mentions: function () {
        return Object.keys(picked).filter(function (id) { return textarea.value.indexOf("@" + picked[id]) >= 0; });
      }
    };
  }

  function setUpNewThread() {
    if (!els.newForm) { return; }
    var form = els.newForm;
    var box = $("d-new-preview");
    var picker = mentionPicker($("d-new-body"));
    wirePreview(form, $("d-new-body"), box);
    function close(focusToggle) {
      form.hidden = true;
      els.newToggle.setAttribute("aria-expanded", "false");
      if (focusToggle) { els.newToggle.focus(); }
    }
    els.newToggle.addEventListener("click", function () {
      if (!form.hidden) { close(false); return; }
      form.hidden = false;
      els.newToggle.setAttribute("aria-expanded", "true");
      $("d-new-title").focus();
    });
    form.querySelector('[data-action="cancel"]').addEventListener("click", function () { close(true); });
    form.addEventListener("keydown", function (event) { if (event.key === "Escape") { close(true); } });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (isSubmitting(form)) { return; }
      var data = {
        title: $("d-new-title").value, body: $("d-new-body").value, is_question: $("d-new-question").checked,
        mentions: picker.mentions()
      };
      if (state.settings.anonymous_allowed) { data.anonymous = $("d-new-anonymous").checked; }
      submitting(form, true);
      clearErrors();
      api("POST", API + "/threads", data).then(function (thread) {
        submitting(form, false);
        form.reset();
        box.hidden = true;
        form.querySelector('[data-action="preview"]').setAttribute("aria-expanded", "false");
        close(false);
        state.knownThreads[thread.id] = thread.last_activity_at;
        announce(STR.thread_posted);
        location.hash = "#/threads/" + thread.id;
      }, function (error) { submitting(form, false); showError(error); });
    });
  }

  // An editor under a post: kind "reply" posts a reply to it, "edit"/"moderate" changes it.
  function openEditor(article, post, kind) {
    var holder = slot(article, "form");
    var opener = article.querySelector('[data-action="' + (kind === "reply" ? "reply" : "edit") + '"]');
    if (holder.firstChild) {  // one editor per post: its own button closes it
      var sameButton = (holder.firstChild.getAttribute("data-kind") === "reply") === (kind === "reply");
      closeEditor(article, sameButton);
      if (sameButton) { return; }
    }
    var form = clone("d-tpl-editor");
    var id = "d-editor-" + post.id;
    var textarea = form.querySelector("textarea");
    var label = slot(form, "label");
    var hint = slot(form, "hint");
    var box = slot(form, "preview-box");
    var labels = editorLabels[kind];
    form.setAttribute("data-kind", kind);
    textarea.id = id;
    label.htmlFor = id;
    label.textContent = kind === "reply" ? format(STR.reply_to, { name: authorName(post.author_name, false) }) : labels.label;
    hint.id = id + "-hint";
    textarea.setAttribute("aria-describedby", hint.id);
    box.id = id + "-preview";
    form.querySelector('[data-action="preview"]').setAttribute("aria-controls", box.id);
    slot(form, "submit").textContent = labels.submit;
    var anonRow = slot(form, "anon");
    var anonBox = anonRow.querySelector("input");
    anonBox.id = id + "-anonymous";
    anonRow.querySelector("label").htmlFor = anonBox.id;
    anonRow.hidden = !(kind === "reply" && state.settings.anonymous_allowed);
    if (kind !== "reply") {
      // The API gives the rendered HTML; the Markdown source is used when it is sent as `body`.
      textarea.value = typeof post.body === "string" ? post.body : slot(article, "body").innerText.trim();
    }
    var picker = kind === "reply" ? mentionPicker(textarea) : null;  // edits send no mentions
    wirePreview(form, textarea, box);
    form.querySelector('[data-action="cancel"]').addEventListener("click", function () { closeEditor(article, true); });
    form.addEventListener("keydown", function (event) { if (event.key === "Escape") { closeEditor(article, true); } });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (isSubmitting(form)) { return; }
      submitting(form, true);
      clearErrors();
      var request = kind === "reply"
        ? api("POST", API + "/threads/" + state.threadId + "/posts", {
          parent_id: post.id, body: textarea.value, anonymous: !anonRow.hidden && anonBox.checked,
          mentions: picker.mentions()
        })
        : api("PATCH", API + "/posts/" + post.id, { body: textarea.value });
      request.then(function (saved) {
        closeEditor(article, false);
        announce(kind === "reply" ? STR.reply_posted : STR.post_updated);
        return loadThread(false, saved.id).catch(showError);
      }, function (error) { submitting(form, false); showError(error); });
    });
    holder.appendChild(form);
    if (opener) { opener.setAttribute("aria-expanded", "true"); }
    textarea.focus();
  }

  function closeEditor(article, focusOpener) {
    var holder = slot(article, "form");
    var form = holder.firstChild;
    if (!form) { return; }
    var kind = form.getAttribute("data-kind");
    holder.removeChild(form);
    var opener = article.querySelector('[data-action="' + (kind === "reply" ? "reply" : "edit") + '"]');
    if (opener) {
      opener.setAttribute("aria-expanded", "false");
      if (focusOpener) { opener.focus(); }
    }
  }

  // -- thread view -----------------------------------------------------------------------------
  function reactionControls(container, post) {
    clear(container);
    var counts = post.reactions || {};
    STR.reactions.forEach(function (pair) {
      var kind = pair[0];
      var count = counts[kind] || 0;
      if (!CAN_POST) {
        if (!count) { return; }
        var span = document.createElement("span");
        span.className = "d-reaction d-reaction--static";
        span.textContent = format(STR.reaction_given, { label: pair[1], n: count });
        container.appendChild(span);
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn--small d-reaction";
      button.setAttribute("data-kind", kind);
      var label = document.createElement("span");
      label.textContent = pair[1];
      var number = document.createElement("span");
      number.className = "d-reaction__count";
      number.textContent = String(count);
      button.appendChild(label);
      button.appendChild(document.createTextNode(" "));
      button.appendChild(number);
      button.addEventListener("click", function () {
        if (isBusy(button)) { return; }
        setBusy(button, true);
        api("POST", API + "/posts/" + post.id + "/reactions", { kind: kind }).then(function (result) {
          post.reactions = result.reactions;
          reactionControls(container, post);
          var again = container.querySelector('[data-kind="' + kind + '"]');
          if (again) { again.focus(); }
          announce(format(STR.reaction_given, { label: pair[1], n: result.reactions[kind] || 0 }));
          loadProgress();
        }, function (error) { setBusy(button, false); showError(error); });
      });
      container.appendChild(button);
    });
    container.hidden = !container.firstChild;
  }

  function postArticle(post) {
    var article = clone("d-tpl-post");
    article.id = "post-" + post.id;
    article.setAttribute("data-post-id", post.id);
    slot(article, "author").id = article.id + "-author";
    slot(article, "removed").id = article.id + "-removed";
    slot(article, "concealed").id = article.id + "-concealed";
    article.addEventListener("click", function (event) {
      var button = event.target.closest("[data-action]");
      if (!button || !article.contains(button) || button.closest(".d-editor")) { return; }
      var current = state.posts[post.id] || post;
      var action = button.getAttribute("data-action");
      if (action === "reply") { openEditor(article, current, "reply"); }
      else if (action === "edit") { openEditor(article, current, current.mine ? "edit" : "moderate"); }
      else if (action === "remove") { slot(article, "confirm").hidden = false; article.querySelector('[data-action="confirm-remove"]').focus(); }
      else if (action === "cancel-remove") { slot(article, "confirm").hidden = true; article.querySelector('[data-action="remove"]').focus(); }
      else if (action === "confirm-remove") { removePost(article, current); }
      else if (action === "accept") { acceptAnswer(button, current); }
      else if (action === "endorse") { postFlag(button, current, "endorsed", !current.endorsed); }
      else if (action === "hide") { postFlag(button, current, "hidden", !current.hidden); }
      else if (action === "flag") { toggleFlagForm(article, current); }
      else if (action === "cancel-flag") { closeFlagForm(article, true); }
    });
    return article;
  }

  function fillPost(article, post, isNew) {
    var thread = state.thread;
    // Removed, or hidden by a moderator (learners then get neither author nor body).
    var concealed = post.deleted || (!!post.hidden && !CAN_MODERATE);
    var replyable = CAN_POST && !concealed && post.depth < 2 && (!thread.locked || CAN_MODERATE);
    var editable = CAN_POST && !concealed && (post.mine || CAN_MODERATE);
    article.classList.toggle("d-post--removed", concealed);
    article.classList.toggle("d-post--mine", !!post.mine);
    slot(article, "author").textContent = concealed ? "" : authorName(post.author_name, post.mine);
    slot(article, "author").hidden = concealed;
    badges(slot(article, "badges"), {
      "new": isNew, accepted: thread.accepted_post_id === post.id && !concealed,
      endorsed: post.endorsed && !concealed, hidden: post.hidden && !post.deleted && CAN_MODERATE,
      anonymous: post.anonymous && !concealed && post.author_name !== "" && (CAN_MODERATE || post.mine)
    });
    fillWithTime(slot(article, "time"), STR.posted, post.created_at);
    slot(article, "edited").hidden = !post.edited || concealed;
    var body = slot(article, "body");
    var editing = slot(article, "form").firstChild && slot(article, "form").firstChild.getAttribute("data-kind") !== "reply";
    if (body.getAttribute("data-html") !== post.body_html && !editing) {
      setSanitisedHtml(body, post.body_html);
      body.setAttribute("data-html", post.body_html);
    }
    body.hidden = concealed;
    slot(article, "removed").hidden = !post.deleted;
    slot(article, "concealed").hidden = post.deleted || !concealed;
    reactionControls(slot(article, "reactions"), post);
    if (concealed) { slot(article, "reactions").hidden = true; }
    var actions = slot(article, "actions");
    actions.querySelector('[data-action="reply"]').hidden = !replyable;
    actions.querySelector('[data-action="edit"]').hidden = !editable;
    actions.querySelector('[data-action="remove"]').hidden = !editable;
    var acceptable = CAN_POST && thread.is_question && post.depth > 0 && !post.deleted && !concealed &&
      (state.isAsker || CAN_MODERATE);
    var accept = actions.querySelector('[data-action="accept"]');
    var isAccepted = thread.accepted_post_id === post.id;
    accept.hidden = !acceptable;
    accept.textContent = isAccepted ? STR.accepted : STR.accept;
    accept.setAttribute("aria-pressed", isAccepted ? "true" : "false");
    var moderatable = CAN_MODERATE && !post.deleted;
    var endorse = actions.querySelector('[data-action="endorse"]');
    endorse.hidden = !moderatable;
    endorse.textContent = post.endorsed ? STR.unendorse : STR.endorse;
    var hide = actions.querySelector('[data-action="hide"]');
    hide.hidden = !moderatable;
    hide.textContent = post.hidden ? STR.show : STR.hide;
    var flaggable = CAN_POST && !post.mine && !concealed;
    var flag = actions.querySelector('[data-action="flag"]');
    flag.hidden = !flaggable;
    flag.textContent = state.flagged[post.id] ? STR.flagged : STR.flag;
    setBusy(flag, !!state.flagged[post.id]);
    if (!flaggable) { closeFlagForm(article, false); }
    actions.hidden = !(replyable || editable || acceptable || moderatable || flaggable);
    if (!replyable && !editable) { closeEditor(article, false); slot(article, "confirm").hidden = true; }
    article.setAttribute("aria-labelledby", article.id + (post.deleted ? "-removed" : concealed ? "-concealed" : "-author"));
  }

  // Place every post: the opening post (depth 0), its replies (1) and theirs (2), keeping the
  // elements already shown so open editors and focus survive a refresh.
  function renderThread(detail, newIds) {
    var thread = detail.thread;
    state.thread = thread;
    els.threadTitle.textContent = thread.title;
    badges(slot(els.threadView, "badges"), { pinned: thread.pinned, question: thread.is_question, locked: thread.locked });
    fillWithTime(slot(els.threadView, "meta"),
      format(STR.started_by, { name: authorName(thread.author_name, false) }) + " · " + STR.last_activity, thread.last_activity_at);
    els.locked.hidden = !thread.locked;
    fillThreadActions(thread);
    var focused = document.activeElement;
    var byParent = {};
    var opening = null;
    state.posts = {};
    detail.posts.forEach(function (post) {
      state.posts[post.id] = post;
      if (post.depth === 0 || !post.parent_id) { opening = opening || post; return; }
      (byParent[post.parent_id] = byParent[post.parent_id] || []).push(post);
    });
    state.isAsker = !!(opening && opening.mine);
    function articleFor(post) {
      var article = document.getElementById("post-" + post.id);
      if (!article) { article = postArticle(post); }
      fillPost(article, post, !!newIds[post.id]);
      return article;
    }
    if (opening) {
      var first = articleFor(opening);
      first.classList.add("d-post--opening");
      if (els.opening.firstChild !== first) { clear(els.opening); els.opening.appendChild(first); }
    }
    function placeReplies(list, parentId) {
      var children = byParent[parentId] || [];
      children.forEach(function (post, index) {
        var item = list.querySelector(':scope > li[data-post-id="' + post.id + '"]');
        if (!item) {
          item = document.createElement("li");
          item.setAttribute("data-post-id", post.id);
          item.className = "d-reply d-reply--depth-" + post.depth;
        }
        var article = articleFor(post);
        if (item.firstElementChild !== article) { item.insertBefore(article, item.firstElementChild); }
        if (post.depth < 2) {
          var sub = item.querySelector(":scope > ol");
          if (!sub) { sub = document.createElement("ol"); sub.className = "d-replies"; item.appendChild(sub); }
          placeReplies(sub, post.id);
          sub.hidden = !sub.children.length;
        }
        if (list.children[index] !== item) { list.insertBefore(item, list.children[index] || null); }
      });
      while (list.children.length > children.length) { list.removeChild(list.lastElementChild); }
    }
    placeReplies(els.replies, opening ? opening.id : null);
    var replyCount = detail.posts.length - (opening ? 1 : 0);
    els.repliesTitle.textContent = replyCount ? plural(STR.replies, replyCount) : STR.no_replies;
    els.replies.hidden = !replyCount;
    if (focused && focused !== document.activeElement && document.body.contains(focused)) { focused.focus(); }
  }

  function loadThread(polling, focusPostId) {
    var threadId = state.threadId;
    return api("GET", API + "/threads/" + threadId).then(function (detail) {
      if (state.threadId !== threadId) { return; }  // the user moved on meanwhile
      var first = state.seenPosts === null;
      var fresh = [];
      if (first) { state.seenPosts = {}; }
      detail.posts.forEach(function (post) {
        if (!first && !state.seenPosts[post.id] && post.id !== focusPostId && !post.mine) {
          state.newPosts[post.id] = true;  // marked "New" until the thread is opened again
          fresh.push(post);
        }
        state.seenPosts[post.id] = true;
      });
      renderThread(detail, state.newPosts);
      state.knownThreads[detail.thread.id] = detail.thread.last_activity_at;
      loadProgress();
      if (first || fresh.length) {  // seen as it is now: its "new since your last visit" mark clears
        api("POST", API + "/threads/" + threadId + "/read").catch(function () { /* not worth an alert */ });
      }
      markChecked();
      root.setAttribute("data-state", "ready");
      if (fresh.length && polling) {
        var names = [];
        fresh.forEach(function (post) {
          var name = authorName(post.author_name, false);
          if (names.indexOf(name) < 0) { names.push(name); }
        });
        announce(plural(STR.new_replies, fresh.length) + ": " + names.join(", ") + ".");
      }
      if (focusPostId) {
        var target = document.getElementById("post-" + focusPostId);
        if (target) { target.focus(); }
      }
    });
  }

  // -- question, moderation and flag actions ----------------------------------------------------
  function act(button, request, message) {
    if (isBusy(button)) { return; }
    setBusy(button, true);
    clearErrors();
    request().then(function () {
      announce(message);
      return loadThread(false);
    }).catch(showError).then(function () {
      setBusy(button, false);
      if (document.body.contains(button) && !button.hidden) { button.focus(); }
    });
  }
  function acceptAnswer(button, post) {
    var clearing = state.thread.accepted_post_id === post.id;
    act(button, function () {
      return api("POST", API + "/threads/" + state.threadId + "/accepted", { post_id: clearing ? null : post.id });
    }, clearing ? STR.answer_cleared : STR.answer_accepted);
  }
  function postFlag(button, post, what, value) {
    act(button, function () { return api("POST", API + "/posts/" + post.id + "/" + what, { value: value }); }, STR.saved);
  }
  // GET /threads/<id> does not say whether I follow the thread (the list does): the page keeps what
  // it learnt from the list and from its own changes.
  function isFollowing(thread) {
    return Object.prototype.hasOwnProperty.call(state.following, thread.id) ? state.following[thread.id] : !!thread.following;
  }
  function fillThreadActions(thread) {
    if (!els.threadActions) { return; }
    var labels = {
      follow: isFollowing(thread) ? STR.unfollow : STR.follow,
      pin: thread.pinned ? STR.unpin : STR.pin,
      lock: thread.locked ? STR.unlock : STR.lock
    };
    Array.prototype.forEach.call(els.threadActions.querySelectorAll("[data-thread-action]"), function (button) {
      button.textContent = labels[button.getAttribute("data-thread-action")];
    });
  }
  function threadAction(button) {
    var thread = state.thread;
    if (!thread) { return; }
    var what = button.getAttribute("data-thread-action");
    act(button, function () {
      if (what === "follow") {
        var value = !isFollowing(thread);
        return api("POST", API + "/threads/" + thread.id + "/following", { value: value }).then(function () {
          state.following[thread.id] = value;
        });
      }
      var body = what === "pin" ? { pinned: !thread.pinned } : { locked: !thread.locked };
      return api("POST", API + "/threads/" + thread.id + "/moderation", body);
    }, STR.saved);
  }

  function toggleFlagForm(article, post) {
    var holder = slot(article, "flag");
    var opener = article.querySelector('[data-action="flag"]');
    if (isBusy(opener)) { return; }
    if (holder.firstChild) { closeFlagForm(article, true); return; }
    var form = clone("d-tpl-flag");
    var input = form.querySelector("input");
    input.id = "d-flag-" + post.id;
    form.querySelector("label").htmlFor = input.id;
    form.addEventListener("keydown", function (event) { if (event.key === "Escape") { closeFlagForm(article, true); } });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (isSubmitting(form)) { return; }
      submitting(form, true);
      clearErrors();
      api("POST", API + "/posts/" + post.id + "/flags", { reason: input.value }).then(function () {
        state.flagged[post.id] = true;
        closeFlagForm(article, false);
        opener.textContent = STR.flagged;
        setBusy(opener, true);
        opener.focus();
        announce(STR.flag_sent);
      }, function (error) { submitting(form, false); showError(error); });
    });
    holder.appendChild(form);
    opener.setAttribute("aria-expanded", "true");
    input.focus();
  }
  function closeFlagForm(article, focusOpener) {
    var holder = slot(article, "flag");
    if (!holder.firstChild) { return; }
    clear(holder);
    var opener = article.querySelector('[data-action="flag"]');
    opener.setAttribute("aria-expanded", "false");
    if (focusOpener) { opener.focus(); }
  }

  // -- panels: notifications and the moderation queue ------------------------------------------
  function setUnread(n) {
    if (!els.notifCount) { return; }
    els.notifCount.textContent = String(n);
    els.notifCount.hidden = !n;
    els.notifSr.textContent = n ? " " + plural(STR.unread, n) : "";
  }
  function loadNotifications() {
    if (!els.notifToggle) { return Promise.resolve(null); }
    return api("GET", API + "/notifications").then(function (inbox) {
      if (els.notifPanel.hidden) { setUnread(inbox.unread); }
      return inbox;
    });
  }
  function renderNotifications(inbox) {
    var list = slot(els.notifPanel, "list");
    clear(list);
    inbox.notifications.forEach(function (n) {
      var item = clone("d-tpl-notification");
      var kinds = STR.notification_kinds;
      var text = Object.prototype.hasOwnProperty.call(kinds, n.kind) ? kinds[n.kind] : STR.notification_other;
      slot(item, "text").textContent = format(text, { name: n.actor_name || STR.actor_unknown });
      var link = slot(item, "link");
      link.href = "#/threads/" + n.thread_id;
      link.textContent = n.thread_title;
      link.addEventListener("click", function () { closePanel(els.notifPanel, els.notifToggle, false); });
      fillWithTime(slot(item, "time"), "{time}", n.created_at);
      if (!n.read) { item.classList.add("d-panel__item--unread"); }
      list.appendChild(item);
    });
    var empty = slot(els.notifPanel, "empty");
    empty.textContent = STR.no_notifications;
    empty.hidden = inbox.notifications.length > 0;
  }
  function closePanel(panel, toggle, focusToggle) {
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    if (focusToggle) { toggle.focus(); }
  }
  // One panel open at a time: opening one closes the others.
  function closeOtherPanels(panel) {
    [[els.notifPanel, els.notifToggle], [els.queuePanel, els.queueToggle], [els.completionPanel, els.completionToggle]].forEach(function (pair) {
      if (pair[0] && pair[0] !== panel) { closePanel(pair[0], pair[1], false); }
    });
  }
  function openNotifications() {
    if (!els.notifPanel.hidden) { closePanel(els.notifPanel, els.notifToggle, false); return; }
    closeOtherPanels(els.notifPanel);
    els.notifPanel.hidden = false;
    els.notifToggle.setAttribute("aria-expanded", "true");
    clear(slot(els.notifPanel, "list"));
    var empty = slot(els.notifPanel, "empty");
    empty.textContent = STR.loading;
    empty.hidden = false;
    api("GET", API + "/notifications").then(function (inbox) {
      renderNotifications(inbox);
      $("d-notif-title").focus();
      if (!inbox.unread) { return null; }
      return api("POST", API + "/notifications/read").then(function () { setUnread(0); });
    }).catch(showError);
  }

  function threadTitle(id) {
    var listed = state.threads.filter(function (t) { return t.id === id; })[0];
    if (listed) { return Promise.resolve(listed.title); }
    return api("GET", API + "/threads/" + id).then(function (detail) { return detail.thread.title; },
      function () { return STR.unknown_thread; });
  }
  function openQueue() {
    if (!els.queuePanel.hidden) { closePanel(els.queuePanel, els.queueToggle, false); return; }
    closeOtherPanels(els.queuePanel);
    els.queuePanel.hidden = false;
    els.queueToggle.setAttribute("aria-expanded", "true");
    var list = slot(els.queuePanel, "list");
    var empty = slot(els.queuePanel, "empty");
    clear(list);
    empty.textContent = STR.loading;
    empty.hidden = false;
    api("GET", API + "/moderation/flags").then(function (result) {
      var titles = {};
      result.flags.forEach(function (f) { titles[f.thread_id] = true; });
      return Promise.all(Object.keys(titles).map(function (id) {
        return threadTitle(id).then(function (title) { titles[id] = title; });
      })).then(function () {
        result.flags.forEach(function (f) { list.appendChild(flagItem(f, titles[f.thread_id])); });
        empty.textContent = STR.no_flags;
        empty.hidden = result.flags.length > 0;
        $("d-queue-title").focus();
      });
    }).catch(showError);
  }
  function flagItem(f, title) {
    var item = clone("d-tpl-flag-item");
    item.setAttribute("data-flag-id", f.id);
    var link = slot(item, "link");
    link.id = "d-flag-link-" + f.id;
    link.href = "#/threads/" + f.thread_id;
    link.textContent = format(STR.flag_in, { title: title });
    link.addEventListener("click", function () { closePanel(els.queuePanel, els.queueToggle, false); });
    slot(item, "reason").textContent = f.reason || STR.no_reason;
    fillWithTime(slot(item, "time"), STR.flagged_at, f.created_at);
    var resolve = slot(item, "resolve");
    resolve.setAttribute("aria-describedby", link.id);
    resolve.addEventListener("click", function () {
      if (isBusy(resolve)) { return; }
      setBusy(resolve, true);
      api("POST", API + "/moderation/flags/" + f.id + "/resolved").then(function () {
        var next = item.nextElementSibling || item.previousElementSibling;
        item.parentNode.removeChild(item);
        announce(STR.flag_resolved);
        var empty = slot(els.queuePanel, "empty");
        empty.textContent = STR.no_flags;
        empty.hidden = !!next;
        if (next) { slot(next, "resolve").focus(); } else { $("d-queue-title").focus(); }
      }, function (error) { setBusy(resolve, false); showError(error); });
    });
    return item;
  }


  // -- completion: the learner's progress, the instructor's rule and learners' standing --------
  // Rules and standing come from /api/v1/completions. Criterion labels are templates from the
  // server ("Threads to start: {count}"); names are shown as text. Deliveries are the latest ledger
  // entry's, per target: the learner hears about the gradebook ones only.
  var CSTR = STR.completion;
  var percent = typeof Intl !== "undefined" && Intl.NumberFormat
    ? new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 0 })
    : { format: function (x) { return Math.round(x * 100) + "%"; } };
  function criterionLabel(template, count) { return format(template, { count: count }); }
  function hasRule(rules) { return !!(rules && rules.version > 0 && rules.criteria.length); }

  // "Your progress" (learners): refreshed whenever the page refreshes its data (after posting,
  // reacting, and with every poll); what is newly done is announced.
  function loadProgress() {
    if (!els.progress || state.sessionEnded) { return; }
    var ticket = ++state.progressAsked;
    api("GET", COMPLETIONS_API + "/me").then(function (mine) {
      if (ticket === state.progressAsked) { renderProgress(mine); }
    }, function () { /* the page's own refresh reports failures; the panel keeps what it shows */ });
  }
  function renderProgress(mine) {
    var rules = mine.rules;
    var standing = mine.standing;
    var panel = els.progress;
    if (!hasRule(rules) || !standing) { panel.hidden = true; state.progress = null; return; }
    var before = state.progress;
    var list = slot(panel, "criteria");
    clear(list);
    rules.criteria.forEach(function (criterion) {
      var item = clone("d-tpl-progress-item");
      var count = (standing.counts && standing.counts[criterion.key]) || 0;
      var met = standing.met.indexOf(criterion.key) >= 0;
      item.setAttribute("data-key", criterion.key);
      item.classList.toggle("d-progress__item--met", met);
      slot(item, "label").textContent = criterion.label;
      slot(item, "count").textContent = format(CSTR.met, { n: Math.min(count, criterion.count), total: criterion.count });
      slot(item, "done").hidden = !met;
      list.appendChild(item);
    });
    var summary = slot(panel, "summary");
    panel.classList.toggle("d-progress--complete", !!standing.completed_at);
    if (standing.completed_at) { fillWithDate(summary, CSTR.completed_on, standing.completed_at); }
    else { summary.textContent = format(CSTR.summary, { n: standing.met.length, total: rules.criteria.length }); }
    fillGradebook(slot(panel, "gradebook"), standing.deliveries || []);
    panel.hidden = false;
    state.progress = { version: rules.version, met: standing.met.slice(), complete: !!standing.completed_at };
    // Said only for a change seen on this page (not on opening it, nor when the rule changes).
    if (before && before.version === rules.version) {
      if (state.progress.complete && !before.complete) { announce(CSTR.now_complete); return; }
      var fresh = rules.criteria.filter(function (c) {
        return standing.met.indexOf(c.key) >= 0 && before.met.indexOf(c.key) < 0;
      });
      if (fresh.length) { announce(fresh.map(function (c) { return format(CSTR.now_met, { label: c.label }); }).join(" ")); }
    }
  }
  // Where the learner's latest result stands with the LMS gradebook (nothing if none is set up).
  function fillGradebook(el, deliveries) {
    var mine = deliveries.filter(function (d) { return GRADEBOOK_TARGETS.indexOf(d.connector) >= 0; });
    el.hidden = !mine.length;
    clear(el);
    if (!mine.length) { return; }
    var rank = { dead: 0, pending: 1, delivered: 2 };  // the worst state speaks for all of them
    mine.sort(function (a, b) { return (rank[a.status] || 0) - (rank[b.status] || 0); });
    var worst = mine[0];
    el.setAttribute("data-status", worst.status);
    if (worst.status === "delivered" && worst.delivered_at) { fillWithDate(el, CSTR.gradebook_sent, worst.delivered_at); }
    else if (worst.status === "dead") { el.textContent = CSTR.gradebook_failed; }
    else if (worst.attempts > 0) { el.textContent = CSTR.gradebook_retrying; }
    else { el.textContent = CSTR.gradebook_waiting; }
  }

  // The instructor's panel: the rule form and the learners' table.
  var REASON_SHOWN = 160;  // characters of a target's last answer shown in the table
  function deliveryText(d) {
    var status;
    if (d.status === "delivered") { status = format(CSTR.delivered, { target: d.connector }); }
    else if (d.status === "dead") { status = format(plural(CSTR.failed, d.attempts), { target: d.connector }); }
    else if (d.attempts > 0) { status = format(plural(CSTR.retrying, d.attempts), { target: d.connector }); }
    else { status = format(CSTR.waiting, { target: d.connector }); }
    var reason = (d.last_reason || "").trim();
    if (!reason || d.status === "delivered") { return status; }
    if (reason.length > REASON_SHOWN) { reason = reason.slice(0, REASON_SHOWN - 1) + "…"; }
    return format(CSTR.reason, { status: status, reason: reason });
  }

  function setUpCompletion() {
    var panel = els.completionPanel;
    if (!panel) { return; }
    var form = $("d-rule-form");
    var message = $("d-rule-message");
    var criteriaBox = $("d-rule-criteria");
    var refresh = $("d-learners-refresh");
    var rows = {};  // criterion key → { box, number, label, countFor, template }

    function showMessage(text, isError, reference, items) {
      clear(message);
      var line = document.createElement("p");
      line.textContent = text;
      message.appendChild(line);
      if (items && items.length) {
        var list = document.createElement("ul");
        items.forEach(function (text) {
          var item = document.createElement("li");
          item.textContent = text;
          list.appendChild(item);
        });
        message.appendChild(list);
      }
      if (reference) {
        var ref = document.createElement("p");
        ref.className = "muted d-small";
        ref.textContent = format(STR.reference, { id: reference });
        message.appendChild(ref);
      }
      message.classList.toggle("notice--error", !!isError);
      message.classList.toggle("notice--ok", !isError);
      message.hidden = false;
      if (isError) { criteriaBox.setAttribute("aria-describedby", message.id); }
      else { criteriaBox.removeAttribute("aria-describedby"); }
    }
    function hideMessage() {
      message.hidden = true;
      clear(message);
      criteriaBox.removeAttribute("aria-describedby");
      Object.keys(rows).forEach(function (key) { rows[key].number.removeAttribute("aria-invalid"); });
    }
    function relabel(row) {
      var n = Number(row.number.value);
      var shown = row.number.value !== "" && Number.isInteger(n) && n > 0 ? n : "…";
      row.label.textContent = criterionLabel(row.template, shown);
      row.countFor.textContent = " " + format(CSTR.count_for, { label: row.label.textContent });
    }
    function renderRule(rules) {
      var version = $("d-rule-version");
      version.textContent = rules.version ? format(CSTR.version, { n: rules.version }) : CSTR.no_rule;
      version.setAttribute("data-version", String(rules.version));
      var chosen = {};
      rules.criteria.forEach(function (c) { chosen[c.key] = c; });
      var holder = slot(criteriaBox, "criteria");
      clear(holder);
      rows = {};
      rules.offered.forEach(function (offer, index) {
        var el = clone("d-tpl-criterion");
        var box = el.querySelector('input[type="checkbox"]');
        var number = el.querySelector('input[type="number"]');
        var label = slot(el, "label");
        var countLabel = slot(el, "count-label");
        box.id = "d-rule-c" + index;
        number.id = box.id + "-count";
        label.htmlFor = box.id;
        countLabel.htmlFor = number.id;
        box.value = offer.key;
        box.checked = !!chosen[offer.key];
        number.value = String(chosen[offer.key] ? chosen[offer.key].count : 1);
        var row = { box: box, number: number, label: label, countFor: slot(el, "count-for"), template: offer.label };
        rows[offer.key] = row;
        relabel(row);
        number.addEventListener("input", function () { relabel(row); number.removeAttribute("aria-invalid"); });
        holder.appendChild(el);
      });
      var mode = rules.score_mode === "progress" ? "progress" : "completion";
      $("d-score-" + mode).checked = true;
      form.hidden = false;
      slot(panel, "loading").hidden = true;
    }
    // What was wrong with a refused rule: the API's `details.problems` name a criterion by its
    // place in what was sent ("criteria[1]: ..."), said here with the criterion's label; a refusal
    // of the criteria without problems means none was chosen.
    function problemsOf(error, sent) {
      var details = error.details || {};
      if (Array.isArray(details.problems) && details.problems.length) {
        return details.problems.map(function (problem) {
          return String(problem).replace(/^criteria\[(\d+)\]:\s*/, function (match, index) {
            var criterion = sent[Number(index)];
            var row = criterion && rows[criterion.key];
            return row ? format(CSTR.problem_in, { label: criterionLabel(row.template, criterion.count) }) : match;
          });
        });
      }
      // The API says "Choose at least one criterion." itself (its own code); older answers did not.
      if (details.field === "criteria" && error.code !== "invalid_completion_rule") {
        return [CSTR.choose_one];
      }
      return [];
    }
    function renderLearners(result) {
      var body = $("d-learners");
      var status = $("d-learners-status");
      var wrap = $("d-learners-wrap");
      var total = result.rules.criteria.length;
      clear(body);
      result.learners.forEach(function (learner) {
        var row = clone("d-tpl-learner-row");
        row.setAttribute("data-user-id", learner.user_id);
        slot(row, "name").textContent = learner.name;
        slot(row, "met").textContent = format(CSTR.met, { n: learner.met.length, total: total });
        slot(row, "score").textContent = percent.format(Number(learner.score) || 0);
        var completed = slot(row, "completed");
        if (learner.completed_at) { fillWithDate(completed, "{time}", learner.completed_at); }
        else { completed.textContent = CSTR.not_yet; }
        var list = slot(row, "deliveries");
        (learner.deliveries || []).forEach(function (d) {
          var item = document.createElement("li");
          item.setAttribute("data-status", d.status);
          item.textContent = deliveryText(d);
          list.appendChild(item);
        });
        if (!list.firstChild) {
          var none = document.createElement("li");
          none.className = "muted";
          // Something is recorded (so due to be sent) once completed, or in progress mode a score.
          none.textContent = learner.completed_at || Number(learner.score) > 0 ? CSTR.no_targets : CSTR.nothing_sent;
          list.appendChild(none);
        }
        body.appendChild(row);
      });
      var empty = !hasRule(result.rules) ? CSTR.needs_rule : (result.learners.length ? "" : CSTR.no_learners);
      status.textContent = empty;
      status.hidden = !empty;
      wrap.hidden = !hasRule(result.rules) || !result.learners.length;
    }
    function loadLearners() {
      return api("GET", COMPLETIONS_API + "/learners").then(function (result) {
        renderLearners(result);
        return result;
      });
    }

    function open() {
      if (!panel.hidden) { closePanel(panel, els.completionToggle, false); return; }
      closeOtherPanels(panel);
      panel.hidden = false;
      els.completionToggle.setAttribute("aria-expanded", "true");
      form.hidden = true;
      hideMessage();
      slot(panel, "loading").hidden = false;
      $("d-learners-status").hidden = true;
      $("d-learners-wrap").hidden = true;
      loadLearners().then(function (result) {
        renderRule(result.rules);
        $("d-completion-title").focus();
      }).catch(showError);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (isSubmitting(form)) { return; }
      hideMessage();
      var criteria = [];
      var invalid = null;
      Object.keys(rows).forEach(function (key) {
        var row = rows[key];
        if (!row.box.checked) { return; }
        var n = Number(row.number.value);
        if (row.number.value === "" || !Number.isInteger(n) || n < 1) {
          row.number.setAttribute("aria-invalid", "true");
          invalid = invalid || row;
          return;
        }
        criteria.push({ key: key, count: n });
      });
      if (invalid) {
        showMessage(format(CSTR.whole_number, { label: criterionLabel(invalid.template, "…") }), true);
        message.focus();
        return;
      }
      var mode = form.querySelector('input[name="score_mode"]:checked');
      var before = $("d-rule-version").getAttribute("data-version");
      submitting(form, true);
      clearErrors();
      api("PUT", COMPLETIONS_API + "/rules", { criteria: criteria, score_mode: mode ? mode.value : "completion" }).then(function (rules) {
        submitting(form, false);
        renderRule(rules);
        var text = String(rules.version) === before ? format(CSTR.unchanged, { n: rules.version }) : format(CSTR.saved, { n: rules.version });
        showMessage(text, false);
        announce(text);
        return loadLearners();
      }, function (error) {
        submitting(form, false);
        if (error.status === 401 || error.status === 0) { showError(error); return; }
        showMessage(error.message, true, error.status >= 500 ? error.requestId : null, problemsOf(error, criteria));
        message.focus();
      }).catch(showError);
    });

    refresh.addEventListener("click", function () {
      if (isBusy(refresh)) { return; }
      setBusy(refresh, true);
      clearErrors();
      loadLearners().then(function (result) {
        if (!form.hidden && $("d-rule-version").getAttribute("data-version") !== String(result.rules.version)) {
          renderRule(result.rules);  // another instructor changed the rule meanwhile
        }
        announce(CSTR.learners_updated);
      }).catch(showError).then(function () { setBusy(refresh, false); });
    });
    els.completionToggle.addEventListener("click", open);
  }

  function applySettings(settings) {
    state.settings = settings;
    var anonRow = $("d-new-anon-row");
    if (anonRow) { anonRow.hidden = !settings.anonymous_allowed; }
    if (els.newToggle && !CAN_MODERATE) {
      var closed = settings.thread_starters === "moderators";
      els.newToggle.hidden = closed;
      if (closed) { els.newForm.hidden = true; }
    }
  }

  function removePost(article, post) {
    var confirm = article.querySelector('[data-action="confirm-remove"]');
    if (isBusy(confirm)) { return; }
    setBusy(confirm, true);
    api("DELETE", API + "/posts/" + post.id).then(function () {
      slot(article, "confirm").hidden = true;
      announce(STR.post_removed);
      return loadThread(false, post.id);
    }).catch(showError).then(function () { setBusy(confirm, false); });
  }

  // -- navigation: "#/" is the list, "#/threads/<id>" a thread ---------------------------------
  var THREAD_HASH = /^#\/threads\/([0-9a-fA-F-]{36})$/;
  function route() {
    var match = THREAD_HASH.exec(location.hash);
    clearErrors();
    if (match) {
      state.threadId = match[1];
      state.lastOpened = match[1];
      var seenBadge = els.list.querySelector('[data-thread-id="' + match[1] + '"] [data-badge="new"]');
      if (seenBadge) { seenBadge.parentNode.removeChild(seenBadge); }
      state.seenPosts = null;
      state.newPosts = {};
      state.thread = null;
      clear(els.opening);
      clear(els.replies);
      var listed = state.threads.filter(function (t) { return t.id === match[1]; })[0];
      els.threadTitle.textContent = listed ? listed.title : STR.loading;
      slot(els.threadView, "meta").textContent = "";
      badges(slot(els.threadView, "badges"), {});
      els.repliesTitle.textContent = "";
      els.locked.hidden = true;
      els.listView.hidden = true;
      els.threadView.hidden = false;
      els.threadTitle.focus();
      loadThread(false).catch(function (error) {
        showError(error);
        if (error.status === 404) { els.threadTitle.textContent = ""; }
      });
      return;
    }
    var wasInThread = state.threadId !== null;
    state.threadId = null;
    els.threadView.hidden = true;
    els.listView.hidden = false;
    loadList(false).then(function () {
      var link = state.lastOpened && els.list.querySelector('[data-thread-id="' + state.lastOpened + '"] .d-thread__link');
      if (wasInThread && link) { link.focus(); }
    }).catch(showError);
  }

  // -- polling ---------------------------------------------------------------------------------
  function schedulePoll() {
    clearTimeout(state.pollTimer);
    if (!state.sessionEnded) { state.pollTimer = setTimeout(poll, POLL_MS); }
  }
  function poll() {
    if (document.hidden || state.busy) { schedulePoll(); return; }
    state.busy = true;
    var refresh = Promise.all([state.threadId !== null ? loadThread(true) : loadList(true), loadNotifications()]);
    refresh.catch(function (error) {
      if (error.status === 0) { els.status.setAttribute("data-state", "offline"); }
      showError(error);
    }).then(function () { state.busy = false; schedulePoll(); });
  }

  // -- start -----------------------------------------------------------------------------------
  els.sort.addEventListener("change", function () {
    state.sort = els.sort.value;
    state.threads = [];
    state.nextCursor = null;
    loadList(false).catch(showError);
  });
  els.loadMore.addEventListener("click", loadMore);
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !state.sessionEnded) { clearTimeout(state.pollTimer); poll(); }
  });
  setUpNewThread();
  if (els.threadActions) {
    els.threadActions.addEventListener("click", function (event) {
      var button = event.target.closest("[data-thread-action]");
      if (button) { threadAction(button); }
    });
  }
  if (els.notifToggle) { els.notifToggle.addEventListener("click", openNotifications); }
  if (els.queueToggle) { els.queueToggle.addEventListener("click", openQueue); }
  setUpCompletion();
  [[els.notifPanel, els.notifToggle], [els.queuePanel, els.queueToggle], [els.completionPanel, els.completionToggle]].forEach(function (pair) {
    if (!pair[0]) { return; }
    pair[0].addEventListener("keydown", function (event) {
      if (event.key === "Escape") { closePanel(pair[0], pair[1], true); }
    });
  });

  // The session first (who and where, and proof the token works), then the page's content.
  api("GET", root.getAttribute("data-session-api")).then(function () {
    els.status.setAttribute("data-state", "ok");
    return api("GET", API + "/settings").then(applySettings, showError).then(function () {
      route();
      loadNotifications().catch(function () { /* shown by the next poll */ });
      schedulePoll();
    });
  }, function (error) {
    els.status.setAttribute("data-state", "failed");
    els.status.textContent = STR.not_connected;
    els.listStatus.hidden = true;
    showError(error);
  });
})();
