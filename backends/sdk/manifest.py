"""The manifest: what a model can do and which parameters it takes, readable without importing it.

The panel's form, the CLI's ``--param``, the Docker environment and ``/setup``'s
``extra_params`` all validate through :func:`Manifest.validate_params`, so a value refused in
one place is refused with the same words everywhere.
"""

from __future__ import annotations

import json
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backends.sdk import label_config


class Capability(StrEnum):
    PREDICTION = "prediction"
    INTERACTIVE = "interactive"
    TRAINING = "training"


class ParamType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    SECRET = "secret"
    FILE = "file"
    FOLDER = "folder"


class ParameterError(ValueError):
    """A parameter value is missing or has the wrong type; the message names the parameter."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Parameter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # also the environment variable, as users know it from the upstream examples
    type: ParamType = ParamType.STRING
    title: str = ""
    default: Any = None
    required: bool = False
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] = Field(default_factory=list)

    @property
    def secret(self) -> bool:
        return self.type is ParamType.SECRET

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()

    def coerce(self, raw: Any) -> Any:
        """Turn a raw value (CLI/env string or JSON value) into this parameter's type."""
        kind = self.type
        if kind is ParamType.BOOLEAN:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ParameterError(self.name, f"expected true or false, got {raw!r}")
        if kind in (ParamType.INTEGER, ParamType.FLOAT):
            if isinstance(raw, bool):
                raise ParameterError(self.name, f"expected a number, got {raw!r}")
            try:
                value = int(str(raw).strip()) if kind is ParamType.INTEGER else float(raw)
            except (TypeError, ValueError):
                noun = "a whole number" if kind is ParamType.INTEGER else "a number"
                raise ParameterError(self.name, f"expected {noun}, got {raw!r}") from None
            if self.minimum is not None and value < self.minimum:
                raise ParameterError(
                    self.name, f"must be at least {_num(self.minimum)}, got {value}"
                )
            if self.maximum is not None and value > self.maximum:
                raise ParameterError(
                    self.name, f"must be at most {_num(self.maximum)}, got {value}"
                )
            return value
        value = "" if raw is None else str(raw)
        if kind is ParamType.CHOICE and value not in self.choices:
            raise ParameterError(
                self.name, f"must be one of {', '.join(self.choices)}, got {value!r}"
            )
        return value

    def to_env(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)


class ConfigRequirement(BaseModel):
    """One way a project may be set up for this model: a control on one of some objects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    control: str
    objects: list[str]

    def sentence(self) -> str:
        return label_config.missing_sentence(self.control, self.objects, None)


class LabelConfigTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    config: str


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    description: str
    model_class: str  # "package.module:Class", imported only by the server
    capabilities: list[Capability]
    data_types: list[str]
    gpu: str = "none"  # none | optional | required
    extra: str = ""  # the pyproject optional-dependency group the model needs
    docker_image: str = ""
    requires: list[ConfigRequirement] = Field(default_factory=list)
    label_configs: list[LabelConfigTemplate] = Field(default_factory=list)
    parameters: list[Parameter] = Field(default_factory=list)
    directory: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_parameter_names(self) -> Manifest:
        names = [p.name for p in self.parameters]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate parameters: {', '.join(sorted(dupes))}")
        return self

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls.model_validate({**data, "directory": path.parent})

    def has(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def default_label_config(self) -> str:
        return self.label_configs[0].config if self.label_configs else ""

    def validate_params(
        self, raw: dict[str, Any], *, allow_unknown: bool = False
    ) -> dict[str, Any]:
        """Coerce every value and fill defaults; raise ParameterError naming the first problem."""
        values: dict[str, Any] = {}
        for key in raw:
            if self.parameter(key) is None and not allow_unknown:
                known = ", ".join(p.name for p in self.parameters) or "none"
                raise ParameterError(key, f"unknown parameter for {self.name} (known: {known})")
        for param in self.parameters:
            given = raw.get(param.name)
            if given is None or (given == "" and param.type is not ParamType.BOOLEAN):
                if param.required and param.default in (None, ""):
                    raise ParameterError(param.name, "is required")
                values[param.name] = param.default
                continue
            values[param.name] = param.coerce(given)
        if allow_unknown:
            values.update({k: v for k, v in raw.items() if self.parameter(k) is None})
        return values

    def check_label_config(self, config: label_config.LabelConfig) -> None:
        """Raise UnsupportedConfig with a plain sentence when no requirement is met."""
        if not self.requires:
            return
        for requirement in self.requires:
            if config.find(requirement.control, requirement.objects):
                return
        wanted = " or ".join(r.sentence().removeprefix("needs ") for r in self.requires)
        raise label_config.UnsupportedConfig(
            f"{self.name} needs {wanted}; this project has {config.describe()}"
        )

    def summary(self) -> dict[str, Any]:
        """The catalog entry as plain JSON (``models --json``)."""
        return json.loads(self.model_dump_json())


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
