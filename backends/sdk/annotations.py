"""Pull a project's labeled tasks out of Label Studio so a model can train on them.

Label Studio's START_TRAINING webhook carries no annotations, only the project, so every model
that trains fetches them itself. Label Studio names itself in ``/setup`` (``hostname`` and the
project creator's legacy ``access_token``); the LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY
parameters (or environment variables) cover the cases where that is wrong or unusable: a
Docker container where "localhost" is not Label Studio, or an organisation with legacy tokens
switched off, where only a Personal Access Token works. The SDK client accepts either kind.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from backends.sdk.model import Project

log = logging.getLogger(__name__)

PAGE_SIZE = 500

# Where a model gets a project's annotated tasks; tests point it at a list instead.
TaskSource = Callable[[Project, Mapping[str, Any]], list[dict[str, Any]]]


class LabelStudioUnreachable(RuntimeError):
    """No usable Label Studio address or token; the message says which setting to fix."""


def fetch_labeled_tasks(project: Project, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every task of ``project`` that has at least one annotation, annotations included.

    Label Studio 1.23 ignores the API's ``only_annotated`` flag, so the filtering happens here.
    Tasks Label Studio already delivered (legacy ``/train``) are used as they are.
    """
    if project.delivered_tasks is not None:
        return [task for task in project.delivered_tasks if task.get("annotations")]
    project_id = label_studio_project_id(project)
    attempts = credentials(project, params)
    if not attempts:
        raise LabelStudioUnreachable(
            "cannot pull annotations: Label Studio did not call /setup yet and neither "
            "LABEL_STUDIO_URL nor LABEL_STUDIO_API_KEY is set"
        )
    problems: list[str] = []
    for url, token in attempts:
        client = LabelStudio(base_url=url, api_key=token)
        try:
            pager = client.tasks.list(project=project_id, fields="all", page_size=PAGE_SIZE)
            tasks = [task.model_dump(mode="json") for task in pager]
        except ApiError as exc:
            if exc.status_code not in (401, 403):
                raise LabelStudioUnreachable(
                    f"Label Studio at {url} answered {exc.status_code}: {exc.body}"
                ) from exc
            problems.append(f"{url} refused the token ({exc.status_code})")
        except httpx.HTTPError as exc:
            problems.append(f"{url} is unreachable ({exc})")
        else:
            return [task for task in tasks if task.get("annotations")]
        log.warning("pulling annotations: %s", problems[-1])
    raise LabelStudioUnreachable(
        f"cannot pull annotations: {'; '.join(problems)}. Set LABEL_STUDIO_URL to an address "
        "this server can reach and LABEL_STUDIO_API_KEY to a Personal Access Token or an "
        "enabled legacy token"
    )


def credentials(project: Project, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(url, token) pairs to try, in order: what /setup announced, then the user's settings."""
    configured_url = params.get("LABEL_STUDIO_URL") or os.environ.get("LABEL_STUDIO_URL") or ""
    configured_key = (
        params.get("LABEL_STUDIO_API_KEY") or os.environ.get("LABEL_STUDIO_API_KEY") or ""
    )
    url = (project.hostname or configured_url).rstrip("/")
    pairs = [(url, project.access_token or ""), (url, configured_key)]
    if configured_url:
        pairs.append((configured_url.rstrip("/"), configured_key or project.access_token or ""))
    return [pair for pair in dict.fromkeys(pairs) if all(pair)]


def label_studio_project_id(project: Project) -> int:
    """Label Studio's numeric id; ``/setup`` sends it as ``"<id>.<created-at timestamp>"``."""
    head = str(project.id).split(".", 1)[0]
    if not head.isdigit():
        raise LabelStudioUnreachable(f"project id {project.id!r} is not a Label Studio project id")
    return int(head)


def latest_annotation(task: Mapping[str, Any]) -> dict[str, Any] | None:
    """The task's most recently updated annotation that was not skipped, or None."""
    kept = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if not kept:
        return None
    return max(kept, key=lambda a: (str(a.get("updated_at") or ""), a.get("id") or 0))
