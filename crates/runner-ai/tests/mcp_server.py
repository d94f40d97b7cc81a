"""An MCP server for runner's tests, on the MCP project's own Python SDK (PyPI's `mcp`):
`python mcp_server.py TRANSPORT PORT` serves it over Streamable HTTP (`streamable-http`, at
/mcp) or the older HTTP+SSE (`sse`, at /sse) on 127.0.0.1."""

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("runner-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ValueError(reason)


server.run(transport=sys.argv[1], host="127.0.0.1", port=int(sys.argv[2]))
