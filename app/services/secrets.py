"""Secrets (API keys, basic-auth passwords, Label Studio tokens) live in the OS keyring only.

Everything goes under one keyring service name so a user can find and remove them in their
password manager; callers pass a key such as ``"model/<model>/last/LABEL_STUDIO_API_KEY"``.
"""

from __future__ import annotations

import keyring
from keyring.errors import KeyringError, PasswordDeleteError

SERVICE = "ml-launcher"


class SecretsUnavailable(RuntimeError):
    """No usable keyring (e.g. no Secret Service running); the secret was not kept."""


def get_secret(key: str) -> str | None:
    try:
        return keyring.get_password(SERVICE, key)
    except KeyringError as exc:
        raise SecretsUnavailable(_sentence(exc)) from exc


def set_secret(key: str, value: str) -> None:
    try:
        keyring.set_password(SERVICE, key, value)
    except KeyringError as exc:
        raise SecretsUnavailable(_sentence(exc)) from exc


def delete_secret(key: str) -> None:
    """Forget a secret; forgetting one that was never stored is not an error."""
    try:
        keyring.delete_password(SERVICE, key)
    except PasswordDeleteError:
        return
    except KeyringError as exc:
        raise SecretsUnavailable(_sentence(exc)) from exc


def _sentence(exc: Exception) -> str:
    return (
        f"The system keyring is not available ({exc}); secrets cannot be remembered. "
        "Unlock or install a keyring (GNOME Keyring, KWallet, macOS Keychain) and try again."
    )
