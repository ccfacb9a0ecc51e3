"""What the parameter form holds, kept free of Qt so it can be checked without a screen.

Widgets bind to a :class:`FormState` by parameter name (glue/echo style): a widget writes the
raw text the user typed, the state says what is wrong with it using the manifest's own words
(:meth:`Parameter.coerce`), and every listener hears which name changed. The form never
decides validity itself, so the GUI refuses exactly what ``main.py serve --param`` refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backends.sdk.manifest import Manifest, Parameter, ParameterError, ParamType

Listener = Callable[[str], None]


def is_blank(param: Parameter, raw: Any) -> bool:
    return raw is None or (raw == "" and param.type is not ParamType.BOOLEAN)


class FormState:
    def __init__(self, manifest: Manifest, values: dict[str, Any] | None = None):
        self.manifest = manifest
        self._raw: dict[str, Any] = {p.name: p.default for p in manifest.parameters}
        self._listeners: list[Listener] = []
        self.update(values or {})

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def get(self, name: str) -> Any:
        return self._raw[name]

    def set(self, name: str, raw: Any) -> None:
        if name not in self._raw:
            raise KeyError(f"{self.manifest.name} has no parameter {name!r}")
        if self._raw[name] == raw and type(self._raw[name]) is type(raw):
            return
        self._raw[name] = raw
        for listener in list(self._listeners):
            listener(name)

    def update(self, values: dict[str, Any]) -> None:
        """Take remembered or preset values; names the manifest no longer has are dropped."""
        for name, raw in values.items():
            if name in self._raw:
                self.set(name, raw)

    def reset(self) -> None:
        self.update({p.name: p.default for p in self.manifest.parameters})

    def error(self, name: str) -> str | None:
        """The problem with one value, as the manifest words it, or None when it is fine."""
        param = self.manifest.parameter(name)
        raw = self._raw[name]
        if is_blank(param, raw):
            if param.required and param.default in (None, ""):
                return "is required"
            return None
        try:
            param.coerce(raw)
        except ParameterError as exc:
            return exc.problem
        return None

    def errors(self) -> dict[str, str]:
        found = {p.name: self.error(p.name) for p in self.manifest.parameters}
        return {name: problem for name, problem in found.items() if problem}

    @property
    def valid(self) -> bool:
        return not self.errors()

    def first_problem(self) -> str | None:
        """One sentence for the Launch button's neighbourhood: which parameter, what is wrong."""
        for name, problem in self.errors().items():
            return f"{self.manifest.parameter(name).label} ({name}) {problem}"
        return None

    def values(self) -> dict[str, Any]:
        """Typed values ready for a launch; raises ParameterError while anything is wrong."""
        return self.manifest.validate_params(self._raw)
