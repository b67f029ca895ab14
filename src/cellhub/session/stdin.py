"""``input()`` and ``getpass()`` in a cell: an ``input_request`` to the client, then its reply.

While a cell waits for the ``input_reply``, other requests that arrive are kept
in the inbox's deferred queue and handled, in order, after the cell.
"""

from __future__ import annotations

import builtins
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from IPython.core.error import StdinNotImplementedError

from cellhub.protocol import session_frames
from cellhub.session.inbox import Inbox
from cellhub.session.outbox import Publisher
from cellhub.session.outstream import StreamSink


class InputRequests:
    """Stands in for ``builtins.input`` and ``getpass.getpass`` while a cell runs."""

    def __init__(self, publisher: Publisher, sink: StreamSink, inbox: Inbox) -> None:
        self.publisher = publisher
        self.sink = sink
        self.inbox = inbox
        self.allowed = False

    @contextmanager
    def installed(self, allowed: bool) -> Iterator[None]:
        """Answer ``input()`` and ``getpass()`` during the block (or refuse, if not allowed)."""
        self.allowed = allowed
        saved_input, saved_getpass = builtins.input, getpass.getpass
        builtins.input = self.raw_input
        getpass.getpass = self.getpass
        try:
            yield
        finally:
            builtins.input, getpass.getpass = saved_input, saved_getpass

    def raw_input(self, prompt: object = "") -> str:
        if not self.allowed:
            raise StdinNotImplementedError(
                "raw_input was called, but this frontend does not support input requests."
            )
        return self.input_request(str(prompt), password=False)

    def getpass(self, prompt: str = "Password: ", stream: Any = None) -> str:
        if not self.allowed:
            raise StdinNotImplementedError(
                "getpass was called, but this frontend does not support input requests."
            )
        return self.input_request(str(prompt), password=True)

    def input_request(self, prompt: str, password: bool) -> str:
        """Ask the client for a line of input; other requests meanwhile wait their turn."""
        self.sink.flush()
        publisher = self.publisher
        publisher.send(
            "stdin",
            "input_request",
            {"prompt": prompt, "password": password},
            parent=publisher.output_parent,
        )
        publisher.outbox.release()
        while True:
            try:
                frame = self.inbox.read(interruptible=True)
            except KeyboardInterrupt:
                raise KeyboardInterrupt("Interrupted by user") from None
            except EOFError:
                os._exit(0)
            message = session_frames.read_session_input(frame)
            if message is not None and message[0] == "stdin":
                msg = orjson.loads(message[1])
                if msg["header"]["msg_type"] == "input_reply":
                    break
                continue
            self.inbox.deferred.append(frame)
        value = msg.get("content", {}).get("value", "")
        if value == "\x04":
            raise EOFError
        return str(value)
