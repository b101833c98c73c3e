"""One file from a `multipart/form-data` request body, read as it streams in, with a size limit.

Why not FastAPI's `UploadFile`: Starlette parses the whole body before the handler runs and has no limit on a
file part, so a 2 GB upload would be read to disk before it could be refused. Here python-multipart's streaming
parser is fed the body chunk by chunk; the file part goes into a spooled temporary file (in memory up to
SPOOL_IN_MEMORY bytes, on disk beyond), its size and SHA-256 counted on the way, and reading stops at the first
byte over the limit: 413, whatever Content-Length said (a Content-Length already over the limit is refused before
reading anything). The caller gets the whole file, checked, before anything is stored.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from typing import Any

import python_multipart
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from services.kit.problems import Problem, invalid

SPOOL_IN_MEMORY = 1024 * 1024
# Room for the multipart framing and small form fields around the file, beyond the file limit itself.
FRAMING_ALLOWANCE = 64 * 1024


def too_large(max_bytes: int) -> Problem:
    return Problem(413, "too-large", "File too large", f"file: at most {max_bytes} bytes ({max_bytes / 2**20:g} MB)",
                   max_bytes=max_bytes)


@dataclass
class ReceivedFile:
    """The file part: its content (a seekable binary file at position 0), the name the client gave, the type the
    client claimed (kept for the record, never trusted), its size and SHA-256. Close it when done."""

    filename: str | None
    declared_type: str | None
    size: int
    sha256: str
    content: Any  # tempfile.SpooledTemporaryFile

    def close(self) -> None:
        self.content.close()


@dataclass
class _Part:
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None
    headers: dict[bytes, bytes] = field(default_factory=dict)


async def read_file(request: Request, *, field_name: str = "file", max_bytes: int) -> ReceivedFile:
    """The first part named `field_name` that carries a file; other parts are read past and dropped. Raises
    Problem: 415 if the body is not multipart/form-data, 400 if it is malformed, 413 past `max_bytes` (of the
    file, or `max_bytes` + FRAMING_ALLOWANCE of the whole body), 422 if the file part is missing."""
    media_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise Problem(415, "unsupported-media-type", "Unsupported request body",
                      f"Send the file as multipart/form-data with a part named '{field_name}'.")
    declared_length = request.headers.get("content-length")
    if declared_length and declared_length.isdigit() and int(declared_length) > max_bytes + FRAMING_ALLOWANCE:
        raise too_large(max_bytes)

    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    digest = hashlib.sha256()
    state: dict[str, Any] = {"part": None, "header_field": b"", "header_value": b"", "file": None, "size": 0,
                             "done": False}

    def on_part_begin() -> None:
        state["part"] = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        state["part"].headers[state["header_field"].lower()] = state["header_value"]
        state["header_field"], state["header_value"] = b"", b""

    def on_headers_finished() -> None:
        part: _Part = state["part"]
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        # the parser hands parameters back as latin-1 bytes of what was sent; clients send UTF-8 (RFC 7578 §4.2)
        part.name = _text(disposition.get(b"name"))
        part.filename = _text(disposition.get(b"filename"))
        part.content_type = _text(part.headers.get(b"content-type"))
        if state["file"] is None and not state["done"] and part.name == field_name and b"filename" in disposition:
            state["file"] = part

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["file"] is not state["part"] or state["done"]:
            return
        chunk = data[start:end]
        state["size"] += len(chunk)
        if state["size"] > max_bytes:
            raise too_large(max_bytes)
        digest.update(chunk)
        spool.write(chunk)

    def on_part_end() -> None:
        if state["file"] is not None and state["file"] is state["part"]:
            state["done"] = True

    parser = python_multipart.MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end})
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes + FRAMING_ALLOWANCE:
                raise too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as error:
        spool.close()
        raise Problem(400, "malformed-multipart", "Malformed multipart body", str(error)) from None
    except ClientDisconnect:
        spool.close()
        raise Problem(400, "incomplete-body", "Incomplete request body", "The upload ended early.") from None
    except BaseException:
        spool.close()
        raise
    if not state["done"]:
        spool.close()
        raise invalid(field_name, f"no file part named '{field_name}' in the form")
    spool.seek(0)
    part = state["file"]
    return ReceivedFile(filename=part.filename, declared_type=part.content_type, size=state["size"],
                        sha256=digest.hexdigest(), content=spool)


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    raw = value.decode("latin-1").encode("latin-1") if isinstance(value, str) else value
    return raw.decode("utf-8", errors="replace")
