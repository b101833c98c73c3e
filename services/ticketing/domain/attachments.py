"""Attachments of a ticket (screenshots 截图 and documents): which files are accepted, judged by their content.

The whitelist is a small table of our own rather than `filetype` or `puremagic`: the eight accepted formats have
fixed signatures set by their specifications, and neither library answers the two questions that decide here.
Both call any ZIP archive a ZIP (or guess docx from names near its start), so an arbitrary archive or a
macro-enabled document would need our own look into the archive anyway; and neither detects plain text, the one
format without a signature. So:

- images: PNG, JPEG, GIF, WebP, by their magic bytes; PDF by `%PDF-` at the start;
- Office documents (docx, xlsx, pptx): a ZIP whose central directory lists `[Content_Types].xml` and the
  format's main part (word/document.xml, xl/workbook.xml, ppt/presentation.xml), and no VBA project (a docm
  renamed docx carries `vbaProject.bin`: macros are refused). Only the directory is read, nothing is inflated;
- plain text: the whole content decodes as UTF-8 (BOM or not) or, failing that, as GB18030 (what Chinese
  Windows editors save), with no control character but tab, line feed, carriage return and form feed;
- refused: everything else, notably executables, archives, HTML/SVG (served back they could run script) and the
  legacy OLE2 formats doc/xls/ppt: their shared signature says nothing about which they are, telling them apart
  needs a compound-file parser, and they are the usual carriers of macro viruses; Office saves docx/xlsx since 2007.

Pure: reads the bytes it is given (a seekable binary file), nothing else.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from datetime import datetime
from typing import BinaryIO

from pydantic import BaseModel

PNG, JPEG, GIF, WEBP, PDF = "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
TEXT_UTF8, TEXT_GB18030 = "text/plain; charset=utf-8", "text/plain; charset=gb18030"

# Types a browser may show in place (a screenshot in the console); everything else downloads.
INLINE_TYPES = frozenset({PNG, JPEG, GIF, WEBP})

ACCEPTED_LABELS = "PNG, JPEG, GIF, WebP, PDF, docx, xlsx, pptx, plain text (UTF-8 or GB18030)"

# (offset, signature) → type; checked against the first bytes of the content
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", PNG),
    (0, b"\xff\xd8\xff", JPEG),
    (0, b"GIF87a", GIF),
    (0, b"GIF89a", GIF),
    (0, b"%PDF-", PDF),
)
ZIP_SIGNATURE = b"PK\x03\x04"
OFFICE_MAIN_PARTS = (("word/document.xml", DOCX), ("xl/workbook.xml", XLSX), ("ppt/presentation.xml", PPTX))
HEAD_BYTES = 16
TEXT_READ = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class Attachment(BaseModel):
    """What the ticket records of one stored file (its bytes live in ticketing's GridFS bucket under `id`)."""

    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


def sniff(content: BinaryIO) -> str | None:
    """The accepted type of `content` (read from its start; left at an unspecified position), or None."""
    content.seek(0)
    head = content.read(HEAD_BYTES)
    if not head:
        return None
    for offset, signature, media_type in SIGNATURES:
        if head[offset:offset + len(signature)] == signature:
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == ZIP_SIGNATURE:
        return _office_type(content)
    return _text_type(content)


def _office_type(content: BinaryIO) -> str | None:
    try:
        with zipfile.ZipFile(content) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names or any(name.lower().endswith("vbaproject.bin") for name in names):
        return None
    return next((media_type for part, media_type in OFFICE_MAIN_PARTS if part in names), None)


def _text_type(content: BinaryIO) -> str | None:
    for encoding, media_type in (("utf-8-sig", TEXT_UTF8), ("gb18030", TEXT_GB18030)):
        if _decodes_as_text(content, encoding):
            return media_type
    return None


def _decodes_as_text(content: BinaryIO, encoding: str) -> bool:
    content.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        while block := content.read(TEXT_READ):
            if _CONTROL.search(decoder.decode(block)):
                return False
        return not _CONTROL.search(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return False


MAX_FILENAME = 200


def clean_filename(raw: str | None) -> str:
    """The name to keep and send back: the last path segment (browsers of old sent C:\\…\\name), NFC, without
    control characters, at most MAX_FILENAME characters keeping the extension; "attachment" when nothing is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        keep = extension if dot and len(extension) <= 10 else ""
        name = name[:MAX_FILENAME - len(keep) - 1].rstrip() + ("." + keep if keep else "")
    return name or "attachment"
