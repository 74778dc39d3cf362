"""Which analyzers a hub runs: the built-ins, Python entry points, and configured factories.

- Entry points: a package declares
  `[project.entry-points."realtime.analyzers"] myname = "mypkg.mod:factory"`;
  `factory()` returns an `Analyzer` (or a class to instantiate).
- Configuration: `REALTIME_ANALYSIS_ANALYZERS="mypkg.mod:factory,other:Cls"`
  (or `analysis_analyzers` in Settings.extra) loads the same way.

A later registration with the same name replaces an earlier one, so an
application can override a built-in.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from ...platform.errors import invalid_argument
from .base import Analyzer

log = logging.getLogger("realtime.analysis")
ENTRY_POINT_GROUP = "realtime.analyzers"


class Registry:
    def __init__(self, analyzers: Iterable[Analyzer] = ()) -> None:
        self._by_name: dict[str, Analyzer] = {}
        for analyzer in analyzers:
            self.add(analyzer)

    def add(self, analyzer: Analyzer) -> None:
        if not isinstance(analyzer, Analyzer) or not analyzer.name or not analyzer.phases:
            raise TypeError(f"{analyzer!r} is not an Analyzer with a name and a phase plan")
        self._by_name[analyzer.name] = analyzer

    def get(self, name: str) -> Analyzer:
        found = self._by_name.get(name)
        if found is None:
            raise invalid_argument(
                f"unknown analyzer {name!r}",
                [("analyzer", f"available: {', '.join(sorted(self._by_name))}")],
                reason="UNKNOWN_ANALYZER",
            )
        return found

    def find(self, name: str) -> Analyzer | None:
        return self._by_name.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)

    def load_spec(self, spec: str) -> None:
        """Load 'module:attr' where attr is an Analyzer, a class, or a factory returning one."""
        module_name, _, attr = spec.strip().partition(":")
        if not module_name or not attr:
            raise ValueError(f"analyzer spec {spec!r} must look like 'module:factory'")
        self.add(_instantiate(getattr(importlib.import_module(module_name), attr)))

    def load_entry_points(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                self.add(_instantiate(ep.load()))
            except Exception:
                log.exception("cannot load analyzer entry point %s", ep.name)


def _instantiate(obj: Any) -> Analyzer:
    if isinstance(obj, Analyzer):
        return obj
    made = obj()
    if not isinstance(made, Analyzer):
        raise TypeError(f"{obj!r} did not return an Analyzer")
    return made


def builtin_registry() -> Registry:
    from .image_inspect import ImageInspect
    from .image_optimize import ImageOptimize
    from .screenshot_suggest import ScreenshotSuggest
    from .text_inspect import TextInspect

    return Registry([ImageOptimize(), ImageInspect(), TextInspect(), ScreenshotSuggest()])
