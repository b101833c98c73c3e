"""Attachments of a ticket: upload (multipart, field `file`), list, download.

Readable by whoever may read the ticket, uploaded by whoever may note it or filed it (domain/scope.py). An upload
is read to a spooled temporary file with its size checked as it streams (kit/uploads.py), its type judged by its content
(domain/attachments.py), then stored in GridFS, and only then recorded on the ticket: one write of the ticket with
its history entry `attach` and its event `ticket.attachment_added` (the ticket's version moves). An over-size
file (413), a refused type (415) or a refused action (403/404/409/412) stores nothing; a failure after the file
is stored removes it again."""

from __future__ import annotations

import re
import urllib.parse
from datetime import datetime

from bson import ObjectId
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.problems import Problem, invalid
from services.kit.clock import to_milliseconds
from services.kit.uploads import read_file
from services.ticketing.api.routes import IfMatch, act, load_visible, parse_if_match, require, utcnow
from services.ticketing.domain.attachments import (
    ACCEPTED_LABELS, INLINE_TYPES, Attachment, clean_filename, sniff,
)
from services.ticketing.domain.ticket import ALLOWED_FROM, MAX_ATTACHMENTS, Ticket
from services.ticketing.store import attachments as stored

router = APIRouter(prefix="/v1", tags=["attachments"])


class AttachmentOut(Attachment):
    ticket_id: str
    href: str

    @classmethod
    def of(cls, ticket_id: str, attachment: Attachment) -> "AttachmentOut":
        return cls(**attachment.model_dump(), ticket_id=ticket_id,
                   href=f"/v1/tickets/{ticket_id}/attachments/{attachment.id}")


class AttachmentPage(BaseModel):
    items: list[AttachmentOut]
    next_cursor: str | None = None  # the list shape of SPEC §5; a ticket holds few enough for one page


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {
            "schema": {"type": "object", "required": ["file"], "properties": {"file": {
                "type": "string", "format": "binary",
                "description": f"截图或文档 — accepted by content, not by name: {ACCEPTED_LABELS}; "
                               "at most OPS_ATTACHMENT_MAX_BYTES (10 MB by default)"}}},
            "examples": {"截图": {"summary": "登录失败截图.png",
                                 "value": {"file": "(binary content of 登录失败截图.png)"}}},
        }},
    },
}


@router.post("/tickets/{ticket_id}/attachments", status_code=201, response_model=AttachmentOut,
             summary="Attach a screenshot or document 上传附件", openapi_extra=UPLOAD_BODY,
             responses={413: {"description": "File over the size limit; nothing stored"},
                        415: {"description": "Not multipart, or a file type outside the whitelist; nothing stored"}})
async def upload(ticket_id: str, request: Request, response: Response, principal: Principal = Depends(authenticate),
                 rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    require(principal, "attach")
    # Everything that can be refused without the body is refused before reading it.
    _, ticket = await load_visible(rt, principal, ticket_id)
    refuse_early(ticket, parse_if_match(if_match))
    received = await read_file(request, max_bytes=rt.settings.attachment_max_bytes)
    try:
        if received.size == 0:
            raise invalid("file", "the file is empty")
        media_type = await run_in_threadpool(sniff, received.content)  # text is decoded whole: off the loop
        if media_type is None:
            raise Problem(415, "unsupported-file-type", "File type not accepted",
                          f"file: its content is none of {ACCEPTED_LABELS} (judged by content, not by name)",
                          accepted=ACCEPTED_LABELS)
        attachment = Attachment(id=str(ObjectId()), filename=clean_filename(received.filename),
                                content_type=media_type, size=received.size, sha256=received.sha256,
                                uploaded_by=principal.sub, uploaded_at=to_milliseconds(utcnow()))
        received.content.seek(0)
        await stored.save(rt, ticket_id, attachment, received.content)
    finally:
        received.close()
    try:
        await act(rt, principal, ticket_id, "attach", if_match,
                  lambda t, a, now: t.attach(attachment, a, now), response)
    except BaseException:
        await stored.discard(rt, attachment.id)  # refused on the fresh ticket: the file must not stay
        raise
    response.headers["Location"] = f"/v1/tickets/{ticket_id}/attachments/{attachment.id}"
    return AttachmentOut.of(ticket_id, attachment)




def refuse_early(ticket: Ticket, expected_version: int | None) -> None:
    """What `act` would refuse on this state, said before the upload is read (act decides again on the fresh one)."""
    if expected_version is not None and ticket.version != expected_version:
        raise Problem(412, "version-mismatch", "Precondition failed",
                      f"The ticket is at version {ticket.version}, not {expected_version}; read it again.",
                      current_version=ticket.version)
    if ticket.status not in ALLOWED_FROM["attach"]:
        raise Problem(409, "illegal-transition", "Not allowed in this status",
                      f"'attach' is not allowed while the ticket is {ticket.status.value}",
                      ticket_status=ticket.status.value,
                      allowed_actions=sorted(a for a, s in ALLOWED_FROM.items() if ticket.status in s))
    if len(ticket.attachments) >= MAX_ATTACHMENTS:
        raise invalid("file", f"a ticket holds at most {MAX_ATTACHMENTS} attachments")


@router.get("/tickets/{ticket_id}/attachments", response_model=AttachmentPage, summary="A ticket's attachments 附件列表")
async def list_attachments(ticket_id: str, principal: Principal = Depends(authenticate),
                           rt: Runtime = Depends(runtime)):
    require(principal, "read")
    _, ticket = await load_visible(rt, principal, ticket_id)
    return AttachmentPage(items=[AttachmentOut.of(ticket.id, a) for a in ticket.attachments])


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}", summary="Download an attachment 下载附件",
            response_class=StreamingResponse,
            responses={200: {"description": "The file, with its sniffed type", "content": {"application/octet-stream": {}}},
                       206: {"description": "The requested byte range (Range: bytes=…)"},
                       416: {"description": "Range not satisfiable"}})
async def download(ticket_id: str, attachment_id: str, principal: Principal = Depends(authenticate),
                   rt: Runtime = Depends(runtime), range_header: str | None = Header(None, alias="Range")):
    require(principal, "read")
    _, ticket = await load_visible(rt, principal, ticket_id)
    attachment = next((a for a in ticket.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise Problem(404, "not-found", "Attachment not found", f"Ticket {ticket_id} has no attachment {attachment_id}.")
    content = await stored.open_content(rt, attachment.id)
    if content is None:
        raise Problem(404, "not-found", "Attachment content missing",
                      f"The content of attachment {attachment_id} is not in the store.")
    start, end = byte_range(range_header, attachment.size)
    headers = {
        "Content-Disposition": content_disposition(attachment.filename, attachment.content_type in INLINE_TYPES),
        "Content-Length": str(end - start),
        "ETag": f'"{attachment.sha256}"',
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",       # the sniffed type is the one the browser uses
        "Content-Security-Policy": "sandbox",      # a document opened in place runs no script of ours
        "Cache-Control": "private, max-age=0",
    }
    status = 200
    if range_header is not None and (start, end) != (0, attachment.size):
        status, headers["Content-Range"] = 206, f"bytes {start}-{end - 1}/{attachment.size}"
    if start:
        await content.seek(start)

    async def chunks():
        left = end - start
        while left > 0:
            chunk = await content.readchunk()
            if not chunk:
                break
            piece = chunk[:left]
            left -= len(piece)
            yield piece

    return StreamingResponse(chunks(), status_code=status, media_type=attachment.content_type, headers=headers)


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def byte_range(header: str | None, size: int) -> tuple[int, int]:
    """[start, end) of a single `Range: bytes=a-b | a- | -n` (RFC 9110 §14.1.2); the whole file without one or for
    a form not handled here (several ranges: RFC 9110 lets a server ignore Range); 416 if it cannot be met."""
    if header is None or "," in header:
        return 0, size
    match = _RANGE.match(header)
    if not match or not any(match.groups()):
        return 0, size
    first, last = match.groups()
    if not first:  # the last n bytes
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), size if not last else min(size, int(last) + 1)
    if start >= size or start >= end:
        raise Problem(416, "range-not-satisfiable", "Range not satisfiable",
                      f"The attachment has {size} bytes; asked: {header}.", headers={"Content-Range": f"bytes */{size}"})
    return start, end


def content_disposition(filename: str, inline: bool) -> str:
    """RFC 6266 with RFC 5987's `filename*` for the real (often Chinese) name, and an ASCII `filename` for clients
    that know only that one."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename)
    return (f'{"inline" if inline else "attachment"}; filename="{fallback}"; '
            f"filename*=UTF-8''{urllib.parse.quote(filename, safe='')}")
