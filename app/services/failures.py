"""Why a server went down, in one plain sentence that says what to do about it.

Read from the exit code and the last log lines, because that is all a crashed process leaves.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from app.services.logs import LogLine, message_of
from backends.sdk.manifest import Manifest

_MISSING_MODULE_RE = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'")
_IMPORT_ERROR_RE = re.compile(r"ImportError: (.+)")
_BIND_RE = re.compile(r"address already in use|error while attempting to bind|Errno 98", re.I)
_GPU_MEMORY_RE = re.compile(r"CUDA out of memory|OutOfMemoryError", re.I)


@dataclass(frozen=True)
class Diagnosis:
    sentence: str
    permanent: bool  # a restart cannot fix it (a missing library, a port another program holds)


def install_hint(manifest: Manifest, module: str) -> str:
    if manifest.extra:
        return f"the model needs the '{manifest.extra}' extra: pip install -e '.[{manifest.extra}]'"
    return f"the model needs the Python package '{module}': pip install {module}"


def diagnose(
    exit_code: int | None, lines: Sequence[LogLine], manifest: Manifest, port: int
) -> Diagnosis:
    text = [line.text for line in lines]
    for line in reversed(text):
        if match := _MISSING_MODULE_RE.search(line):
            module = match.group(1).split(".")[0]
            hint = _capital(install_hint(manifest, module))
            return Diagnosis(f"{hint} (missing module '{module}').", permanent=True)
    for line in reversed(text):
        if _BIND_RE.search(line):
            return Diagnosis(
                f"Port {port} is already in use by another program: choose another port, "
                "or leave the port empty to pick a free one.",
                permanent=True,
            )
        if _GPU_MEMORY_RE.search(line):
            sentence = "The GPU ran out of memory: free it, pick another GPU, or run on the CPU."
            return Diagnosis(sentence, permanent=False)
        if match := _IMPORT_ERROR_RE.search(line):
            hint = install_hint(manifest, "?") if manifest.extra else "reinstall the package"
            return Diagnosis(f"A library failed to import ({match.group(1)}): {hint}.", True)
    return Diagnosis(f"{_exit_sentence(exit_code)}{_last_error(lines)}", permanent=False)


def _exit_sentence(exit_code: int | None) -> str:
    if exit_code is None:
        return "The server stopped answering"
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        why = " (out of memory, or another program killed it)" if name == "SIGKILL" else ""
        return f"The server was killed by {name}{why}"
    return f"The server exited with code {exit_code}"


def _last_error(lines: Sequence[LogLine]) -> str:
    errors = [message_of(line.text) for line in lines if line.level in ("ERROR", "CRITICAL")]
    meaningful = [e for e in errors if e and not e.startswith(("Traceback", "File "))]
    if not meaningful:
        return "."
    return f": {meaningful[-1].rstrip('.')}."


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]
