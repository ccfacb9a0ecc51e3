"""Remembered launch settings and presets; secrets go to the keyring, never to the JSON file."""

import json
from pathlib import Path

import keyring
import pytest

from app.services.secrets import SERVICE
from app.services.settings import Settings
from app.services.spec import LaunchSpec

MODEL = "sklearn_text_classifier"


def _secret(slot_and_key: str) -> str | None:
    return keyring.get_password(SERVICE, f"model/{MODEL}/{slot_and_key}")


def _spec(**changes) -> LaunchSpec:
    values = {
        "model": MODEL,
        "params": {"LOGISTIC_REGRESSION_C": 2.5, "LABEL_STUDIO_API_KEY": "tok-123"},
        "port": 9191,
        "device": "cuda:0",
        "basic_auth": ("ann", "pa55word"),
        "auto_restart": True,
    }
    return LaunchSpec(**{**values, **changes})


def test_last_used_settings_come_back_with_their_secrets(tmp_path: Path, memory_keyring):
    Settings(tmp_path).remember(_spec())
    again = Settings(tmp_path).last_used(MODEL)
    assert again == _spec()
    assert Settings(tmp_path).last_used("interactive_substring_matching") is None


def test_secrets_are_in_the_keyring_and_not_in_the_settings_file(tmp_path: Path, memory_keyring):
    settings = Settings(tmp_path)
    settings.remember(_spec())
    settings.save_preset("fast", _spec())
    text = settings.path.read_text(encoding="utf-8")
    assert "tok-123" not in text and "pa55word" not in text
    assert json.loads(text)["models"][MODEL]["last"]["params"] == {"LOGISTIC_REGRESSION_C": 2.5}
    for slot in ("last", "preset/fast"):
        assert _secret(f"{slot}/LABEL_STUDIO_API_KEY") == "tok-123"
        assert _secret(f"{slot}/basic-auth-password") == "pa55word"


def test_presets_save_load_list_and_delete(tmp_path: Path, memory_keyring):
    settings = Settings(tmp_path)
    settings.save_preset("careful", _spec(params={"LOGISTIC_REGRESSION_C": 0.1}, basic_auth=None))
    settings.save_preset("with token", _spec())
    assert settings.presets(MODEL) == ["careful", "with token"]
    assert settings.load_preset(MODEL, "careful").params == {"LOGISTIC_REGRESSION_C": 0.1}
    assert settings.load_preset(MODEL, "with token") == _spec()

    settings.delete_preset(MODEL, "with token")
    assert settings.presets(MODEL) == ["careful"]
    assert _secret("preset/with token/LABEL_STUDIO_API_KEY") is None  # left the keyring too
    assert _secret("preset/with token/basic-auth-password") is None
    with pytest.raises(LookupError, match="No preset named 'with token'"):
        settings.load_preset(MODEL, "with token")


def test_clearing_a_secret_forgets_it(tmp_path: Path, memory_keyring):
    settings = Settings(tmp_path)
    settings.remember(_spec())
    settings.remember(_spec(params={"LOGISTIC_REGRESSION_C": 2.5}, basic_auth=None))
    assert _secret("last/LABEL_STUDIO_API_KEY") is None
    assert _secret("last/basic-auth-password") is None
    assert settings.last_used(MODEL).basic_auth is None
