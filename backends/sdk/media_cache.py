"""An on-disk cache of downloaded media, bounded by total bytes.

Models read the same images again and again (every prediction, every training epoch), so a
download is kept until the cache is full; then the least recently used files go first. Use
``MediaCache.shared`` so that every resolver in a process (one per project, say) using the same
directory shares one index, one size budget and one download per file; the index lives in
memory and is rebuilt from the files when a process starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

PARTIAL_SUFFIX = ".partial"


class _KeyedLocks:
    """One lock per key, dropped when nobody holds or waits for it, so the dict stays small."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, list[int]]] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]


class MediaCache:
    """Files keyed by a string (the URL); ``get_or_fill`` downloads each key once.

    Concurrent callers asking for the same key wait for the first one's download instead of
    starting their own.
    """

    def __init__(self, directory: Path, max_bytes: int):
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._key_locks = _KeyedLocks()
        self._sizes: OrderedDict[str, int] = OrderedDict()  # file name -> bytes, oldest first
        self._load_existing()

    _shared: ClassVar[dict[Path, MediaCache]] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls, directory: Path, max_bytes: int) -> MediaCache:
        """The process-wide cache for ``directory``; the first caller's ``max_bytes`` holds."""
        key = Path(directory).resolve()
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(key, max_bytes)
            return cls._shared[key]

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def get_or_fill(self, key: str, suffix: str, fill: Callable[[BinaryIO], None]) -> Path:
        """The cached file for ``key``, calling ``fill(file)`` to write it on a miss.

        If ``fill`` raises, nothing is cached and the exception propagates.
        """
        name = hashlib.sha256(key.encode()).hexdigest()[:40] + suffix
        path = self.directory / name
        with self._key_locks.hold(name):
            with self._lock:
                if name in self._sizes and path.is_file():
                    self._sizes.move_to_end(name)
                    os.utime(path)  # recency survives a restart
                    return path
            self._write(path, fill)
            with self._lock:
                self._sizes[name] = path.stat().st_size
                self._sizes.move_to_end(name)
                self._evict(keep=name)
        return path

    def _write(self, path: Path, fill: Callable[[BinaryIO], None]) -> None:
        handle, partial = tempfile.mkstemp(dir=self.directory, suffix=PARTIAL_SUFFIX)
        try:
            with os.fdopen(handle, "wb") as file:
                fill(file)
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise

    def _evict(self, keep: str) -> None:
        """Drop least recently used files until the total fits; the newest file always stays."""
        total = sum(self._sizes.values())
        for name in list(self._sizes):
            if total <= self.max_bytes:
                break
            if name == keep:
                continue
            total -= self._sizes.pop(name)
            (self.directory / name).unlink(missing_ok=True)

    def _load_existing(self) -> None:
        files = []
        for path in self.directory.iterdir():
            if path.name.endswith(PARTIAL_SUFFIX):
                path.unlink(missing_ok=True)  # an interrupted download
            elif path.is_file():
                stat = path.stat()
                files.append((stat.st_mtime, path.name, stat.st_size))
        for _, name, size in sorted(files):
            self._sizes[name] = size
        if files:
            self._evict(keep=max(files)[1])
