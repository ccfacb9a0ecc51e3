"""Every server the panel launched, so it can list them and stop them all on quit."""

from __future__ import annotations

import asyncio
from typing import Any

from app.services.events import Signal
from app.services.instances import Instance
from app.services.runtime import RunningServer
from app.services.spec import LaunchPlan, LaunchSpec


class InstanceRegistry:
    def __init__(self) -> None:
        self.instances: list[Instance] = []
        self.added = Signal()  # emits the Instance
        self.removed = Signal()  # emits the Instance

    async def launch(self, spec: LaunchSpec, **options: Any) -> Instance:
        """Start a server; LaunchRefused leaves the registry untouched.

        ``options`` go to :class:`Instance` (restart policy, poll interval, stop timeout).
        """
        instance = Instance(spec, **options)
        await instance.start()
        self.instances.append(instance)
        self.added.emit(instance)
        return instance

    def adopt(
        self, spec: LaunchSpec, server: RunningServer, plan: LaunchPlan, **options: Any
    ) -> Instance:
        """Watch a server started by an earlier panel (a container still running)."""
        instance = Instance(spec, **options)
        instance.adopt(server, plan)
        self.instances.append(instance)
        self.added.emit(instance)
        return instance

    def find(self, instance_id: str) -> Instance | None:
        return next((i for i in self.instances if i.id == instance_id), None)

    async def remove(self, instance: Instance) -> None:
        await instance.stop()
        if instance in self.instances:
            self.instances.remove(instance)
            self.removed.emit(instance)

    async def stop_all(self, *, leave_containers: bool = False) -> None:
        """Stop every server; with ``leave_containers``, containers are let go, still serving.

        Local processes always stop: they die with the panel anyway.
        """

        def leaves(instance: Instance) -> bool:
            return leave_containers and instance.spec.runtime == "docker"

        await asyncio.gather(*(i.release() if leaves(i) else i.stop() for i in self.instances))
