"""The MCP server: svcdoctor's diagnoses as read-only tools, the playbooks as resources, and
a prompt that tells an agent how to use them. Built on the official SDK (``mcp`` 2.x).

Tools run the CLI's own path in a worker thread (the SDK runs sync tools there); a
svcdoctor error becomes a tool error with its one line; every call is logged to stderr
as one JSON line (tool, arguments, outcome, duration), never to stdout, which belongs to
the protocol in stdio mode.
"""
# No `from __future__ import annotations`: the SDK reads the tools' annotations at runtime.

import functools
import json
import sys
import time
from typing import Annotated, Any, Callable, Literal, Optional

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import ToolAnnotations
from pydantic import Field
from typing_extensions import TypedDict

from .. import __version__
from ..errors import SvcdoctorError
from ..redact import mask_text
from ..wording import Playbooks
from . import shape
from .tools import Tools, explain, finding_ids, route_kind

INSTRUCTIONS = (
    "svcdoctor tells why a Kubernetes Service is unreachable and how to fix it. Call diagnose_service "
    "(or diagnose_ingress / diagnose_route / diagnose_url for what is in front of a Service, scan for a "
    "whole namespace) and quote the verdict, the root-cause finding's evidence lines and its fix commands "
    "as returned. couldNotVerify lists what svcdoctor was not allowed or able to check: say so, never guess. "
    "explain_finding gives the full playbook of a finding ID. Everything here is read-only.")
READ_ONLY = dict(read_only_hint=True, destructive_hint=False, idempotent_hint=True)

Namespace = Annotated[str, Field(description="Kubernetes namespace", max_length=253)]
Name = Annotated[str, Field(description="object name", max_length=253)]
Context = Annotated[Optional[str], Field(description="kubeconfig context (default: the server's current one)")]
Probe = Annotated[bool, Field(description="also probe the Service's own node ports, health checks and "
                              "load-balancer address from where the server runs (default false)")]


class FindingId(TypedDict):
    id: str
    title: str      # the playbook's title; {placeholders} are filled per finding


def _logged(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Log the call, and turn svcdoctor's errors into one-line tool errors."""
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        outcome = "ok"
        try:
            result = fn(*args, **kwargs)
            if isinstance(result, dict) and "exitCode" in result:
                outcome = f"exit {result['exitCode']}"
            return result
        except SvcdoctorError as exc:
            outcome = "error"
            raise ToolError(mask_text(" ".join(str(exc).split()))) from None
        except Exception as exc:  # a bug: say what, never a traceback to the agent
            outcome = "internal error"
            raise ToolError(f"internal error: {type(exc).__name__}: {mask_text(' '.join(str(exc).split()))[:300]}") from None
        finally:
            line = {"tool": name, "arguments": {k: v for k, v in kwargs.items()}, "outcome": outcome,
                    "durationMs": round((time.monotonic() - started) * 1000)}
            print(json.dumps(line, default=str), file=sys.stderr, flush=True)
    return call


def build(tools: Tools, playbooks: Optional[Playbooks] = None) -> MCPServer:
    books = playbooks or Playbooks.load()
    server = MCPServer("svcdoctor", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    def tool(name: str, title: str, description: str, open_world: bool = True) -> Callable[[Callable[..., Any]], Any]:
        return lambda fn: server.tool(name=name, title=title, description=description,
                                      annotations=ToolAnnotations(title=title, open_world_hint=open_world, **READ_ONLY)
                                      )(_logged(name, fn))

    @tool("diagnose_service", "Diagnose a Service",
          "Why a Kubernetes Service is unreachable: the root cause first, with evidence and fix commands.")
    def diagnose_service(namespace: Namespace, name: Name, context: Context = None,
                         probe: Probe = False) -> shape.ReportOut:
        return tools.diagnose_service(namespace, name, context, probe)

    @tool("diagnose_ingress", "Diagnose an Ingress",
          "An Ingress and each backend Service behind it (class, controller, backends, ports).")
    def diagnose_ingress(namespace: Namespace, name: Name, context: Context = None,
                         probe: Probe = False) -> shape.ReportOut:
        return tools.diagnose_front("Ingress", namespace, name, context, probe)

    @tool("diagnose_route", "Diagnose a Gateway API route",
          "A Gateway API route (HTTPRoute by default) and each backend Service behind it.")
    def diagnose_route(namespace: Namespace, name: Name,
                       kind: Annotated[Literal["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute"],
                                       Field(description="the route kind")] = "HTTPRoute",
                       context: Context = None, probe: Probe = False) -> shape.ReportOut:
        return tools.diagnose_front(route_kind(kind), namespace, name, context, probe)

    @tool("diagnose_url", "Diagnose a URL",
          "The Ingress rules and routes a URL reaches, and their backend Services. The URL itself is "
          "never requested; with probe, only the Ingress / Gateway status addresses are.")
    def diagnose_url(url: Annotated[str, Field(description="http(s)://host/path", max_length=2048)],
                     context: Context = None, probe: Probe = False) -> shape.ReportOut:
        from ..errors import UsageError
        from ..l7 import urls

        url = url.strip()
        if not url.lower().startswith(("http://", "https://")):
            raise UsageError(f"{url[:200]!r} is not an http:// or https:// URL")
        urls.parse(url)
        return tools.diagnose_front("URL", None, url, context, probe)

    @tool("scan", "Scan Services",
          "Every Service of a namespace (or all namespaces): counts by severity and the broken Services "
          "ranked by root cause. Probes are off.")
    def scan(namespace: Annotated[Optional[str], Field(description="the namespace to scan")] = None,
             all_namespaces: Annotated[bool, Field(description="scan every namespace")] = False,
             fail_on: Annotated[Optional[Literal["warning", "critical", "none"]],
                                Field(description="the lowest severity that makes exitCode non-zero")] = None,
             ) -> shape.ScanOut:
        return tools.scan(namespace, all_namespaces, fail_on)

    @tool("explain_finding", "Explain a finding ID",
          "The playbook of a finding ID: what it means, why it breaks traffic, how to fix it.", open_world=False)
    def explain_finding(id: Annotated[str, Field(description="a finding ID, e.g. selector-matches-no-pods",
                                                 max_length=100)]) -> str:
        return explain(books, id)

    @tool("list_finding_ids", "List finding IDs", "Every finding ID svcdoctor can report, with its title.",
          open_world=False)
    def list_finding_ids() -> list[FindingId]:
        return [FindingId(**f) for f in finding_ids(books)]  # type: ignore[typeddict-item]

    @server.resource("svcdoctor://findings/{id}", name="finding", title="Finding playbook",
                     description="The playbook of one finding ID", mime_type="text/markdown")
    def finding(id: str) -> str:
        if id not in books.books:
            raise ResourceNotFoundError(f"no finding ID {id!r}")
        return explain(books, id)

    for fid in sorted(books.books):
        server.add_resource(FunctionResource.from_function(
            functools.partial(explain, books, fid), uri=f"svcdoctor://findings/{fid}", name=fid,
            title=f"Finding {fid}", mime_type="text/markdown"))

    @server.prompt(name="diagnose-service", title="Diagnose a Service",
                   description="Find out why a Service is unreachable, with evidence")
    def diagnose_prompt(namespace: str, name: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": (
            f"Service {name} in namespace {namespace} is unreachable. Call the diagnose_service tool with "
            f"namespace={namespace!r} and name={name!r}. Then answer in this order: the verdict; the "
            "root-cause finding (its ID and title); its evidence lines quoted exactly as returned; the fix "
            "commands exactly as returned; anything listed under couldNotVerify, said as not checked. "
            "Do not add causes the tool did not report; call explain_finding for a finding's background.")}]
    return server
