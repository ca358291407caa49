"""A quiet console logger for runs: one short line per message, at INFO by default.

Dagster's default console logger prints every engine event at DEBUG with the run id on each
line; for a person watching ``servicetitan-pipeline sync`` or ``demo`` (or a run worker's
stdout) the assets' own summary lines are what matters. The Dagster UI's structured event log
is not affected by this logger.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import TextIO

import dagster as dg

_LOGGER_NAME = "servicetitan_pipeline.run"

# Where the console logger writes. None: whatever sys.stdout is at the time of the write (a
# run worker's compute log, pytest's capture). The CLI pins it to the terminal while it sends
# the rest of stdout (dbt's echoed log lines) to a file.
_console: TextIO | None = None
# A run's log file (the CLI's), which gets every line at INFO and above whatever the console's
# level, so that the file a failure message points to tells the whole story.
_log_file: TextIO | None = None
LOG_FILE_LEVEL = logging.INFO


@contextlib.contextmanager
def console_stream(stream: TextIO, *, log_file: TextIO | None = None) -> Iterator[None]:
    """Make run log lines go to ``stream`` (and all INFO lines to ``log_file``) in the block."""
    global _console, _log_file
    previous = _console, _log_file
    _console, _log_file = stream, log_file
    try:
        yield
    finally:
        _console, _log_file = previous


class _ConsoleHandler(logging.StreamHandler[TextIO]):
    """A stream handler that looks up its stream on every record."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = _console or sys.stdout
        super().emit(record)


class _LogFileHandler(logging.StreamHandler[TextIO]):
    """Writes to the run's log file while one is set; drops records otherwise."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        if _log_file is None:
            return
        self.stream = _log_file
        super().emit(record)


class _SkipNoise(logging.Filter):
    """Drops the engine's one-line-per-skipped-step messages after a failure.

    When an asset fails, Dagster logs a "Dependencies ... failed. Not executing." line at ERROR
    for every check and model downstream of it; the failure itself is already reported.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None) or {}
        message = str(meta.get("orig_message") or "")
        return not (message.startswith("Dependencies for step") and "Not executing" in message)


class _CompactFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        step = meta.get("step_key") or "run"
        message = meta.get("orig_message") or record.getMessage()
        when = self.formatTime(record, "%H:%M:%S")
        return f"{when} {record.levelname:<7} {step:<32} {message}"


@dg.logger(
    config_schema={
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
    },
    description="One short line per log message (time, level, step, message) on stdout.",
)
def compact_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    name = str(init_context.logger_config["log_level"]).upper()
    levels = logging.getLevelNamesMapping()
    if name not in levels:
        raise ValueError(f"unknown log level {name!r}; use one of {', '.join(levels)}")
    level = levels[name]
    logger = logging.getLogger(_LOGGER_NAME)
    logger.propagate = False
    logger.setLevel(min(level, LOG_FILE_LEVEL))
    # The logger object is process-wide; replace our handlers rather than stacking them per run.
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    console = _ConsoleHandler()
    console.setLevel(level)
    log_file = _LogFileHandler()
    log_file.setLevel(LOG_FILE_LEVEL)
    for handler in (console, log_file):
        handler.setFormatter(_CompactFormatter())
        handler.addFilter(_SkipNoise())
        logger.addHandler(handler)
    return logger
