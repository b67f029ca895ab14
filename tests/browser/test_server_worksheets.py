"""Worksheets on the server, in Chromium: the same worksheet after a reload and in another
browser of the same user, its history and restore, two tabs that save the same worksheet,
a reopened worksheet whose kernel has ended, and the browser's own worksheet moved over."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import UiServer, open_worksheet
from tests.browser.worksheet_page import WorksheetPage

TITLE = re.compile(r"Worksheet title")


def titled(sheet: WorksheetPage, title: str) -> None:
    """Title the worksheet, and wait until it is saved under that name."""
    field = sheet.page.get_by_role("textbox", name=TITLE)
    field.fill(title)
    field.press("Enter")
    for _ in range(400):
        if sheet.page.evaluate("window.cellhub.store.path") == f"{title}.ipynb":
            break
        sheet.page.wait_for_timeout(50)
    else:
        raise AssertionError(f"the worksheet was not saved as {title}.ipynb")
    sheet.saved()


def test_same_worksheet_after_reload_and_in_another_browser(
    context: Any, browser: Any, ui_server: UiServer
) -> None:
    sheet = WorksheetPage(open_worksheet(context, ui_server))
    expect(sheet.run_and_wait(0, "x = 'same'\nprint(x)")).to_contain_text("same")
    titled(sheet, "Across devices")
    sheet.page.reload()
    sheet.page.wait_for_selector(".cell .cm-content")
    assert sheet.sources() == ["x = 'same'\nprint(x)"]

    other = browser.new_context()
    try:
        there = WorksheetPage(open_worksheet(other, ui_server))
        assert there.sources() == [""], "a new browser starts on a blank worksheet"
        there.open_worksheet("Across devices")
        assert there.sources() == ["x = 'same'\nprint(x)"]
        expect(there.outputs(0)).to_contain_text("same")
        # Its kernel is alive (the first browser holds it): reopening reattached to it.
        there.kernel_state("idle")
        expect(there.run_and_wait(0, "print(x * 2)")).to_contain_text("samesame")
    finally:
        other.close()


def test_history_shows_and_restores_an_old_version(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.type_code(0, "first = 1")
    titled(sheet, "With history")
    sheet.type_code(0, "second = 2")
    sheet.saved()
    sheet.button("History").click()
    versions = page.locator(".history-panel li[data-version]")
    expect(versions.first).to_contain_text("(current)")
    older = versions.nth(1)
    older.get_by_role("button", name=re.compile("^Show")).click()
    expect(page.locator(".version-preview")).to_contain_text("first = 1")
    older.get_by_role("button", name=re.compile("^Restore")).click()
    expect(sheet.editor(0)).to_have_text("first = 1")
    sheet.saved()
    page.reload()
    page.wait_for_selector(".cell .cm-content")
    assert sheet.sources() == ["first = 1"]


def test_two_tabs_saving_the_same_worksheet_are_told(context: Any, ui_server: UiServer) -> None:
    """The later save is refused, not lost: it offers to keep mine or reload theirs."""
    one = WorksheetPage(open_worksheet(context, ui_server))
    one.type_code(0, "base = 0")
    titled(one, "Two tabs")
    two = WorksheetPage(context.new_page())
    two.page.goto(one.page.url)
    two.page.wait_for_selector(".cell .cm-content")
    assert two.sources() == ["base = 0"]

    one.type_code(0, "from_one = 1")
    one.saved()
    two.type_code(0, "from_two = 2")
    conflict = two.page.locator(".save-conflict")
    expect(conflict).to_be_visible()
    conflict.get_by_role("button", name="Keep mine").click()
    two.saved()

    one.type_code(0, "from_one_again = 1")
    expect(one.page.locator(".save-conflict")).to_be_visible()
    one.page.locator(".save-conflict").get_by_role("button", name="Reload their version").click()
    expect(one.editor(0)).to_have_text("from_two = 2")
    one.saved()


def test_a_reopened_worksheet_whose_kernel_ended_says_its_kernel_is_new(
    page: Any, ui_server: UiServer
) -> None:
    sheet = WorksheetPage(page)
    expect(sheet.run_and_wait(0, "print('from before')")).to_contain_text("from before")
    titled(sheet, "Kernel ended")
    kernel_id = page.evaluate("window.cellhub.kernel.kernelId")
    headers = {"Authorization": f"token {ui_server.token}"}
    ended = httpx.delete(f"{ui_server.url}api/kernels/{kernel_id}", headers=headers)
    assert ended.status_code == 204
    page.reload()
    page.wait_for_selector(".cell .cm-content")
    sheet.kernel_state("idle")
    expect(page.locator(".toast")).to_contain_text("a new kernel was started")
    expect(sheet.cell(0)).to_have_attribute("data-earlier-session", "true")
    expect(sheet.outputs(0)).to_contain_text("from before")
    assert page.evaluate("window.cellhub.kernel.kernelId") != kernel_id
    sheet.run_and_wait(0, "print('from now')")
    expect(sheet.cell(0)).not_to_have_attribute("data-earlier-session", "true")


def test_the_browsers_own_worksheet_moves_to_the_server(page: Any, ui_server: UiServer) -> None:
    """A worksheet kept in localStorage before server worksheets becomes a server worksheet."""
    kept = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"cellhub": {"title": "Kept in the browser"}},
        "cells": [
            {"id": "a1", "cell_type": "code", "metadata": {}, "source": "old = 'work'",
             "outputs": [], "execution_count": None},
        ],
    }  # fmt: skip
    scope = ui_server.url
    page.evaluate(
        "([key, value, open]) => {"
        " localStorage.setItem(key, value); localStorage.removeItem(open) }",
        [f"cellhub:worksheet:{scope}", json.dumps(kept), f"cellhub:open:{scope}"],
    )
    page.goto(ui_server.url)
    sheet = WorksheetPage(page)
    page.wait_for_selector(".cell .cm-content")
    expect(page.locator(".toast")).to_contain_text("now saved on the server")
    assert sheet.sources() == ["old = 'work'"]
    sheet.saved()
    assert page.evaluate(f"localStorage.getItem('cellhub:worksheet:{scope}')") is None
    headers = {"Authorization": f"token {ui_server.token}"}
    listing = httpx.get(f"{ui_server.url}api/contents", headers=headers).json()
    assert "Kept in the browser.ipynb" in [entry["name"] for entry in listing["content"]]


def test_the_worksheets_panel_renames_duplicates_and_deletes(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.type_code(0, "listed = 1")
    titled(sheet, "Listed")
    renamed = "Listed again"
    page.on("dialog", lambda dialog: dialog.accept(renamed if dialog.type == "prompt" else None))
    sheet.button("Worksheets").click()
    panel = page.locator(".worksheet-list")
    panel.get_by_role("button", name="Duplicate Listed", exact=True).click()
    expect(panel.get_by_role("link", name="Listed-Copy1", exact=True)).to_be_visible()
    panel.get_by_role("button", name="Rename Listed-Copy1", exact=True).click()
    expect(panel.get_by_role("link", name="Listed again", exact=True)).to_be_visible()
    panel.get_by_role("button", name="Delete Listed again", exact=True).click()
    expect(panel.get_by_role("link", name="Listed again", exact=True)).to_have_count(0)
    # The open worksheet: renamed, the page follows it; it cannot be deleted from under it.
    expect(panel.get_by_role("button", name="Delete Listed", exact=True)).to_have_count(0)
    panel.get_by_role("button", name="Rename Listed", exact=True).click()
    expect(panel.get_by_role("link", name="Listed again", exact=True)).to_be_visible()
    expect(page.get_by_role("textbox", name=TITLE)).to_have_value("Listed again")
    sheet.saved()
    page.reload()
    page.wait_for_selector(".cell .cm-content")
    assert sheet.sources() == ["listed = 1"]
