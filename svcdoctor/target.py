"""What to diagnose: ``svc/NAME`` in a namespace, or the L7 object in front of Services
(``ingress/NAME``, ``httproute/NAME`` and the other route kinds) or a URL."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UsageError

# The resource spellings kubectl accepts for Services.
SERVICE_KINDS = {"svc", "service", "services", "service.v1", "services.v1"}
# RFC 1035 label: what the API server accepts as a Service name.
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


# kubectl's spellings of the L7 kinds svcdoctor diagnoses, to the kind.
FRONT_KINDS = {
    "ing": "Ingress", "ingress": "Ingress", "ingresses": "Ingress",
    "httproute": "HTTPRoute", "httproutes": "HTTPRoute",
    "grpcroute": "GRPCRoute", "grpcroutes": "GRPCRoute",
    "tlsroute": "TLSRoute", "tlsroutes": "TLSRoute",
    "tcproute": "TCPRoute", "tcproutes": "TCPRoute",
}


@dataclass(frozen=True)
class Target:
    namespace: str
    name: str
    kind: str = "Service"   # or an FRONT_KINDS value, or "URL" (name = the URL, namespace "")

    def __str__(self) -> str:
        if self.kind == "URL":
            return self.name
        if self.kind != "Service":
            return f"{self.kind.lower()} {self.namespace}/{self.name}"
        return f"{self.namespace}/{self.name}"


def parse_target(text: str) -> tuple[str, str]:
    """``(kind, name)`` from ``svc/NAME``, ``ingress/NAME``, ``httproute/NAME``… or a URL
    (``("URL", url)``)."""
    text = text.strip()
    if text.lower().startswith(("http://", "https://")):
        return "URL", text
    kind, sep, name = text.partition("/")
    if sep and kind.lower() in FRONT_KINDS:
        if not name or "/" in name or not _DNS_SUBDOMAIN.match(name):
            raise UsageError(f"malformed target {text!r}: use {kind}/NAME and -n NAMESPACE")
        return FRONT_KINDS[kind.lower()], name
    if sep and kind.lower() not in SERVICE_KINDS:
        raise UsageError(f"svcdoctor diagnoses Services, Ingresses, routes and URLs; got {kind!r} in "
                         f"{text!r}: use svc/NAME, ingress/NAME, httproute/NAME or https://host/path")
    return "Service", parse_service_ref(text)


def parse_service_ref(text: str) -> str:
    """Return the Service name from ``svc/NAME`` (or ``service/NAME``, or a bare ``NAME``)."""
    text = text.strip()
    if "/" in text:
        kind, _, name = text.partition("/")
        if kind.lower() not in SERVICE_KINDS:
            raise UsageError(
                f"svcdoctor diagnoses Services; got {kind!r} in {text!r}: use svc/NAME"
            )
        if "/" in name:
            raise UsageError(f"malformed target {text!r}: use svc/NAME and -n NAMESPACE")
    else:
        name = text
    if not name:
        raise UsageError(f"malformed target {text!r}: the Service name is missing (svc/NAME)")
    if not _DNS_LABEL.match(name):
        raise UsageError(
            f"malformed target {text!r}: {name!r} is not a valid Service name "
            "(lowercase letters, digits and '-', starting with a letter)"
        )
    return name


def check_namespace(namespace: str) -> str:
    if not _DNS_LABEL.match(namespace) and not _DNS_SUBDOMAIN.match(namespace):
        raise UsageError(f"{namespace!r} is not a valid namespace name")
    return namespace
