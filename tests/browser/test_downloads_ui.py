"""The download center in headless Chromium against a real gunicorn and a local feed server: the admin
gate, adding and running a task with live counters while the pictures appear in an open gallery tab,
preview and picking entries, pause/resume, history, logs, delete, the config form's field errors,
and OPML export and import."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ADMIN_SECRET
from tests.support import images
from tests.support.feed_server import feed_server
from tests.support.servers import Gunicorn

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails, in CI) saying why
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.integration]
ADMIN = {"X-Admin-Secret": ADMIN_SECRET, "Connection": "close"}
WAIT_MS = 15_000
VIEWS = Path(__file__).resolve().parents[2] / "static" / "js" / "views"
LIVE_OPEN = '#live-dot[data-state="open"]'
# Every text the progress cell of a row shows while the page is open (to prove it changed live).
WATCH_PROGRESS = """() => {
  window.progressSeen = [];
  new MutationObserver(() => {
    for (const cell of document.querySelectorAll('#dl-tasks [data-progress]'))
      if (cell.textContent && !window.progressSeen.includes(cell.textContent))
        window.progressSeen.push(cell.textContent);
  }).observe(document.getElementById('dl-tasks'), { subtree: true, childList: true, characterData: true });
}"""
SAME_COLOR_AS_DANGER = """(el) => {
  const probe = document.createElement('span');
  probe.style.color = 'var(--danger)';
  document.body.append(probe);
  const danger = getComputedStyle(probe).color;
  probe.remove();
  return [getComputedStyle(el).color, danger];
}"""


def rss(srv, count: int) -> bytes:
    items = "".join(
        f"<item><guid>post-{n}</guid><title>Photo {n}</title><link>{srv.url(f'/posts/{n}')}</link>"
        f"<pubDate>Mon, 0{n + 1} Jan 2024 10:00:00 GMT</pubDate>"
        f'<enclosure url="{srv.url(f"/img/{n}.jpg")}" type="image/jpeg"/></item>'
        for n in range(count))
    channel = f"<channel><title>Local photos</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


@pytest.fixture
def feed(tmp_path):
    """A feed of three pictures (a fourth is served, for when the feed grows)."""
    with feed_server() as srv:
        for n in range(4):
            data = images.jpeg(tmp_path / "src" / f"{n}.jpg", (160, 120), color=(40 + n * 50, 90, 200 - n * 30))
            srv.route(f"/img/{n}.jpg", data.read_bytes(), headers={"Content-Type": "image/jpeg"})
        srv.route("/feed.xml", rss(srv, 3), headers={"Content-Type": "application/rss+xml"})
        yield srv


@pytest.fixture
def server(env, tmp_path, db, photos_dir, feed):
    """A gunicorn whose download config allows the loopback feed server (as the owner would set it)."""
    (photos_dir / "Feeds" / "Test").mkdir(parents=True)
    with Gunicorn(env, tmp_path / "gunicorn.log") as running:
        answer = requests.put(running.url + "/api/download/config", headers=ADMIN, timeout=5, json={
            "allowPrivateHosts": True, "allowedPorts": [80, 443, feed.port], "minImageBytes": 100,
            "minImageWidth": 16, "minImageHeight": 16})
        assert answer.status_code == 200, answer.text
        yield running
    assert "Traceback" not in running.log(), running.log()[-3000:]


@pytest.fixture
def errors(page):
    """Uncaught exceptions and unhandled rejections in the page; each test ends asserting there were none."""
    seen: list[str] = []
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def api(server, method, path, **kwargs):
    answer = requests.request(method, f"{server.url}/api/download/{path}", headers=ADMIN, timeout=10, **kwargs)
    assert answer.ok, answer.text
    return answer.json() if answer.content else None


def wait_for_run(server, task_id, saved):
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        task = api(server, "GET", f"tasks/{task_id}")
        if task["stats"]["imagesSaved"] >= saved and not task["active"]:
            return task
        time.sleep(0.2)
    raise AssertionError(f"the run did not save {saved} pictures: {task}\n{server.log()[-3000:]}")


def assert_clean_text(page):
    """No value leaked into the page unformatted (a null child, an array passed where nodes go)."""
    text = page.inner_text("#view")
    assert not re.search(r"\bnull\b|\bundefined\b|\[object |\bNaN\b", text), text


def unlock(page, server):
    page.goto(server.url + "/#/downloads")
    page.fill("#admin-secret", ADMIN_SECRET)
    page.click("#admin-form [type=submit]")
    page.locator("#dl-tasks").wait_for()
    page.locator(LIVE_OPEN).wait_for()


# Tests name `server` before `page` so the browser closes first: with an event stream still open,
# gunicorn's graceful stop waits its whole graceful_timeout (10 s) before exiting.
def test_unlock_add_and_run_a_task_counters_and_gallery_update_live(server, page, errors, feed, photos_dir):
    gallery = page.context.new_page()
    gallery.goto(server.url + "/#/browse/Feeds/Test")
    gallery.locator(LIVE_OPEN).wait_for()
    expect(gallery.locator(".empty")).to_be_visible()
    gallery.evaluate("window.sameDocument = true")
    page.bring_to_front()  # a background tab gets no animation frames: every click would wait for them

    page.goto(server.url + "/#/downloads")
    page.fill("#admin-secret", "not the secret")
    page.click("#admin-form [type=submit]")
    expect(page.locator("#admin-message")).to_contain_text(re.compile(r"\b4\b"))
    page.fill("#admin-secret", ADMIN_SECRET)
    page.click("#admin-form [type=submit]")
    expect(page.locator("#dl-tasks")).to_be_visible()
    expect(page.locator("#dl-status [data-stat=tasks]")).to_contain_text("0")
    page.locator(LIVE_OPEN).wait_for()

    page.click("#dl-add")
    form = page.locator("#dl-task-form")
    form.locator("[name=feedUrl]").fill(feed.url("/feed.xml"))
    form.locator("[name=targetFolder]").fill("Feeds/Test")
    form.locator("[name=tags]").fill("local, test")
    form.locator("[name=status]").select_option("paused")  # so the run below is the one we start
    form.locator("[name=interval]").fill("2")
    form.locator("[type=submit]").click()
    expect(form.locator("[name=interval]")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[data-error-for=interval]")).to_contain_text("interval")
    form.locator("[name=interval]").fill("30")
    form.locator("[type=submit]").click()
    expect(form).to_have_count(0)

    row = page.locator("#dl-tasks tr[data-task-id]")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "paused")
    expect(row.locator("td[data-col=stats]")).to_have_attribute("data-saved", "0")
    task = api(server, "GET", f"tasks/{row.get_attribute('data-task-id')}")
    assert (task["interval"], task["tags"], task["targetFolder"], task["status"]) == (
        30, ["local", "test"], "Feeds/Test", "paused")
    assert row.locator("a.dl-task-title").get_attribute("href") == "#/browse/Feeds/Test"

    page.evaluate("window.sameDocument = true")
    page.evaluate(WATCH_PROGRESS)
    row.locator("[data-action=run]").click()
    expect(row.locator("td[data-col=stats]")).to_have_attribute("data-saved", "3", timeout=WAIT_MS)
    expect(row.locator("td[data-col=last]")).not_to_have_text("never")
    expect(page.locator("#dl-status [data-stat=saved]")).to_contain_text("3")
    assert page.evaluate("window.sameDocument") is True  # updated in place, never reloaded
    assert_clean_text(page)
    assert any("saved" in text for text in page.evaluate("window.progressSeen")), page.evaluate("window.progressSeen")

    cards = gallery.locator(".media-card")
    expect(cards).to_have_count(3, timeout=WAIT_MS)
    assert gallery.evaluate("window.sameDocument") is True  # the gallery tab refreshed itself from the events
    assert sorted(cards.evaluate_all("cards => cards.map((c) => c.dataset.path)")) == [
        f"Feeds/Test/Photo {n}.jpg" for n in range(3)]
    assert sorted(p.name for p in (photos_dir / "Feeds" / "Test").iterdir()) == [f"Photo {n}.jpg" for n in range(3)]

    row.locator("a.dl-task-title").click()
    expect(page.locator(".media-card")).to_have_count(3)
    assert errors == []


def test_preview_pick_edit_pause_resume_history_logs_and_delete(server, page, errors, feed, photos_dir):
    page.on("dialog", lambda dialog: dialog.accept())
    task = api(server, "POST", "tasks", json={"feedUrl": feed.url("/feed.xml"), "targetFolder": "Feeds/Test",
                                              "status": "paused"})
    api(server, "POST", f"tasks/{task['id']}/run")
    wait_for_run(server, task["id"], 3)
    feed.route("/feed.xml", rss(feed, 4))  # a new entry the owner picks by hand
    unlock(page, server)
    row = page.locator(f"#dl-tasks tr[data-task-id='{task['id']}']")
    expect(row.locator("td[data-col=stats]")).to_have_attribute("data-saved", "3")

    row.locator("[data-action=preview]").click()
    preview = page.locator("#dl-preview")
    boxes = preview.locator("input[type=checkbox][data-entry-key]")
    expect(boxes).to_have_count(4)
    expect(preview.locator(".dl-downloaded")).to_have_count(3)
    page.click("#dl-select-new")
    expect(preview.locator("input[data-entry-key]:checked")).to_have_count(1)
    assert preview.locator("input[data-entry-key]:checked").get_attribute("data-entry-key").endswith("post-3")
    page.click("#dl-download-selected")
    expect(row.locator("td[data-col=stats]")).to_have_attribute("data-saved", "4", timeout=WAIT_MS)
    assert (photos_dir / "Feeds" / "Test" / "Photo 3.jpg").is_file()

    row.locator("[data-action=edit]").click()
    form = page.locator("#dl-task-form")
    expect(form.locator("[name=title]")).to_have_value("Local photos")
    form.locator("[name=title]").fill("Renamed")
    form.locator("[name=cookie]").fill("session=abc")
    form.locator("[type=submit]").click()
    expect(row.locator("a.dl-task-title")).to_have_text("Renamed")
    expect(row.locator("td[data-col=title]")).to_contain_text("cookie set")
    row.locator("[data-action=edit]").click()
    expect(form.locator("[name=cookie]")).to_have_value("")  # write-only: never sent back
    form.locator("[type=submit]").click()  # nothing changed: the cookie stays
    expect(form).to_have_count(0)
    edited = api(server, "GET", f"tasks/{task['id']}")
    assert (edited["title"], edited["hasCookie"], edited["targetFolder"]) == ("Renamed", True, "Feeds/Test")

    row.locator("[data-action=resume]").click()
    expect(row).to_have_attribute("data-status", "running")
    expect(row.locator("td[data-col=status]")).to_contain_text("running")
    row.locator("[data-action=pause]").click()
    expect(row).to_have_attribute("data-status", "paused")
    expect(row.locator("td[data-col=status] .dl-paused")).to_have_text("paused")
    assert api(server, "GET", f"tasks/{task['id']}")["status"] == "paused"

    row.locator("[data-action=logs]").click()
    expect(page.locator("#dl-task-logs .dl-log-line").first).to_be_visible()
    expect(page.locator("#dl-task-logs")).to_contain_text("run finished")

    page.click("[data-tab=history]")
    expect(page.locator("[data-tab=history]")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#dl-history tbody tr[data-status=ok]")).to_have_count(4)
    assert_clean_text(page)
    page.locator("#dl-history select[name=taskId]").select_option(str(task["id"]))
    expect(page.locator("#dl-history tbody tr")).to_have_count(4)
    page.locator("#dl-history select[name=status]").select_option("failed")
    expect(page.locator("#dl-history tbody tr")).to_have_count(0)

    page.click("[data-tab=logs]")
    lines = page.locator("#dl-logs .dl-log-line")
    expect(lines.filter(has_text="run started").first).to_be_visible()
    expect(lines.filter(has_text="run finished").first).to_be_visible()
    assert_clean_text(page)
    page.locator("#dl-logs select[name=level]").select_option("warning")
    expect(lines).to_have_count(0)
    page.locator("#dl-logs select[name=level]").select_option("")
    expect(lines.first).to_be_visible()
    page.click("#dl-logs-clear")
    expect(lines).to_have_count(0)
    assert api(server, "GET", "logs")["items"] == []

    page.click("[data-tab=tasks]")
    row.locator("[data-action=delete]").click()
    expect(page.locator("#dl-tasks tr[data-task-id]")).to_have_count(0)
    assert api(server, "GET", "tasks")["items"] == []
    assert len(list((photos_dir / "Feeds" / "Test").iterdir())) == 4  # the pictures stay in the gallery
    assert errors == []


def test_config_form_field_errors_and_opml_export_and_import(server, page, errors, feed, tmp_path):
    api(server, "POST", "tasks", json={"feedUrl": feed.url("/feed.xml"), "status": "paused"})
    unlock(page, server)
    page.click("[data-tab=settings]")
    form = page.locator("#dl-config-form")
    expect(form.locator("[name=maxRedirects]")).to_have_value("5")
    expect(form.locator("[name=allowPrivateHosts]")).to_be_checked()
    expect(form.locator("[name=allowedPorts]")).to_have_value(f"80, 443, {feed.port}")
    assert form.locator("input[name]").count() == len(api(server, "GET", "config"))

    form.locator("[name=maxRedirects]").fill("99")
    form.locator("[type=submit]").click()
    expect(form.locator("[name=maxRedirects]")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[data-error-for=maxRedirects]")).to_contain_text("between 0 and 10")
    assert api(server, "GET", "config")["maxRedirects"] == 5
    form.locator("[name=maxRedirects]").fill("3")
    form.locator("[type=submit]").click()
    expect(form.locator("[aria-invalid]")).to_have_count(0)
    expect(page.locator(".toast", has_text="Settings saved.")).to_be_visible()
    assert api(server, "GET", "config")["maxRedirects"] == 3

    with page.expect_download() as info:
        page.click("#dl-opml-export")
    download = info.value
    assert download.suggested_filename == "photonix-feeds.opml"
    assert feed.url("/feed.xml") in Path(download.path()).read_text()

    opml = tmp_path / "more.opml"
    opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><head/><body>'
                    f'<outline type="rss" text="Gone" xmlUrl="{feed.url("/gone.xml")}"/>'
                    f'<outline type="rss" text="Bad" xmlUrl="gopher://example.com/feed"/></body></opml>')
    page.set_input_files("#dl-opml-file", str(opml))
    page.click("#dl-opml-import")
    result = page.locator("#dl-opml-result")
    expect(result).to_contain_text("Added 1, updated 0, removed 0, skipped 1.")
    expect(result.locator(".dl-skipped li")).to_contain_text("gopher://example.com/feed")
    assert_clean_text(page)

    page.click("[data-tab=tasks]")
    rows = page.locator("#dl-tasks tr[data-task-id]")
    expect(rows).to_have_count(2)
    gone = rows.filter(has_text="Gone")
    gone.locator("[data-action=run]").click()  # the feed answers 404: the error shows in the row, in red
    expect(gone.locator("td[data-col=error] .dl-error")).to_contain_text("404", timeout=WAIT_MS)
    expect(page.locator(".toast.error")).to_contain_text("Gone")
    shown, danger = gone.locator(".dl-error").evaluate(SAME_COLOR_AS_DANGER)
    assert shown == danger, (shown, danger)
    assert_clean_text(page)

    page.select_option("#lang-select", "zh-CN")
    expect(page.locator("[data-tab=settings]")).to_have_text("设置")
    expect(page.locator("#dl-add")).to_have_text("添加任务")
    assert errors == []


def test_every_download_center_string_is_in_english_and_chinese():
    for path in sorted(VIEWS.glob("downloads*.js")):
        source = path.read_text()
        tables = re.search(r"addStrings\(\{\s*en: \{(.*?)\n  \},\s*\"zh-CN\": \{(.*?)\n  \},\s*\}\);", source, re.S)
        assert tables, path
        english, chinese = (set(re.findall(r'"(dl\.[\w.]+)":', block)) for block in tables.groups())
        assert english == chinese, (path.name, english ^ chinese)
        used = set(re.findall(r'\bt\("(dl\.[\w.]+)"', source))
        missing = used - english - {key for other in VIEWS.glob("downloads*.js") for key in
                                    re.findall(r'"(dl\.[\w.]+)":', other.read_text())}
        assert not missing, (path.name, missing)
