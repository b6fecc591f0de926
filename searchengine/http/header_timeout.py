"""A time limit on a request's headers (slowloris): uvicorn closes idle keep-alive
connections and h11 bounds the headers' size, but a connection whose request headers never
complete - nothing sent, or a byte now and then - was held open for ever.

:class:`HeaderTimeoutH11Protocol` (given to ``uvicorn.Config(http=...)``) starts a timer
when a connection opens and when a response is complete (the next request's headers are
awaited), and cancels it when the request's headers are complete; on expiry the
connection is closed (nothing is sent: there is no request to answer). Request bodies have
their own limit (a 408 after ``REQUEST_BODY_SECONDS``, see the app's middleware)."""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

HEADER_SECONDS = 10.0  # a request's line and headers must arrive within this


class HeaderTimeoutH11Protocol(H11Protocol):
    header_seconds = HEADER_SECONDS
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # the request's headers are in (or it ended)
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request's headers are awaited

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_seconds, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            client = "%s:%d" % self.client if self.client else "a client"
            log.info("closing the connection of %s: its request headers did not arrive within %.0f s",
                     client, self.header_seconds)
            self.transport.close()
