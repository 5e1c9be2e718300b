"""The plugin manager: loads plugins by entry point, once, and collects their checks."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import UsageError
from .findings import Check, CheckFunc
from .similar import suggestion

GROUP = "svcdoctor"


@dataclass
class Registry:
    pm: pluggy.PluginManager
    checks: list[Check]

    def plugins(self) -> list[tuple[str, list[str], list[Check]]]:
        """(plugin name, hooks it implements, its checks) for every loaded plugin."""
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin()):
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            out.append((name, hooks, [c for c in self.checks if c.plugin == name]))
        return out

    def emitted_ids(self) -> set[str]:
        return {i for c in self.checks for i in c.emits}


def build(extra_plugins: list[tuple[str, Any]] | None = None,
          only: str | None = None) -> Registry:
    """Load entry-point plugins (``SVCDOCTOR_PLUGINS`` narrows them) plus ``extra_plugins``.

    Raises :class:`UsageError` for a plugin that fails to import or declares an unknown hook.
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    only = os.environ.get("SVCDOCTOR_PLUGINS") if only is None else only
    wanted = {n.strip() for n in only.split(",") if n.strip()} if only else None
    installed = {ep.name for ep in metadata.entry_points(group=GROUP)}
    for name in sorted((wanted or set()) - installed):  # a typo must not mean "no checks, all fine"
        raise UsageError(f"SVCDOCTOR_PLUGINS names {name!r}, which is not installed"
                         + (suggestion(name, installed) or f" (installed: {', '.join(sorted(installed))})"))
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        if wanted is not None and ep.name not in wanted:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue  # the same distribution seen twice on sys.path
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must say who it is
            raise UsageError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        _register(pm, plugin, ep.name)
    for name, plugin in extra_plugins or []:
        _register(pm, plugin, name)
    try:
        pm.check_pending()  # a misspelled @hookimpl fails here, loudly
    except pluggy.PluginValidationError as exc:
        raise UsageError(f"plugin {exc.plugin!r}: {exc}") from exc
    if os.environ.get("SVCDOCTOR_TRACE"):
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
        pm.enable_tracing()
    return Registry(pm, _collect_checks(pm))


def _register(pm: pluggy.PluginManager, plugin: Any, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        raise UsageError(f"plugin {name!r} is invalid: {exc}") from exc


def _collect_checks(pm: pluggy.PluginManager) -> list[Check]:
    checks: list[Check] = []
    seen: set[str] = set()
    for impl in reversed(pm.hook.register_checks.get_hookimpls()):  # registration order
        def register(func: CheckFunc, emits: tuple[str, ...] | list[str] = (),
                     targets: tuple[str, ...] = ("Service",),
                     _plugin: str = impl.plugin_name) -> None:
            cname = f"{_plugin}.{getattr(func, '__name__', 'check')}"
            if cname in seen:
                raise UsageError(f"check {cname!r} is registered twice")
            if not emits:
                raise UsageError(f"check {cname!r} must declare the finding IDs it emits")
            seen.add(cname)
            checks.append(Check(cname, func, tuple(emits), _plugin, tuple(targets)))
        impl.function(register=register)
    return checks


_default: Registry | None = None


def default() -> Registry:
    """The registry of installed plugins, built lazily once per process."""
    global _default
    if _default is None:
        _default = build()
    return _default
