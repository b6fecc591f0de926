"""The MCP server (official ``mcp`` SDK, MIT): the tools of :mod:`.tools` as MCP tools, over
stdio (:func:`run_stdio`) or as a streamable HTTP app for the HTTP service (:func:`http_app`)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, TypeVar

from searchengine.assistant.tools import Tools
from searchengine.errors import SearchEngineError

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from starlette.applications import Starlette

    from searchengine.engine import SearchEngine

F = TypeVar("F", bound=Callable[..., Any])

INSTRUCTIONS = (
    "Search a person's own photos, notes, recordings and videos by meaning and by words. "
    "`search` takes a text query and returns one result per file with its path, where in the file "
    "(seconds of a recording or video, characters of a note, a page), a snippet and other matching "
    "parts as evidence; `search_similar` finds items like an indexed one (its id) or like an image "
    "inside the indexed folders; `get_item` gives an item's transcript with times, its text, the "
    "text read in a picture, and date and place where known; `status` what the index holds."
)


def _domain_errors(fn: F) -> F:
    """A SearchEngineError is a tool error the assistant can read and act on."""
    from mcp.server.mcpserver.exceptions import ToolError

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SearchEngineError as exc:
            raise ToolError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def build_server(engine: "SearchEngine", media_root: str | None = None) -> "MCPServer":
    """An MCP server over ``engine``; ``media_root``: see :class:`Tools` (None over stdio)."""
    from mcp.server import MCPServer

    from searchengine import __version__

    tools = Tools(engine, media_root)
    server: MCPServer = MCPServer("searchengine", instructions=INSTRUCTIONS, version=__version__,
                                  log_level="WARNING")

    @server.tool()
    @_domain_errors
    def search(query: str, k: int = 10, modality: Optional[list[Literal["image", "text", "audio", "video"]]] = None,
               path: Optional[str] = None, after: Optional[str] = None, before: Optional[str] = None,
               mode: Literal["hybrid", "vector", "keyword"] = "hybrid",
               group: Literal["file", "unit"] = "file") -> dict[str, Any]:
        """Search the index by text. modality: only these kinds; path: a glob on the path
        (e.g. '*/2024/*'); after/before: modified on or after/before this date (2024-06-01);
        mode: hybrid (meaning and words), vector (meaning) or keyword (words as written);
        group: file (one result per file, other matches as evidence) or unit (every match)."""
        return tools.search(query, k, list(modality) if modality else None, path, after, before, mode, group)

    @server.tool()
    @_domain_errors
    def search_similar(item_id: Optional[int] = None, image_path: Optional[str] = None, k: int = 10,
                       modality: Optional[list[Literal["image", "text", "audio", "video"]]] = None,
                       path: Optional[str] = None) -> dict[str, Any]:
        """Items like an indexed item (item_id, from a search result) or like an image file
        (image_path; it must be inside the indexed folders)."""
        return tools.search_similar(item_id, image_path, k, list(modality) if modality else None, path)

    @server.tool()
    @_domain_errors
    def get_item(item_id: int) -> dict[str, Any]:
        """One item in full: its file's path and date, the transcript with times (recordings,
        videos), the text (notes), the text read in a picture with its boxes, the date taken
        and place (photos, where known)."""
        return tools.get_item(item_id)

    @server.tool()
    @_domain_errors
    def status() -> dict[str, Any]:
        """What the index holds: folders, files and vectors per kind, model, size."""
        return tools.status()

    return server


def run_stdio(engine: "SearchEngine") -> None:
    """Serve ``engine`` over stdin/stdout until the client closes them."""
    build_server(engine).run("stdio")


def http_app(engine: "SearchEngine", media_root: str = "") -> tuple["Starlette", "MCPServer"]:
    """The streamable HTTP app (its endpoint at the app's root: mount it at ``/mcp``) and
    its server; the mounting app must run ``server.session_manager.run()`` in its lifespan.
    Host, Origin and token checks are the mounting app's (transport security off here)."""
    from mcp.server.transport_security import TransportSecuritySettings

    server = build_server(engine, media_root)
    app = server.streamable_http_app(
        streamable_http_path="/", stateless_http=True, json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return app, server
