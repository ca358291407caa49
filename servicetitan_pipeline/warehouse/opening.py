"""Opening the DuckDB warehouse file: wait out another process's lock, name every other failure.

DuckDB says why it cannot open a file in an ``IOException`` whose text names neither the
setting nor what to do, and the one transient reason (another process holds the file's lock)
raises the same class as the permanent ones (garbage bytes, a truncated copy, a directory,
``/dev/null``, no permission). Retrying all of them alike turned a file that can never open
into minutes of silent retries per asset. Here the lock alone is waited for, with a message
and a bound; everything else becomes a :class:`WarehouseFileError` naming the file, the
setting and the cause in words, at once.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shlex
import stat
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from servicetitan_pipeline.config import DUCKDB_PATH_ENV, ConfigError
from servicetitan_pipeline.warehouse.locking import WarehouseBusyError
from servicetitan_pipeline.warehouse.session import WRITER_MEMORY_LIMIT_BYTES, WRITER_THREADS

__all__ = [
    "ANALYSTS_ADVICE",
    "DEFAULT_DUCKDB_LOCK_WAIT_SECONDS",
    "WarehouseFileError",
    "check_warehouse_file",
    "lock_holder",
    "open_warehouse",
    "wait_for_other_processes",
]

logger = logging.getLogger(__name__)

# Another process holding DuckDB's own lock is a DuckDB shell, a BI tool or a script with the
# file open (our own writers queue on locking.py's sidecar lock first). Such a session usually
# ends within a minute or two; beyond that the step fails as busy, which the job's retry
# policy treats as transient.
DEFAULT_DUCKDB_LOCK_WAIT_SECONDS = 120.0

_LOCK_CONFLICT = re.compile(r"Could not set lock on file .*Conflicting lock is held", re.DOTALL)
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")
# The most characters of a holder's command line shown: a message must stay one readable line
# (the CLI's summary cuts a reason at 600 characters).
_COMMAND_LINE_LIMIT = 160
_ARGUMENT_LIMIT = 40
# Arguments that may carry a secret (a token on a command line): shown as ***.
_SECRET_ARGUMENT = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|app[_-]?key)")
# What the waiting message and the busy error tell whoever holds the file.
ANALYSTS_ADVICE = (
    "analysts should open the analysts' copy instead (servicetitan-pipeline sql; "
    "docs/analysts.md), which no run ever waits for"
)
# DuckDB refusing a file in another storage format ("... with version number 69, but we can
# only read versions between 64 and 68. The database file was created with an newer version").
_STORAGE_VERSION = re.compile(r"database file with version number (\d+), but we can only read")
# Where the main header keeps the writer's version string (checksum 8, magic 4, storage
# version 8, flags 4 x 8, then 32 bytes of version): DuckDB's storage/storage_info.hpp.
_HEADER_VERSION_START, _HEADER_VERSION_END = 52, 84
_LIBRARY_VERSION = re.compile(r"v?(\d+\.\d+\.\d+(?:[.-][0-9A-Za-z]+)*)")
# The storage format a new warehouse is written in. DuckDB 1.5 writes its oldest readable format
# (v0.10.2) by default, in which a string column cannot be zstd-compressed: the raw payloads'
# `USING COMPRESSION zstd` then stores them uncompressed, about 15 times the size (38.5 MiB
# against 2.5 MiB for 200,000 payloads, 10.0 MiB with the default FSST, which also writes
# 2.5 times slower). v1.2.0 is the first format with it; DuckDB 1.2 and newer read it (the
# analysts' tools too). An existing file keeps the format it was created in.
NEW_FILE_CONFIG: dict[str, Any] = {"storage_compatibility_version": "v1.2.0"}
# DuckDB shares one database per file within a process, and refuses a second configuration.
_OPEN_IN_THIS_PROCESS = "same database file with a different configuration"


class WarehouseFileError(ConfigError):
    """The warehouse file cannot be opened for a reason that waiting will not fix.

    A :class:`ConfigError` (``SERVICETITAN_DUCKDB_PATH`` points at something unusable), so the
    commands print it as one line, like any bad setting. ``path`` is the file, ``cause`` the
    reason in a few words ("is not a DuckDB database", "is truncated or corrupt", ...).
    """

    def __init__(self, path: str, cause: str, advice: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{DUCKDB_PATH_ENV}: {path} {cause}; {advice}")


# A new warehouse costs one full sync (every entity read again), nothing else.
_MOVE_ASIDE = "move it aside for a new one (the next sync reads every entity again)"


def is_lock_conflict(error: BaseException) -> bool:
    """Whether ``error`` is DuckDB saying another process holds the file's lock."""
    return isinstance(error, duckdb.Error) and bool(_LOCK_CONFLICT.search(str(error)))


def lock_holder(error: BaseException) -> str:
    """Who holds the file, from DuckDB's lock error: ``PID 1234 (duckdb -readonly w.duckdb)``.

    DuckDB names the holder's executable and PID; the command line (``/proc/<pid>/cmdline``,
    when this user may read it) tells a notebook from a BI tool from a shell. Arguments that
    look like secrets are masked; a long command line is shortened (the message stays whole).
    """
    match = _LOCK_HOLDER.search(str(error))
    if match is None:
        return "another process"
    executable, pid = match.group(1), match.group(2)
    command = _command_line(int(pid)) or executable
    return f"PID {pid} ({command})"


def _command_line(pid: int) -> str:
    """``pid``'s command line, secrets masked and cut to a readable length; "" if unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    arguments = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
    if not arguments:
        return ""
    shown: list[str] = [os.path.basename(arguments[0])]
    masking = False
    for argument in arguments[1:]:
        if masking:
            shown.append("***")
            masking = False
            continue
        if _SECRET_ARGUMENT.search(argument):
            name, equals, _ = argument.partition("=")
            shown.append(f"{name}=***" if equals else argument)
            masking = not equals and argument.startswith("-")
            continue
        words = " ".join(argument.split())
        # A long argument (a `python -c` script, a JSON blob) must not hide the ones after it.
        shown.append(
            words if len(words) <= _ARGUMENT_LIMIT else words[: _ARGUMENT_LIMIT - 4] + " ..."
        )
    text = " ".join(shown)
    return text if len(text) <= _COMMAND_LINE_LIMIT else text[: _COMMAND_LINE_LIMIT - 4] + " ..."


def wait_for_other_processes(
    database: str | os.PathLike[str],
    *,
    lock_wait_seconds: float = DEFAULT_DUCKDB_LOCK_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> None:
    """Wait (saying so at once, naming the holder) until no other process holds ``database``.

    For writers that open the file themselves (dbt-duckdb tries once, or retries in silence):
    called just before them, so a reader left open on the warehouse is named at once instead
    of failing the step in DuckDB's words. A file that does not exist yet is left alone.

    Raises:
        WarehouseBusyError: another process still held its lock after ``lock_wait_seconds``.
        WarehouseFileError: the file can never be opened (named, with the cause).
    """
    if os.fspath(database) == ":memory:" or not Path(os.fspath(database)).exists():
        return
    try:
        conn = open_warehouse(
            database, config=_CHECK_CONFIG, lock_wait_seconds=lock_wait_seconds, on_wait=on_wait
        )
    except duckdb.Error as exc:
        if _OPEN_IN_THIS_PROCESS not in str(exc):
            raise
        return  # open in this process: no other process can hold it
    conn.close()


def _unusable_path(path: Path) -> WarehouseFileError | None:
    """What is wrong with ``path`` before DuckDB touches it (a FIFO would block the open)."""
    shown = str(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        parent = path.parent
        if parent.exists() and not parent.is_dir():
            return WarehouseFileError(
                shown, f"cannot be created: {parent} is not a directory", "choose another path"
            )
        if not parent.exists():
            return WarehouseFileError(
                shown, f"cannot be created: its directory {parent} does not exist", "create it"
            )
        return None
    except NotADirectoryError:
        return WarehouseFileError(
            shown,
            "cannot be created: a part of its path is a file, not a directory",
            "choose another path",
        )
    except PermissionError:
        return WarehouseFileError(
            shown,
            "cannot be read: permission denied on its directory",
            "give this user access to it, or choose another path",
        )
    if stat.S_ISDIR(mode):
        return WarehouseFileError(
            shown,
            "is a directory, not a DuckDB database file",
            f"point {DUCKDB_PATH_ENV} at a file inside it, e.g. {path / 'servicetitan.duckdb'}",
        )
    if not stat.S_ISREG(mode):
        return WarehouseFileError(
            shown,
            "is not a regular file (a device, pipe or socket), so it cannot hold a DuckDB database",
            f"point {DUCKDB_PATH_ENV} at a file",
        )
    return None


def _named_failure(path: Path, error: duckdb.Error) -> WarehouseFileError:
    """DuckDB's failure to open ``path`` (not a lock conflict), as the cause in words."""
    shown, text = str(path), str(error)
    if "not a valid DuckDB database file" in text:
        # Read, not stat: files under /proc say size 0 and yet have bytes.
        try:
            with path.open("rb") as file:
                empty = not file.read(1)
        except OSError:
            empty = False
        if empty:
            return WarehouseFileError(
                shown,
                "is empty, not a DuckDB database",
                f"delete it (DuckDB creates the file) or point {DUCKDB_PATH_ENV} at another path",
            )
        return WarehouseFileError(shown, "is not a DuckDB database", _MOVE_ASIDE)
    if "Could not read enough bytes" in text or "Failure while replaying WAL" in text:
        return WarehouseFileError(
            shown,
            "is truncated or corrupt (DuckDB could not read it whole)",
            f"restore it from a backup, or {_MOVE_ASIDE}",
        )
    if os.strerror(errno.EACCES) in text or os.strerror(errno.EPERM) in text:
        return WarehouseFileError(
            shown,
            "cannot be opened: permission denied",
            "make the file and its directory readable and writable by this user",
        )
    if os.strerror(errno.EROFS) in text or (path.exists() and not os.access(path.parent, os.W_OK)):
        return WarehouseFileError(
            shown,
            f"cannot be written: its directory {path.parent} is not writable (DuckDB "
            f"writes {path.name}.wal next to it)",
            "make the directory writable, or choose another path",
        )
    if "Cannot open file" in text and not path.exists():
        return WarehouseFileError(
            shown,
            f"cannot be created: the directory {path.parent} does not accept new files",
            "choose a path in a writable directory",
        )
    other_version = _STORAGE_VERSION.search(text)
    if other_version is not None:
        return _other_version_failure(path, int(other_version.group(1)), text)
    detail = " ".join(text.split()).removeprefix("IO Error: ")
    return WarehouseFileError(shown, f"cannot be opened ({detail})", "check the file")


def _other_version_failure(path: Path, storage_version: int, text: str) -> WarehouseFileError:
    """A file in a storage format this DuckDB does not read, with what to do about it.

    The one a user meets is a warehouse written by DuckDB 2.0.1 (the releases before the move
    to 1.5.5), which 1.5.5 cannot read: DuckDB has no downgrade, but nothing in the warehouse
    is lost by starting anew, since every row comes from ServiceTitan. So the advice is the
    exact command that moves the file aside, then a sync, which fills a new file in full.
    """
    shown = str(path)
    if "newer version" not in text:
        return WarehouseFileError(
            shown,
            f"was written by an older DuckDB (storage version {storage_version}) than "
            f"DuckDB {duckdb.__version__} reads",
            f"open it with the DuckDB version that wrote it, export it, or {_MOVE_ASIDE}",
        )
    writer = _writer_version(path)
    aside = f"{shown}.{writer or 'newer'}"
    move = f"mv {shlex.quote(shown)} {shlex.quote(aside)}"
    wal = Path(f"{shown}.wal")
    if wal.exists():
        # Its last commits may still be in the WAL: it goes with the file (measured: a new
        # file in its place deletes a WAL that is not its own).
        move += f" && mv {shlex.quote(str(wal))} {shlex.quote(aside + '.wal')}"
    return WarehouseFileError(
        shown,
        f"was written by DuckDB {writer or f'newer than {duckdb.__version__}'} (storage "
        f"version {storage_version}), which this release's DuckDB {duckdb.__version__} "
        "cannot read",
        f"move it aside ({move}) and sync again: the next sync fills a new warehouse in full, "
        "and nothing is lost (every entity is read again from ServiceTitan)",
    )


def _writer_version(path: Path) -> str | None:
    """The DuckDB version that wrote ``path`` ("2.0.1"), from its main header; None if unknown.

    Since DuckDB 1.2 the header holds the writer's version string, NUL-padded, at a fixed
    offset; anything there that does not look like a version is not repeated.
    """
    try:
        with path.open("rb") as file:
            header = file.read(_HEADER_VERSION_END)
    except OSError:
        return None
    raw = header[_HEADER_VERSION_START:_HEADER_VERSION_END].split(b"\0", 1)[0]
    match = _LIBRARY_VERSION.fullmatch(raw.decode("ascii", "replace"))
    return match.group(1) if match else None


def open_warehouse(
    database: str | os.PathLike[str],
    *,
    read_only: bool = False,
    config: Mapping[str, Any] | None = None,
    lock_wait_seconds: float = DEFAULT_DUCKDB_LOCK_WAIT_SECONDS,
    poll_interval: float = 1.0,
    on_wait: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect to ``database``, waiting only while another process holds its lock.

    Args:
        database: the DuckDB file (``:memory:`` is passed through).
        read_only: open read-only (DuckDB then still needs the file to be a database).
        config: DuckDB configuration options, as for ``duckdb.connect``.
        lock_wait_seconds: how long to wait for another process's lock on the file.
        poll_interval: seconds between attempts while waiting.
        on_wait: told once, in words, that and why we wait (default: this module's logger).

    Raises:
        WarehouseFileError: the file cannot be a usable warehouse (named, with the cause).
        WarehouseBusyError: another process still held its lock after ``lock_wait_seconds``.
    """
    kwargs: dict[str, Any] = {"read_only": read_only, "config": dict(config or {})}
    if os.fspath(database) == ":memory:":
        return duckdb.connect(":memory:", **kwargs)
    path = Path(os.fspath(database))
    problem = _unusable_path(path)
    if problem is not None:
        raise problem
    if not read_only and not path.exists():
        # Created in its format and closed at once: the format stays with the file, and a
        # connection kept open with that setting would make DuckDB refuse every other
        # connection of this process to the file ("a different configuration").
        with contextlib.suppress(duckdb.Error):  # a lock or a bad path: named below
            duckdb.connect(str(path), config=NEW_FILE_CONFIG).close()
    deadline = time.monotonic() + lock_wait_seconds
    announced = False
    while True:
        try:
            return duckdb.connect(str(path), **kwargs)
        except duckdb.Error as exc:
            if _OPEN_IN_THIS_PROCESS in str(exc):
                raise  # the file is a database, open here with other settings: a caller's bug
            if not is_lock_conflict(exc):
                # Without DuckDB's exception as the cause: a run's summary shows the innermost
                # cause, and DuckDB's words are what this one replaces.
                raise _named_failure(path, exc) from None
            holder = lock_holder(exc)
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(
                    f"gave up after {lock_wait_seconds:.0f}s waiting for DuckDB's lock on "
                    f"{path} ({DUCKDB_PATH_ENV}): {holder} has it open. Close that session "
                    f"(a DuckDB shell, a BI tool, a notebook); {ANALYSTS_ADVICE}."
                ) from None
            if not announced:
                (on_wait or logger.info)(
                    f"waiting up to {lock_wait_seconds:.0f}s for DuckDB's lock on {path}: "
                    f"{holder} has the file open; {ANALYSTS_ADVICE}"
                )
                announced = True
            time.sleep(poll_interval)


def check_warehouse_file(database: str | os.PathLike[str]) -> None:
    """Open an existing warehouse once read-write and close it, so a bad file fails up front.

    A file that does not exist yet is not created (the first writer does); one locked by
    another process is left to the writers, which wait for the lock. A file shorter than the
    blocks it lists (a copy cut short) fails here too, and so does a directory that does not
    accept new files (the ``.wal``).

    Raises:
        WarehouseFileError: the file is there but can never be opened as a warehouse.
    """
    if os.fspath(database) == ":memory:":
        return
    path = Path(os.fspath(database))
    problem = _unusable_path(path)
    if problem is not None:
        raise problem
    if path.exists():
        try:
            # Closing checkpoints what a killed run left in the WAL: within a writer's bounds.
            conn = open_warehouse(path, config=_CHECK_CONFIG, lock_wait_seconds=0)
        except WarehouseBusyError:
            pass  # another process has it open: the writers wait for it
        except duckdb.Error as exc:
            if _OPEN_IN_THIS_PROCESS not in str(exc):
                raise
            # Open in this process already, so it is a database.
        else:
            try:
                _check_not_cut_short(path, conn)
            finally:
                conn.close()
    _check_directory_accepts_files(path)


_CHECK_CONFIG = {
    "memory_limit": f"{WRITER_MEMORY_LIMIT_BYTES // 2**20}MiB",
    "threads": WRITER_THREADS,
}


def _check_directory_accepts_files(path: Path) -> None:
    """The warehouse's ``.wal`` and ``.lock`` (and a new warehouse) can be created by it.

    DuckDB opens a file in a read-only directory, and fails at the first write, mid-sync.
    """
    try:
        with tempfile.TemporaryFile(dir=path.parent, prefix=".write-test-"):
            pass
    except OSError as exc:
        done = "cannot be written" if path.exists() else "cannot be created"
        raise WarehouseFileError(
            str(path),
            f"{done}: its directory {path.parent} does not accept new files "
            f"({exc.strerror or type(exc).__name__}; DuckDB writes {path.name}.wal next to it)",
            "make the directory writable, or choose a path in a writable directory",
        ) from None


def _check_not_cut_short(path: Path, conn: duckdb.DuckDBPyConnection) -> None:
    """Raise if ``path`` is shorter than the blocks its header lists (a copy cut short).

    DuckDB reads blocks lazily, so such a file opens and then fails in the middle of a sync.
    Checked only without a ``.wal``: replaying one may list blocks not yet in the file.
    """
    if Path(f"{path}.wal").exists():
        return
    row = conn.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchone()
    if row is None:
        return
    block_size, used_blocks = (int(value) for value in row)
    # A file holds at least its headers and every block in use. Not every block it lists:
    # DuckDB truncates free blocks at the end of the file, and counts them in total_blocks.
    # The headers are left out, to be safe.
    if path.stat().st_size < block_size * used_blocks:
        raise WarehouseFileError(
            str(path),
            "is truncated or corrupt (shorter than the blocks it lists)",
            f"restore it from a backup, or {_MOVE_ASIDE}",
        )
