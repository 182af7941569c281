"""Reading uploaded spreadsheets: .xlsx (and old .xls) and .csv in UTF-8, UTF-8 with BOM, GBK/GB18030 or
UTF-16 (Excel's "Unicode text").

The file's real type comes from its first bytes, never from its name. Limits are checked before the cells
are read: the byte size, the uncompressed size of a workbook (no zip bombs), and the number of rows and
cells, which for .xlsx come from each sheet's XML read as a stream, and for .csv from counting lines.
Cells are then read with python-calamine (the fastest reader at hand); the header row is the row among the
first ones that names the most known columns, so title rows and merged cells above it do not matter.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from django.utils.translation import gettext as _

from . import conf

HEADER_SCAN_ROWS = 30
WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".xltx")
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>]")
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
# a cell with a formula and no computed value (files written by programs that do not calculate)
_FORMULA_NO_VALUE = re.compile(
    rb'<c\s[^>]*?r="([A-Z]+)(\d+)"[^>]*>\s*<f(?:\s[^>]*)?(?:/>|>[^<]*</f>)\s*(?:<v\s*/>|<v></v>)?\s*</c>'
)


class FileProblem(Exception):
    """The file cannot be imported at all; the message says why, for the user."""


@dataclass
class Table:
    """The sheet chosen for import: its header row and an iterator over the data rows below it."""

    format: str  # xlsx, xls or csv
    sheet: str
    header_row: int  # 1-based row number in the file
    headers: list[str]
    estimated_rows: int
    notices: list[str] = field(default_factory=list)
    formula_cells: set[tuple[int, int]] = field(default_factory=set)  # (row number, column index)
    _rows: Callable[[], Iterator[tuple[int, list[Any]]]] | None = None
    _close: Callable[[], None] | None = None

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(row number, cells) of every non-empty row below the header."""
        assert self._rows is not None
        header_row = self.header_row
        for number, cells in self._rows():
            if number <= header_row:
                continue
            for c in cells:  # a cell that is not empty: not None, "" or blanks
                if c is not None and (c.strip() if isinstance(c, str) else c != ""):
                    yield number, cells
                    break

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    def release(self) -> None:
        """Close the file and let go of its cells (a reader process has its own copy of them)."""
        self.close()
        self._rows = None


# ---------------------------------------------------------------------------------------------------------
def sniff(path: Path, filename: str) -> str:
    """The file's real type from its first bytes: xlsx, xls or csv; a FileProblem for anything else."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    name = filename.lower()
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise FileProblem(_("The file is empty."))
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        if _is_encrypted_ole(path):
            raise FileProblem(
                _(
                    "The workbook is protected by a password. Open it in Excel, remove the password "
                    "(File › Info › Protect Workbook) and upload it again."
                )
            )
        return "xls"
    pictures = {
        b"\x89PNG": "PNG",
        b"\xff\xd8\xff": "JPEG",
        b"GIF8": "GIF",
        b"BM": "BMP",
        b"II*\x00": "TIFF",
        b"MM\x00*": "TIFF",
        b"%PDF": "PDF",
    }
    for magic, kind in pictures.items():
        if head.startswith(magic):
            raise FileProblem(
                _(
                    "This file is a %(kind)s picture or document, not a spreadsheet. Upload the .xlsx "
                    "or .csv file itself."
                )
                % {"kind": kind}
            )
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        raise FileProblem(
            _("This file is a WEBP picture, not a spreadsheet. Upload the .xlsx or .csv file itself.")
        )
    text_like = head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" not in head
    if not text_like:
        raise FileProblem(_("This file is not a spreadsheet that can be read: upload an .xlsx or .csv file."))
    if name.endswith(WORKBOOK_EXTENSIONS):
        raise FileProblem(
            _(
                "The file is named %(name)s but holds plain text (CSV), not an Excel workbook. Rename "
                "it to .csv, or open it in Excel and save it as .xlsx."
            )
            % {"name": filename}
        )
    return "csv"


def _is_encrypted_ole(path: Path) -> bool:
    """An OLE2 container holding an encrypted OOXML package (a password-protected .xlsx)."""
    needles = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            block = tail + chunk
            if any(n in block for n in needles):
                return True
            tail = block[-64:]
    return False


def open_table(
    path: Path,
    filename: str,
    score: Callable[[list[Any]], int],
    *,
    max_rows: int | None = None,
) -> Table:
    """Check the file against the limits, find the sheet and its header row, and return the table."""
    max_rows = conf.max_rows() if max_rows is None else max_rows
    size = path.stat().st_size
    if size > conf.max_bytes():
        raise FileProblem(too_big_message(size))
    fmt = sniff(path, filename)
    if fmt == "csv":
        return _open_csv(path, score, max_rows)
    return _open_workbook(path, fmt, score, max_rows)


def too_big_message(size: int) -> str:
    return _("The file is %(size)s; the limit is %(limit)s. Split it into smaller files.") % {
        "size": human_size(size),
        "limit": human_size(conf.max_bytes()),
    }


def too_many_rows_message(rows: int, limit: int) -> str:
    return _(
        "The file has %(rows)s rows; the limit is %(limit)s rows per file. Split it into smaller files."
    ) % {
        "rows": f"{rows:,}",
        "limit": f"{limit:,}",
    }


def human_size(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MB"
    if size >= 1 << 10:
        return f"{size / (1 << 10):.0f} KB"
    return f"{size} B"


# workbooks -------------------------------------------------------------------------------------------------
@dataclass
class _SheetInfo:
    name: str
    state: str
    part: str | None
    rows: int = 0
    cols: int = 0
    formula_cells: set[tuple[int, int]] = field(default_factory=set)


def _column_index(letters: bytes) -> int:
    index = 0
    for char in letters:
        index = index * 26 + (char - 64)
    return index - 1


def _xlsx_sheets(path: Path) -> list[_SheetInfo]:
    """The worksheets of an .xlsx with their visibility, size and formula cells lacking values, read as
    streams (constant memory whatever the sheet's size)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise FileProblem(
            _(
                "The workbook is damaged and cannot be opened. Open it in Excel, save it again and "
                "upload the new file."
            )
        ) from None
    with archive:
        names = set(archive.namelist())
        if "xl/workbook.xml" not in names:
            if "word/document.xml" in names:
                raise FileProblem(_("This is a Word document, not an Excel workbook."))
            if "ppt/presentation.xml" in names:
                raise FileProblem(_("This is a PowerPoint file, not an Excel workbook."))
            raise FileProblem(_("This ZIP file is not an Excel workbook."))
        total = sum(info.file_size for info in archive.infolist())
        if total > conf.max_uncompressed_bytes():
            raise FileProblem(
                _(
                    "The workbook unpacks to %(size)s, more than the limit of %(limit)s. Split it into "
                    "smaller files."
                )
                % {"size": human_size(total), "limit": human_size(conf.max_uncompressed_bytes())}
            )
        try:
            workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
            rels_xml = (
                archive.read("xl/_rels/workbook.xml.rels") if "xl/_rels/workbook.xml.rels" in names else b""
            )
            rels = ElementTree.fromstring(rels_xml) if rels_xml else None
        except (ElementTree.ParseError, zipfile.BadZipFile, OSError, EOFError):
            raise FileProblem(
                _(
                    "The workbook is damaged and cannot be opened. Open it in Excel, save it again and "
                    "upload the new file."
                )
            ) from None
        targets: dict[str, str] = {}
        if rels is not None:
            for rel in rels.iter(f"{_NS_PKG_REL}Relationship"):
                target = rel.get("Target", "")
                target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                targets[rel.get("Id", "")] = target
        sheets = []
        for node in workbook.iter(f"{_NS_MAIN}sheet"):
            part = targets.get(node.get(f"{_NS_REL}id", ""))
            info = _SheetInfo(
                node.get("name", ""), node.get("state", "visible"), part if part in names else None
            )
            if info.part is not None:
                try:
                    _scan_sheet(archive, info)
                except (zipfile.BadZipFile, OSError, EOFError, ValueError):
                    raise FileProblem(
                        _(
                            "The workbook is damaged and cannot be opened. Open it in Excel, save it "
                            "again and upload the new file."
                        )
                    ) from None
            sheets.append(info)
        return sheets


def _scan_sheet(archive: zipfile.ZipFile, info: _SheetInfo) -> None:
    assert info.part is not None
    with archive.open(info.part) as stream:
        head = stream.read(65536)
        match = _DIMENSION.search(head)
        if match and match.group(4):
            info.rows = int(match.group(4))
            info.cols = _column_index(match.group(3)) + 1
        count_rows = not (match and match.group(4))
        rows = 0
        block = head
        tail = b""
        while True:
            if count_rows:
                if b":row" in block:  # prefixed tags (<x:row …>): the regular expression
                    rows += len(_ROW_TAG.findall(block))
                else:  # the usual case, counted at the speed of a byte search
                    rows += block.count(b"<row ") + block.count(b"<row>") + block.count(b"<row\t")
                    rows += block.count(b"<row\n") + block.count(b"<row\r")
            seam = tail[-16:] + block[:16]
            if (b"<f" in block or b":f" in block or b"<f" in seam or b":f" in seam) and _FORMULA_TAG.search(
                tail + block
            ):
                for found in _FORMULA_NO_VALUE.finditer(tail + block):
                    if len(info.formula_cells) < 10_000:
                        info.formula_cells.add((int(found.group(2)), _column_index(found.group(1))))
            tail = block[-4096:]
            block = stream.read(1 << 20)
            if not block:
                break
        if count_rows:
            info.rows = rows


def _open_workbook(path: Path, fmt: str, score: Callable[[list[Any]], int], max_rows: int) -> Table:
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetVisibleEnum

    infos = {s.name: s for s in _xlsx_sheets(path)} if fmt == "xlsx" else {}
    notices: list[str] = []
    for info in infos.values():
        if info.state != "visible":
            continue
        if info.rows - 1 > max_rows:
            raise FileProblem(too_many_rows_message(info.rows - 1, max_rows))
        if info.rows * max(info.cols, 1) > conf.max_cells():
            raise FileProblem(
                _(
                    "The sheet %(sheet)s has %(cells)s cells; the limit is %(limit)s. Split it into "
                    "smaller files."
                )
                % {
                    "sheet": info.name,
                    "cells": f"{info.rows * info.cols:,}",
                    "limit": f"{conf.max_cells():,}",
                }
            )
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except PasswordError:
        raise FileProblem(
            _(
                "The workbook is protected by a password. Open it in Excel, remove the password and "
                "upload it again."
            )
        ) from None
    except (CalamineError, OSError, ValueError) as exc:
        raise FileProblem(
            _(
                "The workbook is damaged and cannot be opened (%(error)s). Open it in Excel, save it "
                "again and upload the new file."
            )
            % {"error": str(exc)[:120]}
        ) from None
    best: tuple[int, int, Any, int, list[Any], str] | None = (
        None  # score, -order, sheet, header row, cells, name
    )
    try:
        for order, meta in enumerate(workbook.sheets_metadata):
            if meta.visible != SheetVisibleEnum.Visible:
                notices.append(_("The hidden sheet %(sheet)s was ignored.") % {"sheet": meta.name})
                continue
            try:
                sheet = workbook.get_sheet_by_name(meta.name)
            except Exception:
                continue
            if fmt != "xlsx" and sheet.height - 1 > max_rows:
                raise FileProblem(too_many_rows_message(sheet.height - 1, max_rows))
            start = sheet.start or (0, 0)
            for index, cells in enumerate(sheet.iter_rows()):
                if index >= HEADER_SCAN_ROWS:
                    break
                points = score(cells)
                candidate = (points, -order, sheet, start[0] + index + 1, cells, meta.name)
                if best is None or candidate[:2] > best[:2]:
                    best = candidate
    except (CalamineError, ValueError) as exc:
        workbook.close()
        raise FileProblem(
            _(
                "The workbook is damaged and cannot be read (%(error)s). Open it in Excel, save it "
                "again and upload the new file."
            )
            % {"error": str(exc)[:120]}
        ) from None
    if best is None or best[0] == 0:
        best = _first_wide_row(workbook, best)
    if best is None:
        workbook.close()
        raise FileProblem(_("The workbook has no data: every visible sheet is empty."))
    _points, _order, sheet, header_row, header_cells, name = best
    for meta in workbook.sheets_metadata:
        if meta.name != name and meta.visible == SheetVisibleEnum.Visible:
            other = infos.get(meta.name)
            if other is None or other.rows > 0:
                notices.append(
                    _("Only the sheet %(sheet)s was read; the sheet %(other)s was ignored.")
                    % {"sheet": name, "other": meta.name}
                )
    start = sheet.start or (0, 0)
    first_col = start[1]
    header = [_header_text(c) for c in header_cells]
    chosen = infos.get(name)
    formula_cells = {(r, c - first_col) for r, c in chosen.formula_cells} if chosen else set()

    def rows() -> Iterator[tuple[int, list[Any]]]:
        base = start[0] + 1
        for index, cells in enumerate(sheet.iter_rows()):
            yield base + index, cells

    estimated = (chosen.rows if chosen else start[0] + sheet.height) - header_row
    return Table(
        fmt, name, header_row, header, max(estimated, 0), notices, formula_cells, rows, workbook.close
    )


def _first_wide_row(workbook: Any, best: Any) -> Any:
    """No row names a known column: take the first row with two or more cells as the header, so that the
    user can map its columns."""
    from python_calamine import SheetVisibleEnum

    for order, meta in enumerate(workbook.sheets_metadata):
        if meta.visible != SheetVisibleEnum.Visible:
            continue
        try:
            sheet = workbook.get_sheet_by_name(meta.name)
        except Exception:
            continue
        start = sheet.start or (0, 0)
        for index, cells in enumerate(sheet.iter_rows()):
            if index >= HEADER_SCAN_ROWS:
                break
            if sum(1 for c in cells if c not in (None, "")) >= 2:
                return (0, -order, sheet, start[0] + index + 1, cells, meta.name)
    return None


def _header_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


# CSV -------------------------------------------------------------------------------------------------------
def detect_encoding(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    gbk = codecs.getincrementaldecoder("gb18030")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                gbk.decode(chunk)
            gbk.decode(b"", final=True)
    except UnicodeDecodeError:
        raise FileProblem(
            _('The text file is neither UTF-8 nor GBK; save it from Excel as "CSV UTF-8" or as .xlsx.')
        ) from None
    return "gb18030"


def _count_lines(path: Path, encoding: str) -> int:
    if encoding == "utf-16":
        count = 0
        with path.open(encoding=encoding, newline="") as text:
            while part := text.read(1 << 20):
                count += part.count("\n")
        return count
    count = 0
    last = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (1 if last and last != b"\n" else 0)


def _delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:HEADER_SCAN_ROWS] if line.strip()]
    best, best_score = ",", 0
    for candidate in (",", "\t", ";", "|"):
        counts = [line.count(candidate) for line in lines]
        score = max(counts, default=0)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _open_csv(path: Path, score: Callable[[list[Any]], int], max_rows: int) -> Table:
    encoding = detect_encoding(path)
    lines = _count_lines(path, encoding)
    if lines - 1 > max_rows:
        raise FileProblem(too_many_rows_message(lines - 1, max_rows))
    with path.open(encoding=encoding, newline="", errors="replace") as handle:
        sample = handle.read(65536)
    delimiter = _delimiter(sample)
    if (
        lines > 0
        and lines * max(sample.splitlines()[0].count(delimiter) + 1 if sample else 1, 1) > conf.max_cells()
    ):
        raise FileProblem(
            _("The file has too many cells; the limit is %(limit)s. Split it into smaller files.")
            % {"limit": f"{conf.max_cells():,}"}
        )

    def rows() -> Iterator[tuple[int, list[Any]]]:
        with path.open(encoding=encoding, newline="") as handle:
            yield from enumerate(csv.reader(handle, delimiter=delimiter), start=1)

    best: tuple[int, int, list[str]] | None = None
    fallback: tuple[int, int, list[str]] | None = None
    try:
        for number, cells in rows():
            if number > HEADER_SCAN_ROWS:
                break
            points = score(cells)
            if best is None or points > best[0]:
                best = (points, number, cells)
            if fallback is None and sum(1 for c in cells if c.strip()) >= 2:
                fallback = (0, number, cells)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise FileProblem(
            _("The text file cannot be read as CSV: %(error)s") % {"error": str(exc)[:120]}
        ) from None
    if best is None or best[0] == 0:
        best = fallback
    if best is None:
        raise FileProblem(_("The file has no data."))
    _points, header_row, header_cells = best
    notices = []
    if encoding == "gb18030":
        notices.append(_("The file was read as GBK (Chinese Excel's CSV)."))
    return Table(
        "csv",
        "",
        header_row,
        [c.strip() for c in header_cells],
        max(lines - header_row, 0),
        notices,
        set(),
        rows,
        None,
    )
