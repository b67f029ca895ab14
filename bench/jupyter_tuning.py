"""TCP_NODELAY for Jupyter Server's kernel WebSockets, loaded by the "tuned" Jupyter run.

Tornado turns Nagle's algorithm off only while it finishes an HTTP response and turns it
back on afterwards, so every WebSocket frame Jupyter Server sends waits for the client's
delayed ACK (about 40 ms on Linux) whenever an earlier frame is still unacknowledged.
Jupyter Server has no setting for this, but it does let the kernel WebSocket connection
class be configured (``ServerApp.kernel_websocket_connection_class``). This subclass of the
default class sets TCP_NODELAY on the WebSocket (tornado's
``WebSocketHandler.set_nodelay``) when the connection opens and changes nothing else.
The tuned run passes (with the repository root on ``PYTHONPATH``)::

    --ServerApp.kernel_websocket_connection_class=<this module>.NoDelayChannelsConnection
    --ZMQChannelsWebsocketConnection.iopub_data_rate_limit=0
    --ZMQChannelsWebsocketConnection.iopub_msg_rate_limit=0

No patching of tornado or Jupyter Server.
"""

from __future__ import annotations

import asyncio

from jupyter_server.services.kernels.connection.channels import (
    ZMQChannelsWebsocketConnection,
)


class NoDelayChannelsConnection(ZMQChannelsWebsocketConnection):
    """Jupyter Server's default kernel WebSocket connection, with TCP_NODELAY on."""

    def connect(self) -> asyncio.Future[None] | None:  # type: ignore[override]
        self.websocket_handler.set_nodelay(True)
        return super().connect()
