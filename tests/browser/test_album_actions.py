"""The admin's album actions in headless Chromium against a real gunicorn: the Trash card turns deleting on, the
album's ⋯ menu renames an album (a name the gallery refuses is said in the dialog) and moves it to the trash, the
parent album opens and the toast's Undo brings it back with the same bytes; the Trash card restores too. A visitor
is offered neither action. English on a desktop, Chinese on a phone."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.gallery import ALBUMS, open_gallery
from tests.browser.views import DESKTOP, PHONE, settings, views_server
from tests.support import servers

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def server(request, tmp_path) -> Iterator[servers.Gunicorn]:
    url = None
    if request.config.getoption("--db") == "postgres":
        admin = request.getfixturevalue("postgres_admin_url")
        url = servers.create_pg_database(admin, f"t_actions_{uuid.uuid4().hex[:12]}")
    with views_server(tmp_path, url) as running:
        running.photos = tmp_path / "photos"
        yield running


def page_for(browser, options: dict):
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    return context, context.new_page()


def turn_deleting_on(page, server) -> None:
    settings(page, server)
    page.check("#allow-album-delete")
    page.click("#trash-save")
    expect(page.locator("#trash-message")).not_to_be_empty()
    expect(page.locator("#trash-list")).to_contain_text(re.compile("The trash is empty|回收站是空的"))


def open_menu(page) -> None:
    page.click("#album-menu-button")
    expect(page.locator("#album-menu")).to_be_visible()


def test_rename_trash_and_undo_in_english(browser, server):
    context, page = page_for(browser, {**DESKTOP, "locale": "en-US"})
    try:
        visitor_context, visitor = page_for(browser, {**DESKTOP, "locale": "en-US"})
        open_gallery(visitor, server, "#/browse/Family")
        open_menu(visitor)
        expect(visitor.locator("#menu-rename")).to_have_count(0)
        expect(visitor.locator("#menu-trash")).to_have_count(0)
        visitor_context.close()

        turn_deleting_on(page, server)
        family = snapshot(server.photos / "Family")
        open_gallery(page, server, "#/browse/Family")
        open_menu(page)
        page.click("#menu-rename")
        expect(page.locator("#rename-dialog")).to_be_visible()
        page.fill("#rename-name", ".secret")
        page.click("#rename-submit")
        expect(page.locator("#rename-message")).to_contain_text("Hidden")
        expect(page.locator("#rename-name")).to_have_attribute("aria-invalid", "true")
        page.fill("#rename-name", "Family 2024")
        page.click("#rename-submit")
        expect(page.locator("#rename-dialog")).to_have_count(0)
        page.wait_for_url(re.compile(r"#/browse/Family%202024$"))
        expect(page.locator("#grid .media-card")).to_have_count(len(ALBUMS["Family"]))
        assert snapshot(server.photos / "Family 2024") == family and not (server.photos / "Family").exists()

        open_menu(page)
        page.click("#menu-trash")
        page.wait_for_url(re.compile(r"/#/$"))
        expect(page.locator("#albums .album-card[data-path='Holidays']")).to_be_visible()
        expect(page.locator("#albums .album-card[data-path='Family 2024']")).to_have_count(0)
        expect(page.locator(".toast.undo")).to_contain_text("“Family 2024” was moved to the trash.")
        assert not (server.photos / "Family 2024").exists()
        page.click("#undo-trash")
        page.wait_for_url(re.compile(r"#/browse/Family%202024$"))
        expect(page.locator("#grid .media-card")).to_have_count(len(ALBUMS["Family"]))
        assert snapshot(server.photos / "Family 2024") == family
    finally:
        context.close()


def test_trash_and_restore_from_the_trash_card_in_chinese(browser, server):
    context, page = page_for(browser, {**PHONE, "locale": "zh-CN"})
    try:
        turn_deleting_on(page, server)
        holidays = snapshot(server.photos / "Holidays")
        open_gallery(page, server, "#/browse/Holidays")
        open_menu(page)
        expect(page.locator("#menu-rename")).to_have_text("重命名…")
        page.click("#menu-trash")
        expect(page.locator(".toast.undo")).to_contain_text("“Holidays”已移到回收站。")
        expect(page.locator("#undo-trash")).to_have_text("撤销")
        expect(page.locator("#albums .album-card[data-path='Holidays']")).to_have_count(0)
        open_gallery(page, server, "#/settings")  # unlocked already
        item = page.locator("#trash-list .trash-item")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("Holidays")
        item.get_by_role("button", name="恢复").click()
        expect(page.locator("#trash-list")).to_contain_text("回收站是空的")
        assert snapshot(server.photos / "Holidays") == holidays
        open_gallery(page, server, "#/")
        expect(page.locator("#albums .album-card[data-path='Holidays']")).to_be_visible()
    finally:
        context.close()
