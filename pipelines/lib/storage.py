"""Where landing/ and raw/ live: a local folder (the default) or an S3 prefix (`s3://bucket/prefix`).

Both kinds give the raw layer the same few operations: list and match files, hash and
read them, get a local copy for a parser, write a file or a whole partition so that a
reader never sees half of it. S3 goes through fsspec/s3fs, which takes the endpoint and
credentials from the standard AWS variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, …; docs/operations.md, "Object storage").

On S3 a partition has no rename: its files are written to their final keys and its
marker file (summary.json) last, so a partition without a marker is unfinished, never
read, and written again by the next attempt.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .files import file_sha256
from .layout import PRIVATE_FILE_MODE, private_dir

if TYPE_CHECKING:  # the dashboard opens data dirs too, and needs neither here
    import duckdb
    import polars as pl

OBJECT_STORAGE_SCHEMES = ("s3",)
MTIME_METADATA = "mtime"
"""An object's own export time (seconds since the epoch), as `rclone copy` records it;
without it an object's export time is when it was written (LastModified)."""


class StorageError(ValueError):
    """A landing/ or raw/ location that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class StoredFile:
    relative: str  # below the store's root, "/"-separated
    size_bytes: int
    modified_ns: int  # a local file's mtime; an object's LastModified
    # object storage: what changes with every upload (LastModified and ETag); local: None
    version: str | None = None


class Store(Protocol):
    """A local folder or an object-storage prefix holding landing/ or raw/."""

    @property
    def url(self) -> str: ...

    @property
    def is_local(self) -> bool: ...

    def exists(self) -> bool: ...

    def files(self, prefix: str = "") -> list[StoredFile]: ...

    def folders(self, prefix: str) -> list[str]: ...

    def glob(self, patterns: Iterable[str]) -> list[StoredFile]: ...

    def sha256(self, relative: str) -> str: ...

    def export_time_ns(self, stored: StoredFile) -> int: ...

    def local_copy(self, relative: str) -> AbstractContextManager[Path]: ...

    def read_bytes(self, relative: str) -> bytes: ...

    def read_range(self, relative: str, start: int, end: int) -> bytes: ...

    def read_many(self, relatives: list[str]) -> dict[str, bytes]: ...

    def write_bytes(self, relative: str, data: bytes) -> None: ...

    def partition(self, relative: str, marker: str) -> AbstractContextManager[PartitionWriter]: ...

    def uri(self, relative: str) -> str: ...

    def register(self, con: duckdb.DuckDBPyConnection) -> None: ...


def open_store(location: str | os.PathLike, setting: str) -> Store:
    """The store at a local path or an `s3://bucket/prefix` URL; `setting` names where it came from."""
    text = os.fspath(location)
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", text)
    if scheme is None:
        return LocalFolder(Path(text).absolute())
    if scheme.group(1).lower() not in OBJECT_STORAGE_SCHEMES:
        raise StorageError(
            f"{setting}: {text!r} is neither a local folder nor an s3://bucket/prefix URL "
            f"(supported: a path, {', '.join(s + '://' for s in OBJECT_STORAGE_SCHEMES)})"
        )
    if not text.split("://", 1)[1].strip("/"):
        raise StorageError(f"{setting}: {text!r} names no bucket (s3://bucket/prefix)")
    return ObjectPrefix(text.rstrip("/"))


PARTITION_PARQUET = {"compression": "zstd", "compression_level": 1}
"""How raw partitions are written: zstd's fastest level (a minute-steps partition of 7 M rows:
~0.4 s of one core less to write than at Polars' default level, ~18 % larger)."""


class PartitionWriter(Protocol):
    def write_parquet(self, name: str, frame: pl.DataFrame) -> None: ...

    def write_text(self, name: str, text: str) -> None: ...


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))


@dataclass(frozen=True)
class LocalFolder:
    root: Path

    @property
    def url(self) -> str:
        return str(self.root)

    @property
    def is_local(self) -> bool:
        return True

    def path(self, relative: str) -> Path:
        return self.root / relative

    def exists(self) -> bool:
        return self.root.is_dir()

    def files(self, prefix: str = "") -> list[StoredFile]:
        """Every file below `prefix` but those whose name starts with "." (partial copies)."""
        found = []
        top = self.root / prefix
        for folder, _, names in os.walk(top):
            for name in names:
                if name.startswith("."):
                    continue
                path = Path(folder) / name
                stat = path.stat()
                found.append(
                    StoredFile(
                        path.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime_ns
                    )
                )
        return sorted(found, key=lambda f: f.relative)

    def folders(self, prefix: str) -> list[str]:
        top = self.root / prefix
        return sorted(p.name for p in top.iterdir() if p.is_dir()) if top.is_dir() else []

    def glob(self, patterns: Iterable[str]) -> list[StoredFile]:
        """The files the patterns match (pathlib's glob), in pattern then path order, once each."""
        found: dict[Path, None] = {}
        for pattern in patterns:
            for path in sorted(self.root.glob(pattern)):
                if path.is_file():
                    found[path] = None
        files = []
        for path in found:
            stat = path.stat()
            relative = path.relative_to(self.root).as_posix()
            files.append(StoredFile(relative, stat.st_size, stat.st_mtime_ns))
        return files

    def sha256(self, relative: str) -> str:
        return file_sha256(self.root / relative)

    def export_time_ns(self, stored: StoredFile) -> int:
        return stored.modified_ns

    @contextmanager
    def local_copy(self, relative: str) -> Iterator[Path]:
        yield self.root / relative

    def read_bytes(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()

    def read_range(self, relative: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of the file (fewer at its end)."""
        with (self.root / relative).open("rb") as handle:
            handle.seek(start)
            return handle.read(max(0, end - start))

    def read_many(self, relatives: list[str]) -> dict[str, bytes]:
        found = {}
        for relative in relatives:
            try:
                found[relative] = (self.root / relative).read_bytes()
            except FileNotFoundError:
                pass
        return found

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write in one `os.replace`: file 0600, folders 0700, whatever the umask."""
        target = self.root / relative
        private_dir(target.parent)
        tmp = target.parent / f".{target.name}.tmp"
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)

    @contextmanager
    def partition(self, relative: str, marker: str) -> Iterator[PartitionWriter]:
        """A folder filled in a hidden temporary folder and renamed into place when complete.

        An earlier partition at the same place (one marked to be parsed again) is replaced.
        """
        target = self.root / relative
        private_dir(target.parent)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
        try:
            yield _LocalPartition(staging)
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=".old-", dir=target.parent))
                os.replace(target, old / "partition")
                shutil.rmtree(old, ignore_errors=True)
            os.replace(staging, target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not (target / marker).exists():  # else written meanwhile by a parallel run
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def uri(self, relative: str) -> str:
        return str(self.root / relative)

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Nothing to do: DuckDB reads local files itself."""


@dataclass(frozen=True)
class _LocalPartition:
    folder: Path

    def write_parquet(self, name: str, frame: pl.DataFrame) -> None:
        frame.write_parquet(self.folder / name, **PARTITION_PARQUET)

    def write_text(self, name: str, text: str) -> None:
        (self.folder / name).write_text(text)


@dataclass(frozen=True)
class ObjectPrefix:
    """`s3://bucket/prefix` through fsspec; pickled by its URL (a worker makes its own client)."""

    url: str

    def __getstate__(self) -> dict:
        return {"url": self.url}  # not the cached client

    def __setstate__(self, state: dict) -> None:
        object.__setattr__(self, "url", state["url"])

    @property
    def is_local(self) -> bool:
        return False

    @cached_property
    def _fs_and_root(self):
        import fsspec.core

        # no listing cache: the sensor lists the same prefix every 30 s in one process
        return fsspec.core.url_to_fs(self.url, use_listings_cache=False)

    @property
    def fs(self):
        return self._fs_and_root[0]

    @property
    def root(self) -> str:
        return self._fs_and_root[1].rstrip("/")

    def _key(self, relative: str) -> str:
        return f"{self.root}/{relative}" if relative else self.root

    def exists(self) -> bool:
        """Whether the bucket can be reached (an empty prefix is an empty folder)."""
        bucket = self.root.split("/", 1)[0]
        try:
            self.fs.ls(bucket, detail=False)
        except FileNotFoundError:
            return False
        return True

    def _stored(self, info: dict) -> StoredFile:
        modified: datetime = info["LastModified"]
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        modified_ns = int(modified.timestamp()) * 1_000_000_000 + modified.microsecond * 1000
        relative = info["name"][len(self.root) + 1 :]
        version = f"{modified.astimezone(UTC).isoformat()} {info.get('ETag', '')}"
        return StoredFile(relative, int(info["size"]), modified_ns, version)

    def _find(self, prefix: str) -> list[StoredFile]:
        top = self._key(prefix.rstrip("/"))
        try:
            found = self.fs.find(top, detail=True)
        except FileNotFoundError:
            return []
        return [
            self._stored(info)
            for name, info in found.items()
            if info.get("type") == "file" and name.startswith(self.root + "/")
        ]

    def files(self, prefix: str = "") -> list[StoredFile]:
        found = [f for f in self._find(prefix) if not f.relative.rsplit("/", 1)[-1].startswith(".")]
        return sorted(found, key=lambda f: f.relative)

    def folders(self, prefix: str) -> list[str]:
        try:
            entries = self.fs.ls(self._key(prefix.rstrip("/")), detail=True)
        except FileNotFoundError:
            return []
        return sorted(e["name"].rsplit("/", 1)[-1] for e in entries if e["type"] == "directory")

    def glob(self, patterns: Iterable[str]) -> list[StoredFile]:
        """What pathlib's glob would match in a folder of the same files, in the same order.

        One listing per fixed folder the patterns start with (fsspec's glob would list once
        per pattern), matched with fsspec's translation of the same glob language.
        """
        from fsspec.utils import glob_translate

        listings: dict[str, list[StoredFile]] = {}
        found: dict[str, StoredFile] = {}
        for pattern in patterns:
            fixed = []
            for part in pattern.split("/")[:-1]:
                if any(c in part for c in "*?["):
                    break
                fixed.append(part)
            prefix = "/".join(fixed)
            if prefix not in listings:
                listings[prefix] = self._find(prefix)
            matcher = re.compile(glob_translate(pattern))
            for stored in sorted(listings[prefix], key=lambda f: f.relative):
                if matcher.match(stored.relative):
                    found.setdefault(stored.relative, stored)
        return list(found.values())

    def sha256(self, relative: str) -> str:
        digest = hashlib.sha256()
        with self.fs.open(self._key(relative), "rb", block_size=8 << 20) as handle:
            for block in iter(lambda: handle.read(8 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def export_time_ns(self, stored: StoredFile) -> int:
        """The object's `mtime` metadata (rclone's), else when it was written."""
        metadata = self.fs.metadata(self._key(stored.relative))
        value = metadata.get(MTIME_METADATA)
        try:
            return int(float(value) * 1_000_000_000) if value else stored.modified_ns
        except ValueError:
            return stored.modified_ns

    @contextmanager
    def local_copy(self, relative: str) -> Iterator[Path]:
        """The object downloaded into a private temporary folder, under its own name."""
        folder = Path(tempfile.mkdtemp(prefix="steadyback-"))
        try:
            path = folder / relative.rsplit("/", 1)[-1]
            self.fs.get_file(self._key(relative), str(path))
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def read_bytes(self, relative: str) -> bytes:
        return self.fs.cat_file(self._key(relative))

    def read_range(self, relative: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object (fewer at its end): one ranged GET."""
        if end <= start:
            return b""
        return self.fs.cat_file(self._key(relative), start=start, end=end)

    def read_many(self, relatives: list[str]) -> dict[str, bytes]:
        """Fetched concurrently (s3fs is asynchronous); missing objects are left out."""
        if not relatives:
            return {}
        keys = {self._key(r): r for r in relatives}
        fetched = self.fs.cat(list(keys), on_error="omit")
        return {keys[k]: v for k, v in fetched.items() if isinstance(v, bytes)}

    def write_bytes(self, relative: str, data: bytes) -> None:
        """One PUT: readers see the old object or the new one."""
        self.fs.pipe_file(self._key(relative), data)

    @contextmanager
    def partition(self, relative: str, marker: str) -> Iterator[PartitionWriter]:
        """Files written to their final keys, `marker` last; keys of an earlier attempt that
        this one did not write are removed before the marker goes up."""
        prefix = self._key(relative)
        if self.fs.exists(f"{prefix}/{marker}"):
            self.fs.rm_file(f"{prefix}/{marker}")  # unfinished until the new marker is up
        writer = _ObjectPartition(self, prefix, marker)
        yield writer
        try:
            earlier = set(self.fs.find(prefix))
        except FileNotFoundError:
            earlier = set()
        stale = sorted(earlier - writer.written - {f"{prefix}/{marker}"})
        if stale:
            self.fs.rm(stale)
        if writer.marker_text is None:
            raise StorageError(f"{self.url}/{relative}: the partition was written without {marker}")
        self.fs.pipe_file(f"{prefix}/{marker}", writer.marker_text.encode())

    def uri(self, relative: str) -> str:
        return f"{self.url}/{relative}"

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let DuckDB read s3:// through fsspec (its httpfs extension is not bundled)."""
        import duckdb

        try:
            con.register_filesystem(self.fs)
        except duckdb.InvalidInputException as err:
            if "already registered" not in str(err):
                raise


@dataclass
class _ObjectPartition:
    store: ObjectPrefix
    prefix: str
    marker: str
    written: set[str] = field(default_factory=set)
    marker_text: str | None = None

    def write_parquet(self, name: str, frame: pl.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.write_parquet(buffer, **PARTITION_PARQUET)
        self._put(name, buffer.getvalue())

    def write_text(self, name: str, text: str) -> None:
        if name == self.marker:
            self.marker_text = text  # goes up last, when the partition is complete
            return
        self._put(name, text.encode())

    def _put(self, name: str, data: bytes) -> None:
        key = f"{self.prefix}/{name}"
        self.store.fs.pipe_file(key, data)
        self.written.add(key)
