"""ASGI middleware that refuses request bodies over a size limit with 413 and a JSON message
(Jupyter Server's error body, hub/json_api.py). Paths that take larger bodies by nature (a
worksheet's save carries its outputs) have their own limit, by path prefix (``larger``)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cellhub.hub.json_api import error


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(
        self, app: ASGIApp, max_body_size: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.larger = larger or {}

    def limit_for(self, path: str) -> int:
        return next(
            (most for prefix, most in self.larger.items() if path.startswith(prefix)),
            self.max_body_size,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self.refuse(scope, receive, send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self.refuse(scope, receive, send, limit)

    async def refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error(413, f"request body is larger than the {limit}-byte limit")
        await response(scope, receive, send)
