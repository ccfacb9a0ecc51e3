"""Training jobs and model versions over HTTP: what the panel's Training view and the ``train``
command follow (Label Studio itself only ever asks for ``GET /versions``).

``GET /jobs[?project=]``, ``GET /jobs/{id}`` (state, progress, metric history), ``POST
/jobs?project=`` (train now), ``POST /jobs/{id}/cancel``, ``GET /versions[?project=]`` and
``POST /versions/{name}/activate?project=`` (rollback).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backends.sdk.manifest import Capability
from backends.sdk.model import Project
from backends.sdk.runtime import ServerState
from backends.sdk.training import UnknownVersion
from backends.sdk.versions import version_number
from backends.sdk.wire import ApiError, VersionsResponse, project_id


async def versions(request: Request, st: ServerState) -> Response:
    wanted = request.query_params.get("project")
    if wanted:
        pids = [project_id_field(wanted, "project")]
    else:
        pids = sorted(set(st.store.projects()) | set(st.projects.known()))
    details = {pid: st.store.describe(pid, st.projects.version(pid)) for pid in pids}
    names = {info.version for infos in details.values() for info in infos}
    names |= {st.projects.version(pid) for pid in pids}
    names = names or {st.store.initial}
    body = VersionsResponse(versions=sorted(names, key=version_number), projects=details)
    return JSONResponse(body.model_dump())


async def jobs(request: Request, st: ServerState) -> Response:
    wanted = request.query_params.get("project")
    return JSONResponse({"jobs": [job.to_json() for job in st.training.jobs(wanted)]})


async def job(request: Request, st: ServerState) -> Response:
    found = st.training.get(request.path_params["job_id"])
    if found is None:
        raise ApiError(404, f"no training job {request.path_params['job_id']!r}")
    return JSONResponse(found.to_json())


async def start_job(request: Request, st: ServerState) -> Response:
    """Train now, without Label Studio in between (the CLI's ``train`` and the panel)."""
    st.require_model()
    if not st.manifest.has(Capability.TRAINING):
        raise ApiError(409, f"{st.manifest.name} does not train")
    project = _known_project(request, st)
    if project.label_config is None:
        raise ApiError(
            409,
            f"project {project.id} has no label config yet: Label Studio sends it in /setup "
            "when it connects to this server (open the project's Model settings once)",
            field="project",
        )
    queued, joined = st.training.submit(project, "MANUAL")
    return JSONResponse({"job": queued.to_json(), "joined": joined}, 200 if joined else 201)


async def cancel_job(request: Request, st: ServerState) -> Response:
    job_id = request.path_params["job_id"]
    found = st.training.cancel(job_id)
    if found is None:
        raise ApiError(404, f"no training job {job_id!r}")
    if found.finished and not found.cancel_requested:
        raise ApiError(409, f"training job {job_id} is already {found.state.value}")
    return JSONResponse(found.to_json())


async def activate(request: Request, st: ServerState) -> Response:
    """Roll back (or forward): the named version serves the project from now on."""
    st.require_model()
    project = _known_project(request, st)
    name = request.path_params["name"]
    try:
        await asyncio.to_thread(st.training.activate, project, name)
    except UnknownVersion as exc:
        raise ApiError(404, str(exc)) from None
    details = st.store.describe(project.id, st.projects.version(project.id))
    versions = [info.model_dump() for info in details]
    return JSONResponse({"project": project.id, "model_version": name, "versions": versions})


def _known_project(request: Request, st: ServerState) -> Project:
    """``?project=ID``; may be left out when this server knows exactly one project."""
    wanted = request.query_params.get("project")
    if wanted:
        return st.projects.get(project_id_field(wanted, "project"))
    known = sorted(set(st.store.projects()) | set(st.projects.known()))
    if len(known) == 1:
        return st.projects.get(known[0])
    choices = ", ".join(known) if known else "none yet"
    raise ApiError(422, f"project: required (known projects: {choices})", field="project")


def project_id_field(uid: str, field: str) -> str:
    """Label Studio's ``"<id>.<timestamp>"`` uid as a project id, or a 422 naming ``field``."""
    try:
        return project_id(uid)
    except ValueError as exc:
        raise ApiError(422, f"{field}: {exc}", field=field) from None
