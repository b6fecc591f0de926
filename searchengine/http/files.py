"""Serving a file from a descriptor opened once: whatever happens to the name afterwards
(removed, replaced, swapped for a symlink), the bytes sent are those of the file that was
checked."""

from __future__ import annotations

import io
import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

from searchengine.media.regular import SizedFile


class DescriptorResponse(FileResponse):
    """A :class:`FileResponse` (ranges, HEAD, ETag) reading from an open descriptor, never
    by name; it owns ``fd`` and closes it when sent. ``stat_result`` is the descriptor's."""

    def __init__(self, fd: int, stat_result: os.stat_result, **kwargs: Any):
        self.fd = fd
        super().__init__(path=f"/proc/self/fd/{fd}", stat_result=stat_result, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = {k: v for k, v in (scope.get("extensions") or {}).items() if k != "http.response.pathsend"}
        try:
            await super().__call__({**scope, "extensions": extensions}, receive, send)
        finally:
            self.close()

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:  # never sent (e.g. the client went away first)
        self.close()

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        # its own descriptor on the same open file, read with pread, ending at the size checked
        assert self.stat_result is not None
        handle = io.BufferedReader(SizedFile(os.dup(self.fd), self.stat_result.st_size, "served file"))
        file = anyio.wrap_file(handle)
        try:
            yield file
        finally:
            with anyio.CancelScope(shield=True):
                await file.aclose()
