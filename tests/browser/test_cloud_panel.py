"""The Files panel's Cloud section in Chromium, against a real WebDAV server (``rclone serve
webdav`` on loopback, started here): a folder linked in the section's form is pulled into
the person's files, a file uploaded there is pushed back to the server's disk, and unlinking
forgets the link but keeps the files. A wrong password makes the pull fail with rclone's
words in the section's alert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_files_panel import files_panel, upload
from tests.browser.worksheet_page import WorksheetPage
from tests.conftest import RunningHub, start_cellhub
from tests.webdav_server import WebDav, serving

#: Milliseconds a pull or a push may take through the page (rclone on loopback).
SYNC_TIMEOUT = 60_000


@pytest.fixture(scope="module")
def webdav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDav]:
    """One WebDAV server for the module: the hub's allowed origin is fixed when it starts."""
    with serving(tmp_path_factory.mktemp("dav")) as server:
        yield server


@pytest.fixture(scope="module")
def cellhub_server(
    tmp_path_factory: pytest.TempPathFactory, webdav: WebDav
) -> Iterator[RunningHub]:
    server = start_cellhub(
        tmp_path_factory.mktemp("cellhub"), env={"CELLHUB_CLOUD_ORIGINS": webdav.url}
    )
    yield server
    server.stop()


def link_webdav(cloud: Locator, name: str, webdav: WebDav, password: str, folder: str) -> None:
    """Link the server's top folder to ``folder`` of the person's files, with the form."""
    cloud.get_by_role("button", name="Link a folder").click()
    form = cloud.get_by_role("form", name="Cloud folder")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Kind").select_option(label="WebDAV")
    form.get_by_label("url", exact=True).fill(webdav.url)
    form.get_by_label("vendor", exact=True).select_option("other")
    form.get_by_label("user", exact=True).fill("u")
    form.get_by_label("pass", exact=True).fill(password)
    form.get_by_label("Folder in my files").fill(folder)
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()
    expect(cloud.locator(f"li[data-remote='{name}']")).to_contain_text("never synced")


def file_names(page: Page, hub: RunningHub, folder: str) -> set[str]:
    """The names in ``folder`` of the person's files, asked of the contents API."""
    listed = page.request.get(f"{hub.url}api/contents/{folder}")
    assert listed.ok, listed.text()
    return {entry["name"] for entry in listed.json()["content"]}


def test_a_linked_webdav_folder_pulls_pushes_and_unlinks(
    page: Page, webdav: WebDav, cellhub_server: RunningHub, tmp_path: Path
) -> None:
    (webdav.folder / "hello.csv").write_text("a,b\n1,2\n")
    panel: Any = files_panel(WorksheetPage(page))
    cloud = panel.get_by_role("region", name="Cloud")
    link_webdav(cloud, "dav", webdav, "p", "cloud")

    cloud.get_by_role("button", name="Pull dav").click()
    status = cloud.get_by_role("status")
    expect(status).to_contain_text("dav: pulled 1 files", timeout=SYNC_TIMEOUT)
    panel.get_by_role("link", name="cloud/").click()
    expect(panel.locator("li[data-path='cloud/hello.csv']")).to_be_visible()

    notes = tmp_path / "notes.txt"
    notes.write_text("written in the hub\n")
    upload(panel, notes)
    expect(panel.locator("li[data-path='cloud/notes.txt']")).to_be_visible()
    cloud.get_by_role("button", name="Push dav").click()
    expect(status).to_contain_text("dav: pushed 2 files", timeout=SYNC_TIMEOUT)
    assert (webdav.folder / "notes.txt").read_text() == "written in the hub\n"

    page.once("dialog", lambda dialog: dialog.accept())
    cloud.get_by_role("button", name="Unlink dav").click()
    expect(cloud.locator("li[data-remote='dav']")).to_have_count(0)
    expect(status).to_contain_text("Unlinked dav")
    assert file_names(page, cellhub_server, "cloud") == {"hello.csv", "notes.txt"}


def test_a_wrong_password_fails_in_rclones_words_until_edited(page: Page, webdav: WebDav) -> None:
    (webdav.folder / "hello.csv").write_text("a,b\n1,2\n")
    panel: Any = files_panel(WorksheetPage(page))
    cloud = panel.get_by_role("region", name="Cloud")
    link_webdav(cloud, "wrong", webdav, "not the password", "mine")
    cloud.get_by_role("button", name="Pull wrong").click()
    expect(cloud.get_by_role("alert")).to_contain_text("rclone:", timeout=SYNC_TIMEOUT)
    expect(cloud.locator("li[data-remote='wrong']")).to_contain_text("failed: rclone:")
    expect(panel.locator("li[data-path='mine']")).to_have_count(0)

    cloud.get_by_role("button", name="Edit wrong").click()
    form = cloud.get_by_role("form", name="Cloud folder")
    expect(form.get_by_label("url", exact=True)).to_have_value(webdav.url)
    password = form.get_by_label("pass", exact=True)
    expect(password).to_have_attribute("placeholder", "unchanged")
    password.fill("p")
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()
    cloud.get_by_role("button", name="Pull wrong").click()
    expect(cloud.get_by_role("status")).to_contain_text("wrong: pulled", timeout=SYNC_TIMEOUT)
    expect(cloud.get_by_role("alert")).to_have_count(0)
    expect(panel.locator("li[data-path='mine']")).to_be_visible()
