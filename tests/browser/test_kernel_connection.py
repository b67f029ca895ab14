"""The kernel's state is always visible: a dropped connection reconnects, a dead kernel restarts."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.worksheet_page import WorksheetPage


def test_dropped_websocket_reconnects_and_says_so(page: Any) -> None:
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, "kept = 'still here'")
    page.evaluate("window.cellhub.kernel.socket.close()")
    sheet.kernel_state("reconnecting")
    expect(page.locator(".banner")).to_contain_text("Reconnecting")
    sheet.kernel_state("idle")
    expect(page.locator(".banner")).to_be_hidden()
    outputs = sheet.run_and_wait(0, "kept")
    expect(outputs).to_contain_text("still here")


def test_dead_kernel_offers_restart(page: Any) -> None:
    sheet = WorksheetPage(page)
    # Shut down behind the page's back (as from another tab): the hub closes the kernel's
    # WebSocket after the goodbye, and the page learns why from the 404 for the kernel.
    page.evaluate(
        """async () => {
            const kernel = window.cellhub.kernel;
            await kernel.api.shutdown(kernel.kernelId);
        }"""
    )
    sheet.kernel_state("dead")
    banner = page.locator(".banner")
    expect(banner).to_contain_text("shut down by request")
    banner.get_by_role("button", name="Restart kernel").click()
    sheet.kernel_state("idle")
    outputs = sheet.run_and_wait(0, "1 + 1")
    expect(outputs).to_contain_text("2")


#: Hands the page's connection a status message numbered ``seq``, as if the hub had sent it.
RECEIVE_STATUS = """([seq, state]) => window.cellhub.kernel.socket.onmessage({data: JSON.stringify({
    cellhub_seq: seq, channel: "iopub", header: {msg_type: "status", msg_id: `injected-${seq}`},
    parent_header: {}, metadata: {}, content: {execution_state: state}})})"""


def test_a_message_numbered_at_or_below_the_last_is_dropped(page: Any) -> None:
    """The hub replays each message once; should one come twice, the page shows it once."""
    sheet = WorksheetPage(page)
    sheet.run_and_wait(0, "1 + 1")
    last = page.evaluate("window.cellhub.kernel.lastSeq")
    assert last > 0, "the page keeps the number of the last message it received"
    page.evaluate(RECEIVE_STATUS, [last, "busy"])
    assert page.locator(".kernel-state").get_attribute("data-state") == "idle", "dropped"
    page.evaluate(RECEIVE_STATUS, [last + 1000, "busy"])  # beyond any real one meanwhile
    sheet.kernel_state("busy")
    page.evaluate(RECEIVE_STATUS, [last + 1001, "idle"])
    sheet.kernel_state("idle")
