"""The built-in detectors, keyed by their stable id (the kind of finding they produce).

Built-ins are listed in an explicit tuple rather than discovered, so the set of rules is
what this file says. Each rule carries its id (`@detector("blocked")` in
`detectors.common`); a rule without one, or two rules with the same id, stop the registry
from building: a silently skipped rule would look like a rule that found nothing.

The duplicates detector (`detectors.duplicates.detect_duplicates`, kind `duplicate`, settings
`detectors.duplicates`) is optional here: it is registered when its module is present, and
imported only when it runs, so its heavier dependencies load only when it is enabled and a
failure to import it is recorded like any other crashing detector instead of stopping the
others.

Each detector's settings live under `detectors.<setting>` in the config; `enabled: false`
switches it off.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from config.errors import GapbotError
from config.settings import DetectorBase, DetectorsConfig, GapbotConfig
from detectors.base import FINDING_KINDS, DetectedGap, Detector, Snapshot
from detectors.delivery import DELIVERY_DETECTORS
from detectors.priorities import PRIORITY_DETECTORS
from detectors.workload import WORKLOAD_DETECTORS

BUILTIN_DETECTORS: tuple[Detector, ...] = (
    *PRIORITY_DETECTORS,
    *DELIVERY_DETECTORS,
    *WORKLOAD_DETECTORS,
)
"""Every built-in rule, in the order they run."""

OPTIONAL_DETECTORS: tuple[tuple[str, str, str, str], ...] = (
    ("duplicate", "duplicates", "detectors.duplicates", "detect_duplicates"),
)
"""(kind, settings name, module, function) of detectors registered only when present."""


class RegistryError(GapbotError):
    """The set of detectors is inconsistent (a programming error, never the user's)."""


@dataclass(frozen=True)
class DetectorSpec:
    """One registered detector."""

    id: str
    """The stable id: the kind of the findings it produces."""
    setting: str
    """Its section under `detectors` in the config."""
    function: Detector | None = None
    """The rule itself; None for one imported when it runs."""
    module: str = ""
    """For a lazily imported rule: its module."""
    attribute: str = ""
    """For a lazily imported rule: the function's name in its module."""

    def run(self, snapshot: Snapshot) -> list[DetectedGap]:
        """Run the rule on a snapshot."""
        function = self.function
        if function is None:
            function = cast(Detector, getattr(importlib.import_module(self.module), self.attribute))
        return function(snapshot)

    def settings(self, config: GapbotConfig) -> DetectorBase:
        """This detector's settings in `config`."""
        return cast(DetectorBase, getattr(config.detectors, self.setting))

    def enabled(self, config: GapbotConfig) -> bool:
        """Whether the config leaves this detector switched on."""
        return self.settings(config).enabled


def spec_of(function: Detector) -> DetectorSpec:
    """The spec of a rule marked with `@detector(kind)`; RegistryError when unmarked."""
    kind = getattr(function, "detector_id", None)
    if not isinstance(kind, str) or not kind:
        name = getattr(function, "__qualname__", repr(function))
        msg = f"detector {name} has no id: mark it with @detector('<kind>')"
        raise RegistryError(msg)
    return DetectorSpec(id=kind, setting=kind, function=function)


def optional_specs() -> list[DetectorSpec]:
    """Specs of the optional detectors whose module exists in this installation."""
    specs = []
    for kind, setting, module, attribute in OPTIONAL_DETECTORS:
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            found = None
        if found is not None:
            specs.append(DetectorSpec(id=kind, setting=setting, module=module, attribute=attribute))
    return specs


def build_registry(specs: Iterable[DetectorSpec]) -> dict[str, DetectorSpec]:
    """Key specs by id; RegistryError on a duplicate id, an unknown kind or missing settings."""
    registry: dict[str, DetectorSpec] = {}
    for spec in specs:
        if spec.id in registry:
            msg = f"two detectors have the id '{spec.id}'"
            raise RegistryError(msg)
        if spec.id not in FINDING_KINDS:
            msg = f"detector id '{spec.id}' is not a finding kind ({', '.join(FINDING_KINDS)})"
            raise RegistryError(msg)
        if spec.setting not in DetectorsConfig.model_fields:
            msg = f"detector '{spec.id}' has no settings section detectors.{spec.setting}"
            raise RegistryError(msg)
        registry[spec.id] = spec
    return registry


def registry() -> dict[str, DetectorSpec]:
    """Every available detector by id: the built-ins, then the optional ones present."""
    return build_registry([*(spec_of(f) for f in BUILTIN_DETECTORS), *optional_specs()])


def enabled_detectors(config: GapbotConfig) -> list[DetectorSpec]:
    """The detectors the config leaves switched on, in registry order."""
    return [spec for spec in registry().values() if spec.enabled(config)]
