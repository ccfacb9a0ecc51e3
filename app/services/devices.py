"""Which devices a server can run on, and how much GPU memory a server's processes hold.

NVML (``pynvml``, from the NVIDIA driver) answers both without importing torch, which the panel
never loads; without NVML there is only the CPU, and GPU memory is unknown (None).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    id: str  # "cpu" | "cuda:N", what LaunchSpec.device takes
    name: str
    memory_bytes: int | None = None


@functools.cache
def _nvml():
    """The initialised pynvml module, or None when there is no NVIDIA driver or no pynvml."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # ImportError, or NVMLError when the driver is missing
        return None
    return pynvml


def list_devices() -> list[Device]:
    devices = [Device(id="cpu", name="CPU")]
    nvml = _nvml()
    if nvml is None:
        return devices
    with contextlib.suppress(Exception):
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle).total
            devices.append(Device(id=f"cuda:{index}", name=_text(name), memory_bytes=int(memory)))
    return devices


def gpu_memory_of(pids: Iterable[int]) -> int | None:
    """GPU memory used by these processes on all GPUs; None when it cannot be known."""
    nvml = _nvml()
    if nvml is None:
        return None
    wanted = set(pids)
    used = 0
    try:
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid in wanted and proc.usedGpuMemory:
                    used += int(proc.usedGpuMemory)
    except Exception:
        return None
    return used


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
