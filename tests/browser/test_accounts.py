"""A person logs in with an account's name and password (hub/login_form.py) from the page a
browser without a login gets, lands back where they were, and runs code in a kernel their
account owns — in Chromium, on a real ``cellhub serve``."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from cellhub.db.accounts import AccountRepository
from cellhub.db.database import make_engine
from cellhub.db.kernels import KernelRepository
from cellhub.hub.callers import account_owner
from cellhub.hub.passwords import hash_password
from tests.browser.worksheet_page import WorksheetPage
from tests.conftest import RunningHub


def test_a_person_logs_in_with_a_password_and_owns_their_kernel(
    context: Any, cellhub_server: RunningHub
) -> None:
    engine = make_engine(f"sqlite:///{cellhub_server.data_dir / 'cellhub.sqlite'}")
    secret = hash_password("correct horse")
    ada = AccountRepository(engine).create("ada", password_hash=secret)
    page = context.new_page()
    refused = page.goto(f"{cellhub_server.url}?lang=python")
    assert refused is not None and refused.status == 403
    page.get_by_role("link", name="Log in with its name and password").click()
    page.get_by_label("Name").fill("ada")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{cellhub_server.url}?lang=python")
    sheet = WorksheetPage(page)
    sheet.kernel_state("idle")
    expect(sheet.run_and_wait(0, "6 * 7")).to_contain_text("42")
    owners = {record.owner for record in KernelRepository(engine).live()}
    assert account_owner(ada.id) in owners
    engine.dispose()
