"""Limits and thresholds of imports. Each can be set in Django settings (and so from the environment, once
settings.py reads it); the defaults below apply otherwise.

| setting                       | default   | meaning                                                 |
|-------------------------------|-----------|---------------------------------------------------------|
| HEZUO_IMPORT_MAX_BYTES        | 40 MB     | largest file accepted; refused before it is read        |
| HEZUO_IMPORT_MAX_UNCOMPRESSED | 600 MB    | largest unpacked size of an .xlsx (against zip bombs)   |
| HEZUO_IMPORT_MAX_ROWS         | 250,000   | most data rows in one file                              |
| HEZUO_IMPORT_MAX_CELLS        | 6,000,000 | most cells (rows × columns) in the sheet read           |
| HEZUO_IMPORT_SYNC_ROWS        | 1,000     | files with more rows run as a background task           |
| HEZUO_IMPORT_CHUNK_ROWS       | 2,000     | rows validated and written together                     |
| HEZUO_IMPORT_MAX_PROBLEMS     | 5,000     | errors and warnings kept for the preview and the report |
| HEZUO_IMPORT_PARALLEL_ROWS    | 20,000    | files this long are read by a second process (0: never) |

The row and cell limits are checked from the sheet's own dimension (or a streamed count of its rows) and
the byte limits from the request's Content-Length and the zip directory, so an oversized file is refused
without its cells being read into memory.
"""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    "HEZUO_IMPORT_MAX_BYTES": 40 * 1024 * 1024,
    "HEZUO_IMPORT_MAX_UNCOMPRESSED": 600 * 1024 * 1024,
    "HEZUO_IMPORT_MAX_ROWS": 250_000,
    "HEZUO_IMPORT_MAX_CELLS": 6_000_000,
    "HEZUO_IMPORT_SYNC_ROWS": 1_000,
    "HEZUO_IMPORT_CHUNK_ROWS": 2_000,
    "HEZUO_IMPORT_MAX_PROBLEMS": 5_000,
    "HEZUO_IMPORT_PARALLEL_ROWS": 20_000,
}


def get(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))


def max_bytes() -> int:
    return get("HEZUO_IMPORT_MAX_BYTES")


def max_uncompressed_bytes() -> int:
    return get("HEZUO_IMPORT_MAX_UNCOMPRESSED")


def max_rows() -> int:
    return get("HEZUO_IMPORT_MAX_ROWS")


def max_cells() -> int:
    return get("HEZUO_IMPORT_MAX_CELLS")


def sync_rows() -> int:
    return get("HEZUO_IMPORT_SYNC_ROWS")


def chunk_rows() -> int:
    return get("HEZUO_IMPORT_CHUNK_ROWS")


def max_problems() -> int:
    return get("HEZUO_IMPORT_MAX_PROBLEMS")


def parallel_rows() -> int:
    return get("HEZUO_IMPORT_PARALLEL_ROWS")
