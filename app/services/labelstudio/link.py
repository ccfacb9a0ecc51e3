"""One click: a running model server becomes the ML backend of a Label Studio project.

Works out the address Label Studio can use, gives the server what it needs to read media
and annotations from Label Studio (``LABEL_STUDIO_URL`` + a token, restarting it when they
change), checks the project fits the model, then connects.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.services.instances import Instance, InstanceState
from app.services.labelstudio import backends
from app.services.labelstudio.addresses import (
    StudioLocation,
    guess_location,
    listening_problem,
    model_url_for_studio,
    studio_url_for_model,
)
from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import StudioError
from app.services.labelstudio.projects import config_problem, get_project
from backends.sdk.manifest import Capability

URL_PARAM, TOKEN_PARAM = "LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"
_UP = (InstanceState.READY, InstanceState.BUSY, InstanceState.TRAINING)


async def connect_instance(
    studio: Studio,
    project_id: int,
    instance: Instance,
    *,
    location: StudioLocation | None = None,
    model_url: str | None = None,
    title: str | None = None,
    extra_params: dict[str, Any] | None = None,
    interactive: bool | None = None,
) -> backends.ConnectedBackend:
    """``model_url`` overrides the guessed address; ``location`` overrides the guessed place."""
    manifest = instance.manifest
    project = await get_project(studio, project_id)
    problem = config_problem(manifest, project.label_config)
    if problem:
        raise StudioError(problem)
    if model_url is None:
        location = location or await asyncio.to_thread(guess_location, studio.url)
        problem = listening_problem(instance.spec.host, location)
        if problem:
            raise StudioError(problem)
        model_url = model_url_for_studio(instance.url, location)
    await give_studio_access(studio, instance)
    options = backends.BackendOptions(
        url=model_url,
        title=title or manifest.name,
        basic_auth=instance.spec.basic_auth,
        extra_params=extra_params,
        interactive=manifest.has(Capability.INTERACTIVE) if interactive is None else interactive,
    )
    return await backends.connect(studio, project_id, options)


async def give_studio_access(studio: Studio, instance: Instance, timeout: float = 120.0) -> bool:
    """Set the server's Label Studio URL and token parameters; restart it if they changed.

    Label Studio also hands a token over in ``/setup``, but that is the project creator's
    *legacy* token, useless when legacy tokens are disabled; the app's token always works.
    Returns whether a restart happened.
    """
    manifest = instance.manifest
    wanted = {}
    if manifest.parameter(URL_PARAM):
        wanted[URL_PARAM] = studio_url_for_model(studio.url, instance.spec.runtime)
    if manifest.parameter(TOKEN_PARAM):
        wanted[TOKEN_PARAM] = studio.token
    if all(instance.spec.params.get(k) == v for k, v in wanted.items()):
        return False
    instance.spec.params.update(wanted)
    await instance.restart()
    await wait_until_up(instance, timeout)
    return True


async def wait_until_up(instance: Instance, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while instance.state not in _UP:
        if instance.state in (InstanceState.CRASHED, InstanceState.STOPPED):
            raise StudioError(
                f"The model server did not come back up: {instance.failure or instance.state}"
            )
        if loop.time() > deadline:
            raise StudioError(f"The model server was not ready after {timeout:g} s.")
        await asyncio.sleep(0.2)
