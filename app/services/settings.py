"""Launch settings remembered per model, and named presets, in one JSON file.

Secret values (parameters of type ``secret`` and the basic-auth password) are split off into
the OS keyring; the JSON only records that the field is set in the keyring, so the file can be
shared or backed up without leaking a key.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from app.services import paths, secrets
from app.services.spec import LaunchSpec
from backends.sdk.catalog import UnknownModel, get_manifest

log = logging.getLogger(__name__)

FILE_NAME = "settings.json"
LAST_USED = "last"
_PLAIN_FIELDS = ("host", "port", "device", "debug", "auto_restart", "runtime", "image")


class Settings:
    def __init__(self, directory: Path | None = None):
        self.path = (directory or paths.config_dir()) / FILE_NAME

    def last_used(self, model: str) -> LaunchSpec | None:
        entry = self._model(self._read(), model).get(LAST_USED)
        return None if entry is None else self._spec(model, LAST_USED, entry)

    def remember(self, spec: LaunchSpec) -> None:
        self._store(spec, LAST_USED)

    def presets(self, model: str) -> list[str]:
        return sorted(self._model(self._read(), model).get("presets", {}))

    def save_preset(self, name: str, spec: LaunchSpec) -> None:
        if not name.strip():
            raise ValueError("A preset needs a name.")
        self._store(spec, name.strip(), preset=True)

    def load_preset(self, model: str, name: str) -> LaunchSpec:
        entry = self._model(self._read(), model).get("presets", {}).get(name)
        if entry is None:
            raise LookupError(f"No preset named {name!r} for {model}.")
        return self._spec(model, _slot(name, preset=True), entry)

    def delete_preset(self, model: str, name: str) -> None:
        data = self._read()
        entry = self._model(data, model).get("presets", {}).pop(name, None)
        if entry is None:
            return
        for key in entry.get("secrets", []):
            self._forget(_secret_key(model, _slot(name, preset=True), key))
        self._write(data)

    # -- inside ---------------------------------------------------------------------------

    def _store(self, spec: LaunchSpec, name: str, preset: bool = False) -> None:
        slot = _slot(name, preset)
        secret_names = _secret_params(spec.model)
        entry: dict[str, Any] = {field: getattr(spec, field) for field in _PLAIN_FIELDS}
        entry["model_dir"] = str(spec.model_dir) if spec.model_dir else None
        entry["params"] = {k: v for k, v in spec.params.items() if k not in secret_names}
        entry["basic_auth_user"] = spec.basic_auth[0] if spec.basic_auth else None
        hidden = {k: v for k, v in spec.params.items() if k in secret_names}
        if spec.basic_auth:
            hidden[_BASIC_AUTH] = spec.basic_auth[1]
        entry["secrets"] = []
        for key, value in hidden.items():
            if value not in (None, "") and self._keep(_secret_key(spec.model, slot, key), value):
                entry["secrets"].append(key)
        data = self._read()
        bucket = self._model(data, spec.model)
        previous = (bucket.get("presets", {}).get(name) if preset else bucket.get(name)) or {}
        for key in set(previous.get("secrets", [])) - set(entry["secrets"]):
            self._forget(_secret_key(spec.model, slot, key))
        if preset:
            bucket.setdefault("presets", {})[name] = entry
        else:
            bucket[name] = entry
        self._write(data)

    def _spec(self, model: str, slot: str, entry: dict[str, Any]) -> LaunchSpec:
        params = dict(entry.get("params", {}))
        password = None
        for key in entry.get("secrets", []):
            value = self._recall(_secret_key(model, slot, key))
            if key == _BASIC_AUTH:
                password = value
            elif value is not None:
                params[key] = value
        user = entry.get("basic_auth_user")
        plain = {field: entry[field] for field in _PLAIN_FIELDS if field in entry}
        return LaunchSpec(
            model=model,
            params=params,
            basic_auth=(user, password) if user and password else None,
            model_dir=Path(entry["model_dir"]) if entry.get("model_dir") else None,
            **plain,
        )

    def _keep(self, key: str, value: str) -> bool:
        try:
            secrets.set_secret(key, str(value))
        except secrets.SecretsUnavailable as exc:
            log.warning("%s", exc)
            return False
        return True

    def _recall(self, key: str) -> str | None:
        try:
            return secrets.get_secret(key)
        except secrets.SecretsUnavailable as exc:
            log.warning("%s", exc)
            return None

    def _forget(self, key: str) -> None:
        try:
            secrets.delete_secret(key)
        except secrets.SecretsUnavailable as exc:
            log.warning("%s", exc)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable settings %s: %s", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        """Write beside, then rename: a crash mid-write never leaves half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(partial, self.path)

    @staticmethod
    def _model(data: dict[str, Any], model: str) -> dict[str, Any]:
        return data.setdefault("models", {}).setdefault(model, {})


_BASIC_AUTH = "basic-auth-password"


def _slot(name: str, preset: bool) -> str:
    return f"preset/{name}" if preset else name


def _secret_key(model: str, slot: str, key: str) -> str:
    return f"model/{model}/{slot}/{key}"


def _secret_params(model: str) -> set[str]:
    try:
        manifest = get_manifest(model)
    except UnknownModel:
        return set()
    return {p.name for p in manifest.parameters if p.secret}
