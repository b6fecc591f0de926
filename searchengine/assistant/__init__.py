"""The index for AI assistants: an MCP server (the official ``mcp`` SDK, MIT) with the tools
``search``, ``search_similar``, ``get_item`` and ``status``, over stdio
(``searchengine mcp``) or streamable HTTP (``/mcp`` in the HTTP app). :mod:`.tools` holds
what each tool does, in plain Python; :mod:`.server` the MCP wiring."""
