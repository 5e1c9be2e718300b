"""Command line: ``svcdoctor`` and ``kubectl svcdoctor`` (the same commands)."""

from __future__ import annotations

import argparse
import io
import os
import sys
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Sequence, TextIO

from . import __version__, collect, demo, kube, probes
from .diagnose import diagnose
from .errors import ClusterError, SvcdoctorError, UsageError
from .cloud import CloudOptions
from .evidence import Evidence
from .wording import Playbooks
from .render import RENDERERS
from .target import check_namespace, parse_service_ref, parse_target

if TYPE_CHECKING:
    from .report import Report

EXIT_INTERNAL = 5


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on bad usage, which would read as "critical finding".
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _duration(text: str) -> float:
    """kubectl-style durations: 30, 30s, 2m, 500ms."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for suffix, factor in units.items():
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            value = float(text[: -len(suffix)]) * factor
            break
    else:
        if not text.replace(".", "", 1).isdigit():
            raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 10s, 1m)")
        value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("the timeout must be positive")
    return value


def _add_probe(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network probes (live clusters only)")
    g.add_argument("--no-probe", action="store_true",
                   help="do not probe NodePorts, health checks, load balancers or DNS")
    g.add_argument("--probe-timeout", type=_duration, metavar="DURATION", default=probes.DEFAULT_TIMEOUT,
                   help=f"timeout of each probe (default {probes.DEFAULT_TIMEOUT:g}s)")
    g.add_argument("--node-address-type", choices=("InternalIP", "ExternalIP"), default="InternalIP",
                   help="which node address to probe NodePorts on (default InternalIP)")
    g.add_argument("--max-nodes", type=int, metavar="N", default=probes.DEFAULT_MAX_NODES,
                   help=f"probe at most N nodes, always including every node with an endpoint "
                   f"(default {probes.DEFAULT_MAX_NODES})")


def _add_cloud(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cloud load-balancer state (live clusters only; AWS: pip install 'svcdoctor[aws]')")
    g.add_argument("--cloud", choices=("aws", "gcp", "azure", "none"),
                   help="whose API to read the Service's load balancer from (default: from the nodes' "
                        "providerID; none: do not read)")
    g.add_argument("--cloud-timeout", type=_duration, metavar="DURATION", default=15.0,
                   help="deadline for all cloud reads of one diagnosis (default 15s)")


def _cloud_options(args: argparse.Namespace) -> CloudOptions:
    return CloudOptions(cloud=args.cloud, deadline=args.cloud_timeout,
                        call_timeout=min(5.0, args.cloud_timeout))


def _probe_options(args: argparse.Namespace) -> probes.ProbeOptions:
    if args.max_nodes < 1:
        raise UsageError("--max-nodes must be at least 1")
    return probes.ProbeOptions(enabled=not args.no_probe, timeout=args.probe_timeout,
                               max_nodes=args.max_nodes, address_type=args.node_address_type)


def _timestamp(text: str) -> datetime:
    when = kube.parse_time(text.strip())
    if when is None:
        raise argparse.ArgumentTypeError(f"invalid time {text!r} (RFC 3339, e.g. 2026-11-30T14:05:00Z)")
    return when


def _add_observed_at(p: argparse.ArgumentParser) -> None:
    p.add_argument("--observed-at", type=_timestamp, metavar="TIME",
                   help="when the --from input was captured (RFC 3339, e.g. 2026-11-30T14:05:00Z); "
                   "kubectl output does not say, so by default the newest timestamp in it is used "
                   "and checks that depend on an age say what they could not verify")


def _add_clients(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("clients (NetworkPolicy: who must reach the Service)")
    g.add_argument("--client", metavar="pod/NAME", action="append", default=[],
                   help="a pod that must reach the Service (in --client-namespace, default the Service's); repeatable")
    g.add_argument("--client-namespace", metavar="NS",
                   help="the namespace of --client pods; alone: any pod of that namespace")
    g.add_argument("--client-cidr", metavar="CIDR", action="append", default=[],
                   help="an address range outside the cluster that must reach the Service; repeatable")


def _clients(args: argparse.Namespace) -> list[dict[str, str]]:
    import ipaddress

    out: list[dict[str, str]] = []
    ns = check_namespace(args.client_namespace) if args.client_namespace else ""
    for text in args.client:
        kind, _, name = text.partition("/")
        if kind not in ("pod", "pods", "po") or not name or "/" in name:
            raise UsageError(f"--client {text!r}: use pod/NAME (and --client-namespace NS for another namespace)")
        out.append({"pod": name, **({"namespace": ns} if ns else {})})
    if ns and not args.client:
        out.append({"namespace": ns})
    for text in args.client_cidr:
        try:
            out.append({"cidr": str(ipaddress.ip_network(text, strict=False))})
        except ValueError:
            raise UsageError(f"--client-cidr {text!r} is not an address range (e.g. 203.0.113.0/24)") from None
    return out


def _add_summary(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("LLM summary (optional: pip install 'svcdoctor[llm]')")
    g.add_argument("--summarize", action="store_true",
                   help="add a plain-English summary and plan from an OpenAI-compatible model "
                   "(OPENAI_API_KEY, OPENAI_BASE_URL, SVCDOCTOR_LLM_MODEL); the report and exit code "
                   "do not depend on it")
    g.add_argument("--anonymize", action="store_true",
                   help="replace namespaces, names, hostnames and IPs with placeholders in what is sent, "
                   "and restore them in the answer (implies --summarize)")
    g.add_argument("--show-prompt", action="store_true",
                   help="print the exact request instead of sending it (implies --summarize)")
    g.add_argument("--no-cache", action="store_true", help="ask the model even if the answer is cached")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", choices=sorted(RENDERERS), default="text",
                   help="report format (default: text)")
    p.add_argument("--playbooks", metavar="DIR",
                   help="a folder of playbook YAML files that override or extend the wording")
    p.add_argument("--disable", metavar="CHECK", action="append", default=[],
                   help="skip a check (plugin.check) or a whole plugin; repeatable")


def _add_cluster(p: argparse.ArgumentParser) -> None:
    # The same spellings as kubectl, so `kubectl svcdoctor` feels native.
    p.add_argument("-n", "--namespace", help="namespace of the Service")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--kubeconfig", help="path to the kubeconfig file")
    p.add_argument("--request-timeout", type=_duration, metavar="DURATION",
                   help="per-request timeout, e.g. 10s or 1m (default 20s)")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Why is this Kubernetes Service unreachable, "
                     "and how do I fix it?")
    parser.add_argument("--version", action="version", version=f"svcdoctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    d = sub.add_parser("diagnose", help="diagnose a Service, or the Ingress, route or URL in front of it",
                       description="Diagnose a Service from a live cluster, a recording, or "
                       "kubectl output. Exit codes: 0 no problem, 1 warning, 2 critical, "
                       "3 bad input, 4 source unreadable or unreachable, 5 internal error. "
                       "The demo (no target, no cluster) exits 0.")
    d.add_argument("target", nargs="?", help="svc/NAME, ingress/NAME, httproute/NAME (grpcroute/, "
                   "tlsroute/, tcproute/) or a URL https://host/path (with no target and no cluster: the demo)")
    _add_cluster(d)
    d.add_argument("--from", dest="source", metavar="PATH",
                   help="read a svcdoctor recording, `kubectl get -o yaml|json` output, or a "
                   "`kubectl cluster-info dump --output-directory` folder instead of a cluster")
    _add_observed_at(d)
    _add_clients(d)
    _add_probe(d)
    _add_cloud(d)
    _add_output(d)
    _add_summary(d)

    m = sub.add_parser("demo", help="diagnose a recording bundled with svcdoctor")
    m.add_argument("name", nargs="?", default=demo.DEFAULT, help=f"recording (default {demo.DEFAULT})")
    m.add_argument("--list", action="store_true", help="list the bundled recordings")
    _add_output(m)
    _add_summary(m)

    r = sub.add_parser("record", help="write a Service's evidence to a recording file",
                       description="Collect the evidence for svc/NAME (from the cluster or --from) "
                       "and write it as a replayable recording, with credentials masked.")
    r.add_argument("target", help="svc/NAME")
    _add_cluster(r)
    r.add_argument("--from", dest="source", metavar="PATH", help="record from offline input")
    _add_observed_at(r)
    r.add_argument("-o", "--output", required=True, metavar="FILE", help="recording to write")
    r.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    r.add_argument("--description", default="", help="what this recording shows")
    _add_clients(r)
    _add_probe(r)
    _add_cloud(r)

    _add_scan(sub)

    m = sub.add_parser("mcp", help="serve the diagnosis to AI agents over MCP (pip install 'svcdoctor[mcp]')",
                       description="A Model Context Protocol server with read-only tools (diagnose_service, "
                       "diagnose_ingress, diagnose_route, diagnose_url, scan, explain_finding, list_finding_ids), "
                       "a resource per finding ID and a diagnose-service prompt. stdio by default; --http serves "
                       "Streamable HTTP at /mcp, bearer token required. Calls are logged to stderr.")
    m.add_argument("--http", action="store_true", help="Streamable HTTP instead of stdio")
    m.add_argument("--host", default="127.0.0.1", help="address to listen on with --http (default 127.0.0.1)")
    m.add_argument("--port", type=int, default=8765, help="port with --http (default 8765)")
    m.add_argument("--allowed-host", action="append", default=[], metavar="HOST:PORT",
                   help="a Host header to accept (required with a --host that is not loopback); repeatable")
    m.add_argument("--token-file", metavar="FILE",
                   help="file holding the bearer token HTTP clients must send (default $SVCDOCTOR_MCP_TOKEN)")
    m.add_argument("--access", metavar="FILE",
                   help="allow-list of contexts and namespaces, in the Slack bot's access file format "
                   "(the entry named by --access-entry)")
    m.add_argument("--access-entry", default="mcp", metavar="NAME",
                   help="which entry of the --access file applies (default: mcp)")
    m.add_argument("--kubeconfig", help="kubeconfig (default: KUBECONFIG, ~/.kube/config, or in-cluster)")
    m.add_argument("--request-timeout", type=_duration, metavar="DURATION", help="per API request")
    m.add_argument("--from", dest="source", metavar="PATH",
                   help="serve a recording, kubectl output or cluster-info dump instead of a cluster")

    sub.add_parser("plugins", help="list loaded plugins, their hooks and checks")

    s = sub.add_parser("slack", help="run the Slack bot (pip install 'svcdoctor[slack]')",
                       description="Answer /svcdoctor and @svcdoctor in Slack with the same diagnosis as "
                       "`svcdoctor diagnose` (and `scan -n NS` as `svcdoctor scan`). Socket Mode by default (SLACK_APP_TOKEN, SLACK_BOT_TOKEN); "
                       "--http serves POST /slack/events (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN). "
                       "GET /healthz and /readyz are served on --port in both modes.")
    s.add_argument("--access", required=True, metavar="FILE",
                   help="YAML mapping Slack channel IDs to the contexts and namespaces they may diagnose")
    s.add_argument("--http", action="store_true", help="HTTP mode instead of Socket Mode")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 in a pod)")
    s.add_argument("--port", type=int, default=3000, help="port for /slack/events and the health checks")
    s.add_argument("--kubeconfig", help="kubeconfig (default: in-cluster config, else KUBECONFIG)")
    s.add_argument("--request-timeout", type=_duration, metavar="DURATION", help="per API request")
    s.add_argument("--slack-api-url", metavar="URL",
                   help="Slack Web API base URL (default https://slack.com/api/; e.g. GovSlack)")
    _add_probe(s)
    return parser


def _add_scan(sub: Any) -> None:
    from .render.scan import SCAN_RENDERERS

    c = sub.add_parser("scan", help="diagnose every Service of a namespace or of the cluster",
                       description="Diagnose every Service in a namespace (-n, default the context's) "
                       "or in all namespaces (-A), from lists read once for the whole scope: the same "
                       "findings as `svcdoctor diagnose` gives for each. Probes are off unless --probe. "
                       "Exit codes: 0 nothing at the --fail-on level, 1 warning, 2 critical, 3 bad input, "
                       "4 source unreadable or the scan incomplete, 130 interrupted.")
    where = c.add_mutually_exclusive_group()
    where.add_argument("-n", "--namespace", help="scan this namespace (default: the context's)")
    where.add_argument("-A", "--all-namespaces", action="store_true", help="scan every namespace")
    c.add_argument("-l", "--selector", default="", metavar="SELECTOR",
                   help="only Services whose labels match (e.g. tier=web,env!=dev)")
    c.add_argument("--context", help="kubeconfig context to use")
    c.add_argument("--kubeconfig", help="path to the kubeconfig file")
    c.add_argument("--request-timeout", type=_duration, metavar="DURATION",
                   help="per-request timeout, e.g. 10s or 1m (default 20s)")
    c.add_argument("--from", dest="source", metavar="PATH",
                   help="scan `kubectl get -A -o json` output, a cluster-info dump folder or a recording")
    _add_observed_at(c)
    g = c.add_argument_group("network probes (live clusters only; off in a scan)")
    g.add_argument("--probe", action="store_true", help="probe each Service as diagnose does")
    g.add_argument("--no-probe", action="store_true", help="do not probe (the default)")
    g.add_argument("--probe-timeout", type=_duration, metavar="DURATION", default=probes.DEFAULT_TIMEOUT,
                   help=f"timeout of each probe (default {probes.DEFAULT_TIMEOUT:g}s)")
    g.add_argument("--probe-deadline", type=_duration, metavar="DURATION", default=60.0,
                   help="stop probing after this long; later Services say they were not probed (default 60s)")
    g.add_argument("--node-address-type", choices=("InternalIP", "ExternalIP"), default="InternalIP",
                   help="which node address to probe NodePorts on (default InternalIP)")
    g.add_argument("--max-nodes", type=int, metavar="N", default=probes.DEFAULT_MAX_NODES,
                   help=f"probe at most N nodes per Service (default {probes.DEFAULT_MAX_NODES})")
    k = c.add_argument_group("cloud load-balancer state (off in a scan)")
    k.add_argument("--cloud", choices=("aws", "gcp", "azure", "none"),
                   help="read each LoadBalancer Service's load balancer from this cloud's API")
    k.add_argument("--cloud-timeout", type=_duration, metavar="DURATION", default=15.0,
                   help="deadline for the cloud reads of each Service (default 15s)")
    o = c.add_argument_group("output and CI")
    o.add_argument("-o", "--output", choices=sorted(SCAN_RENDERERS), default="text",
                   help="text (a summary table), json (every report), markdown, junit (a testcase per Service)")
    o.add_argument("--fail-on", choices=("warning", "critical", "none"),
                   help="the lowest severity that makes the exit code non-zero (default warning)")
    o.add_argument("--ignore", metavar="FILE", help="YAML of accepted findings (id, services, reason, expires)")
    o.add_argument("--baseline", metavar="FILE",
                   help="a previous `scan -o json`: mark findings new / unchanged / cleared; "
                   "only new ones set the exit code")
    o.add_argument("--playbooks", metavar="DIR",
                   help="a folder of playbook YAML files that override or extend the wording")
    o.add_argument("--disable", metavar="CHECK", action="append", default=[],
                   help="skip a check (plugin.check) or a whole plugin; repeatable")
    o.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def main(argv: Sequence[str] | None = None, prog: str = "svcdoctor") -> int:
    try:
        return _run(build_parser(prog), list(sys.argv[1:] if argv is None else argv), sys.stdout)
    except SvcdoctorError as exc:
        # One line, whatever a lower layer put into the message.
        print(f"{prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # never a traceback for users; opt in for debugging
        if os.environ.get("SVCDOCTOR_DEBUG"):
            raise
        print(f"{prog}: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
              "(set SVCDOCTOR_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def kubectl_main() -> int:
    """Entry point of ``kubectl-svcdoctor``: kubectl passes its plugin arguments through."""
    return main(prog="kubectl svcdoctor")


def _run(parser: argparse.ArgumentParser, argv: list[str], out: TextIO) -> int:
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return 0
    if args.command == "plugins":
        return _plugins(out)
    if args.command == "record":
        return _record(args)
    if args.command == "slack":
        return _slack(args)
    if args.command == "scan":
        return _scan(args, out)
    if args.command == "mcp":
        return _mcp(args)
    if args.command == "demo":
        if args.list:
            for name, entry in sorted(demo.bundled().items()):
                out.write(f"{name:36} {demo.describe(entry)}\n")
            return 0
        _report(_demo_evidence(args.name), args, out)
        return 0  # a demonstration, not a verdict on the user's cluster
    return _diagnose(args, out)


def _demo_evidence(name: str) -> Evidence:
    from .sources.kubectl import load_documents
    from .sources.recording import evidence_from_recording

    entries = demo.bundled()
    if name not in entries:
        raise UsageError(f"no bundled recording {name!r}; `svcdoctor demo --list` shows them")
    with resources.as_file(entries[name]) as path:
        doc = load_documents(Path(path))[0]
    return evidence_from_recording(doc, f"bundled:{name}")


def _cluster_configured(args: argparse.Namespace) -> bool:
    if args.kubeconfig or args.context or os.environ.get("KUBERNETES_SERVICE_HOST"):
        return True
    paths = os.environ.get("KUBECONFIG", "")
    candidates = [Path(p) for p in paths.split(os.pathsep) if p] or [Path.home() / ".kube" / "config"]
    return any(p.is_file() for p in candidates)


def _need_cluster(args: argparse.Namespace) -> None:
    """A live read is asked for: it needs a cluster, and has no use for --observed-at."""
    if args.observed_at is not None:
        raise UsageError("--observed-at applies to --from input only (a live cluster is observed now)")
    if not _cluster_configured(args):
        raise ClusterError("no cluster configured: no kubeconfig (KUBECONFIG, ~/.kube/config) and "
                           "not running in a pod; use --kubeconfig, or --from FILE for offline input")


def _evidence(args: argparse.Namespace, name: str | None, namespace: str | None) -> Evidence:
    clients = _clients(args)
    if args.source:
        return collect.offline(args.source, name, namespace, args.observed_at, clients=clients)
    _need_cluster(args)
    return collect.live(name, namespace, context=args.context, kubeconfig=args.kubeconfig,
                        timeout=args.request_timeout, probe=_probe_options(args), clients=clients,
                        cloud=_cloud_options(args))


def _record(args: argparse.Namespace) -> int:
    from .sources.recording import check_writable, dump, recording_document, write_atomic

    namespace = check_namespace(args.namespace) if args.namespace else None
    path = Path(args.output)
    check_writable(path, args.force)  # before any API call: nothing is lost
    evidence = _evidence(args, parse_service_ref(args.target), namespace)
    doc = recording_document(evidence, source=evidence.source, description=args.description)
    write_atomic(path, dump(doc), force=args.force)
    print(f"recorded {evidence.target} ({len(evidence.items)} objects, {len(evidence.gaps)} gaps) "
          f"to {path}", file=sys.stderr)
    return 0


def _diagnose(args: argparse.Namespace, out: TextIO) -> int:
    namespace = check_namespace(args.namespace) if args.namespace else None
    kind, name = parse_target(args.target) if args.target else ("Service", None)
    if kind != "Service" and name is not None:
        return _diagnose_chain(args, kind, name, namespace, out)
    if name is None and not args.source:
        if _cluster_configured(args):
            raise UsageError("name the Service to diagnose: svcdoctor diagnose svc/NAME -n NAMESPACE")
        print(f"svcdoctor: no cluster configured; diagnosing the bundled recording "
              f"{demo.DEFAULT!r} (see `svcdoctor demo --list`)", file=sys.stderr)
        _report(_demo_evidence(demo.DEFAULT), args, out)
        return 0  # the demo: a verdict on a bundled recording, not on the user's cluster
    return _report(_evidence(args, name, namespace), args, out)


def _diagnose_chain(args: argparse.Namespace, kind: str, name: str, namespace: str | None,
                    out: TextIO) -> int:
    """ingress/NAME, a route, or a URL: the front's report, then each backend Service's."""
    from . import chain
    from .l7 import urls

    if kind == "URL":
        urls.parse(name)  # bad input fails before any read
        namespace = None
    if args.source:
        front = collect.offline(args.source, name, namespace, args.observed_at, kind)

        def backend(n: str, ns: str) -> Evidence:
            return collect.offline(args.source, n, ns, args.observed_at)
    else:
        _need_cluster(args)
        playbooks = Playbooks.load(args.playbooks)
        report, front = chain.live(kind, name, namespace, context=args.context, kubeconfig=args.kubeconfig,
                                   timeout=args.request_timeout, probe=_probe_options(args),
                                   cloud=_cloud_options(args),
                                   run=lambda ev: diagnose(ev, playbooks=playbooks, disable=args.disable))
        return _emit(report, front, args, out)
    playbooks = Playbooks.load(args.playbooks)
    report = chain.diagnose_chain(front, backend, lambda ev: diagnose(ev, playbooks=playbooks,
                                                                      disable=args.disable))
    return _emit(report, front, args, out)


def _report(evidence: Evidence, args: argparse.Namespace, out: TextIO) -> int:
    report = diagnose(evidence, playbooks=Playbooks.load(args.playbooks), disable=args.disable)
    return _emit(report, evidence, args, out)


def _emit(report: "Report", evidence: Evidence, args: argparse.Namespace, out: TextIO) -> int:
    """The optional summary, then the report in the chosen format; the exit code."""
    if args.summarize or args.anonymize or args.show_prompt:
        report.summary = _summary(report, evidence, args)
        if args.show_prompt:
            from .summary import show

            out.write(show(report.summary) + "\n")
            return report.exit_code
    RENDERERS[args.output](report, out)
    return report.exit_code


def _summary(report: "Report", evidence: Evidence, args: argparse.Namespace) -> Any:
    """The summary, or the deterministic one with a line on stderr saying why: the
    diagnosis and its exit code never depend on it."""
    from .summary import Options, deterministic, load_config, summarize

    try:
        summary = summarize(report, evidence, Options(anonymize=args.anonymize, use_cache=not args.no_cache,
                                                      show_prompt=args.show_prompt), load_config())
    except SvcdoctorError as exc:  # the config file
        summary = deterministic(report)
        summary.fallback = " ".join(str(exc).split())
    if summary.fallback and not args.show_prompt and report.findings:
        print(f"svcdoctor: summary: {summary.fallback}", file=sys.stderr)
    return summary


def _slack(args: argparse.Namespace) -> int:
    from .slack import serve

    return serve(access=args.access, http=args.http, host=args.host, port=args.port,
                 kubeconfig=args.kubeconfig, request_timeout=args.request_timeout,
                 probe=_probe_options(args), api_url=args.slack_api_url)


def _scan(args: argparse.Namespace, out: TextIO) -> int:
    from . import scan
    from .render.scan import SCAN_RENDERERS
    from .scan import ignore, outcome

    namespace = check_namespace(args.namespace) if args.namespace else None
    scope = scan.Scope(namespace, args.all_namespaces, args.selector)
    playbooks = Playbooks.load(args.playbooks)
    rules = ignore.load(args.ignore, playbooks.books) if args.ignore else []
    if args.baseline:
        outcome.load_baseline(args.baseline)  # a bad file fails before the scan, not after
    common = {"playbooks": args.playbooks, "disable": args.disable}
    with _progress(args) as progress:
        if args.source:
            if args.probe:
                raise UsageError("--probe applies to live clusters only")
            result = scan.offline(args.source, scope, observed_at=args.observed_at, progress=progress, **common)
        else:
            _need_cluster(args)
            if args.max_nodes < 1:
                raise UsageError("--max-nodes must be at least 1")
            options = probes.ProbeOptions(enabled=args.probe and not args.no_probe, timeout=args.probe_timeout,
                                          max_nodes=args.max_nodes, address_type=args.node_address_type)
            result = scan.live(scope, context=args.context, kubeconfig=args.kubeconfig,
                               timeout=args.request_timeout, probe=options,
                               cloud=_cloud_options(args) if args.cloud else None,
                               progress=progress, probe_deadline=args.probe_deadline, **common)
    assessment = outcome.assess(result, rules, args.baseline)
    for rule in assessment.expired:
        print(f"svcdoctor: warning: suppression {rule.where} ({rule.id}) expired on {rule.expires}; "
              "not applied", file=sys.stderr)
    if result.interrupted:
        print(f"svcdoctor: interrupted: {len(result.reports)} of {result.total} Services diagnosed",
              file=sys.stderr)
    elif result.not_diagnosed or result.missing:
        print(f"svcdoctor: incomplete: {len(result.not_diagnosed)} Services not diagnosed, "
              f"{len(result.missing)} namespaces not read (listed in the output)", file=sys.stderr)
    buf = io.StringIO()
    SCAN_RENDERERS[args.output](assessment, buf)
    _write_whole(out, buf.getvalue())
    return assessment.exit_code(args.fail_on)


def _write_whole(out: TextIO, text: str) -> None:
    """Write the output at once, Ctrl-C held off meanwhile: never half a JSON document."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        out.write(text)
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        out.write(text)
        out.flush()
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress(args: argparse.Namespace) -> Any:
    """A progress bar on stderr when it is a terminal; the callback, or None."""
    import contextlib

    if args.no_progress or not sys.stderr.isatty():
        return contextlib.nullcontext(None)

    @contextlib.contextmanager
    def bar() -> Any:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # Shown from the first Service on: reading the scope's lists has no count to show.
        p = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                     TextColumn("{task.description}"), console=Console(file=sys.stderr), transient=True)
        task = None

        def update(done: int, total: int, current: str) -> None:
            nonlocal task
            if task is None:
                p.start()
                task = p.add_task("", total=total)
            p.update(task, completed=done, total=total, description=current)
        try:
            yield update
        finally:
            if task is not None:
                p.stop()
    return bar()


def _mcp(args: argparse.Namespace) -> int:
    try:
        from .mcp_server import serve
        from .mcp_server.server import build
        from .mcp_server.tools import Tools
    except ImportError as exc:
        raise UsageError(f"svcdoctor mcp needs the MCP SDK: pip install 'svcdoctor[mcp]' ({exc})") from None
    policy = None
    if args.access:
        from .slack.access import load

        policy = load(args.access)
        if args.access_entry not in policy.channels:
            raise UsageError(f"access file {args.access}: no entry {args.access_entry!r} under channels "
                             f"(--access-entry names it)")
    if args.source and not Path(args.source).exists():
        raise UsageError(f"--from {args.source}: no such file or directory")
    server = build(Tools(kubeconfig=args.kubeconfig, request_timeout=args.request_timeout, policy=policy,
                         entry=args.access_entry, source=args.source))
    if args.http:
        if not 0 < args.port < 65536:
            raise UsageError(f"--port {args.port}: not a port number")
        serve.http(server, args.host, args.port, serve.token(args.token_file),
                   serve.allowed_hosts(args.host, args.port, args.allowed_host))
    else:
        serve.stdio(server)
    return 0


def _plugins(out: TextIO) -> int:
    from . import registry

    reg = registry.default()
    for name, hooks, checks in reg.plugins():
        out.write(f"{name}  (hooks: {', '.join(hooks)})\n")
        for c in checks:
            out.write(f"  {c.name:32} {', '.join(c.emits)}\n")
    return 0
