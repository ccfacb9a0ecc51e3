"""A real Label Studio 1.23.2 for end-to-end tests, started in seconds from a pre-migrated template.

A cold start runs every Django migration (60-85 s on two cores), so ``build_template`` runs
``label-studio init`` once into ``.cache/ls-template-<version>`` and each test session starts
from a copy of it. The template also holds a Personal Access Token minted with Label Studio's own
code: copies share the database and the ``SECRET_KEY`` in ``<data dir>/.env``, so the token stays
valid and ``pat()`` costs nothing.

Stdlib only: ``scripts/setup/label-studio.sh`` runs this module with Label Studio's interpreter
(``python -m tests.support.label_studio build-template``) before the project venv exists.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from .net import free_port, wait_for_http_ok
from .processes import StoppableProcess, log_tail, start_in_own_group

LS_VERSION = "1.23.2"
USERNAME = "admin@example.com"
PASSWORD = "admin12345"
# Label Studio ignores tokens of 5 characters or fewer.
LEGACY_TOKEN = "ml-launcher-tests-legacy-token-0123456789"
PAT_FILE = "ml-launcher-test-pat.txt"
REPO_ROOT = Path(__file__).resolve().parents[2]

_MINT_PAT = f"""
from jwt_auth.models import LSAPIToken
from users.models import User
print("PAT=" + LSAPIToken.for_user(User.objects.get(email={USERNAME!r})).get_full_jwt())
"""


class LabelStudioMissing(RuntimeError):
    """Label Studio is not installed where the tests look for it."""


def ls_venv() -> Path:
    """Label Studio lives in its own venv: its pins (Django, pandas, numpy) clash with ours."""
    return Path(os.environ.get("LS_VENV") or REPO_ROOT / ".cache" / "ls-venv")


def template_dir() -> Path:
    return REPO_ROOT / ".cache" / f"ls-template-{LS_VERSION}"


def label_studio_env(data_dir: Path) -> dict[str, str]:
    """The environment Label Studio needs to run headless, offline and next to local backends."""
    # LS reads un-prefixed USERNAME/PASSWORD/PORT/HOST as fallbacks: a desktop session's
    # $USERNAME would silently become the admin user.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"USERNAME", "PASSWORD", "PORT", "HOST", "USER_TOKEN"}
    }
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LABEL_STUDIO_USERNAME=USERNAME,
        LABEL_STUDIO_PASSWORD=PASSWORD,
        LABEL_STUDIO_USER_TOKEN=LEGACY_TOKEN,
        # Only read when the organization is created (template build); see _disable_legacy_tokens.
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        # LS ships a default Sentry DSN and asks PyPI for the latest version at import.
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
        LATEST_VERSION_CHECK="false",
        COLLECT_ANALYTICS="false",
        # Without these LS answers 403 for ML backends and webhooks on 127.0.0.1.
        ML_BLOCK_LOCAL_IP="false",
        SSRF_PROTECTION_ENABLED="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def _venv_file(relative: str) -> Path:
    path = ls_venv() / relative
    if not path.exists():
        raise LabelStudioMissing(
            f"{path} not found: run `bash scripts/setup/label-studio.sh` "
            f"or point LS_VENV at a venv with label-studio=={LS_VERSION}"
        )
    return path


def _manage_py() -> Path:
    found = sorted(ls_venv().glob("lib/python3*/site-packages/label_studio/manage.py"))
    if not found:
        raise LabelStudioMissing(f"label_studio/manage.py not found under {ls_venv()}")
    return found[0]


def build_template() -> Path:
    """Migrate a database with the admin user, legacy token and a PAT; no-op when cached."""
    target = template_dir()
    if (target / PAT_FILE).exists():
        return target
    building = target.with_name(f"{target.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    env = label_studio_env(building)
    log_path = target.with_name(f"{target.name}.log")
    with open(log_path, "wb") as log:
        init = subprocess.run(
            [str(_venv_file("bin/label-studio")), "init", "--no-browser"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if init.returncode != 0:
        raise RuntimeError(f"label-studio init failed:\n{log_tail(log_path)}")
    minted = subprocess.run(
        [str(_venv_file("bin/python")), str(_manage_py()), "shell", "-c", _MINT_PAT],
        env={**env, "DJANGO_SETTINGS_MODULE": "core.settings.label_studio"},
        capture_output=True,
        text=True,
        check=False,
    )
    pat = next((line[4:] for line in minted.stdout.splitlines() if line.startswith("PAT=")), "")
    if not pat:
        raise RuntimeError(f"minting the PAT failed:\n{minted.stderr[-3000:]}")
    (building / PAT_FILE).write_text(pat)
    try:
        building.rename(target)
    except OSError:  # another session finished first; its template is just as good
        shutil.rmtree(building, ignore_errors=True)
    return target


def _disable_legacy_tokens(data_dir: Path) -> None:
    """The org flag is only set at creation, so flip it in the copy instead of a second template."""
    query = "UPDATE jwt_auth_jwtsettings SET legacy_api_tokens_enabled = 0"
    with closing(sqlite3.connect(data_dir / "label_studio.sqlite3")) as db, db:
        changed = db.execute(query).rowcount
    if changed != 1:
        raise RuntimeError(f"expected one organization in the template, found {changed}")


@dataclass
class LabelStudioServer(StoppableProcess):
    """One running Label Studio with a known admin user and tokens."""

    url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen
    legacy_tokens: bool
    started_in: float
    username: str = USERNAME
    password: str = PASSWORD
    legacy_token: str = LEGACY_TOKEN

    def pat(self) -> str:
        """A Personal Access Token (JWT refresh token); SDK 2.x accepts it as ``api_key``."""
        return (self.data_dir / PAT_FILE).read_text().strip()


def start_label_studio(
    workdir: Path,
    *,
    legacy_tokens: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
) -> LabelStudioServer:
    """Copy the template into ``workdir`` and start Label Studio on a free loopback port.

    ``legacy_tokens=False`` gives the 1.23 default organization, where ``Token <legacy>``
    answers 401 and only PATs work. ``env`` adds to or overrides the environment, e.g.
    ``{"ML_BLOCK_LOCAL_IP": "true"}`` for Label Studio's default protections.
    """
    template = build_template()
    data_dir = workdir / "data"
    shutil.copytree(template, data_dir)
    if not legacy_tokens:
        _disable_legacy_tokens(data_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "label-studio.log"
    command = [str(_venv_file("bin/label-studio")), "start", "--no-browser"]
    command += ["--internal-host", "127.0.0.1", "--port", str(port)]
    process = start_in_own_group(
        command, log_path=log_path, env={**label_studio_env(data_dir), **(env or {})}
    )
    server = LabelStudioServer(url, data_dir, log_path, process, legacy_tokens, started_in=0.0)
    try:
        server.started_in = wait_for_http_ok(f"{url}/health", timeout=timeout, process=process)
        # LS silently moves to the next port when ours was taken; then /health was someone else.
        if "is in use" in server.log():
            raise RuntimeError(f"port {port} was taken before Label Studio bound it")
    except Exception as exc:
        server.stop()
        raise RuntimeError(f"Label Studio did not start: {exc}\n{log_tail(log_path)}") from exc
    except BaseException:  # Ctrl-C or a test timeout: still never leave a server behind
        server.stop()
        raise
    return server


@contextmanager
def running_label_studio(workdir: Path, **options) -> Iterator[LabelStudioServer]:
    server = start_label_studio(workdir, **options)
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    if sys.argv[1:] != ["build-template"]:
        sys.exit("usage: python -m tests.support.label_studio build-template")
    began = time.monotonic()
    print(f"{build_template()} ready in {time.monotonic() - began:.1f} s")
