"""Where ticketing keeps attachment contents: the GridFS bucket `attachments` of its own database
(`attachments.files`, `attachments.chunks`). The ticket lists its attachments (domain/attachments.Attachment); a
file's GridFS metadata names its ticket and uploader too, so that an orphan (a crash between storing the file and
recording it on the ticket) can be told apart and removed. Only files recorded on a ticket are ever served."""

from __future__ import annotations

from typing import Any, BinaryIO

from bson import ObjectId

from services.kit.app import Runtime
from services.kit.store import discard_file, file_bucket
from services.ticketing.domain.attachments import Attachment

BUCKET = "attachments"


def bucket(rt: Runtime):
    if (existing := rt.extras.get("attachment_bucket")) is None:
        existing = rt.extras["attachment_bucket"] = file_bucket(rt.store, BUCKET)
    return existing


async def save(rt: Runtime, ticket_id: str, attachment: Attachment, content: BinaryIO) -> None:
    """Store `content` under the attachment's id; a failure leaves nothing behind (kit.store.discard_file)."""
    file_id = ObjectId(attachment.id)
    metadata = {"ticket_id": ticket_id, "content_type": attachment.content_type, "sha256": attachment.sha256,
                "uploaded_by": attachment.uploaded_by}
    try:
        await bucket(rt).upload_from_stream_with_id(file_id, attachment.filename, content, metadata=metadata)
    except BaseException:
        await discard(rt, attachment.id)
        raise


async def discard(rt: Runtime, attachment_id: str) -> None:
    await discard_file(bucket(rt), ObjectId(attachment_id))


async def open_content(rt: Runtime, attachment_id: str) -> Any | None:
    """The stored file (an AsyncGridOut, read with `readchunk`/`seek`), or None if it is missing."""
    import gridfs.errors

    try:
        return await bucket(rt).open_download_stream(ObjectId(attachment_id))
    except gridfs.errors.NoFile:
        return None
