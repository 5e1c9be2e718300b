"""``svcdoctor mcp``: the diagnosis as a read-only tool for AI agents (Model Context Protocol).

    svcdoctor mcp                               # stdio, as Claude Desktop / VS Code start it
    svcdoctor mcp --http --port 8765            # Streamable HTTP on 127.0.0.1, bearer token required

Needs ``pip install 'svcdoctor[mcp]'`` (the official SDK). See docs/mcp.md.
"""
