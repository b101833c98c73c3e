"""Filing gate documents (domain/documents.py) in the store: the next version of a type."""

from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError

from services.kit.app import Runtime
from services.kit.store import eq
from services.lifecycle.domain import documents
from services.lifecycle.store.collections import DOCUMENTS


async def file_document(rt: Runtime, code: str, data: dict[str, Any], **fields) -> dict[str, Any]:
    """Insert `data` ({type, title, ref, approved}) as the next version of its type. Two filers racing for one
    version: the loser takes the next one."""
    newest = await rt.store[DOCUMENTS].find({"product_code": eq(code), "type": eq(data["type"])}, {"version": 1}) \
        .sort("version", -1).limit(1).to_list()
    version = newest[0]["version"] + 1 if newest else 1
    for _ in range(5):
        doc = documents.new_document(code, data, version=version, **fields)
        try:
            return await rt.store.insert(DOCUMENTS, doc)
        except DuplicateKeyError:
            version += 1
    raise DuplicateKeyError(f"no free version of {code}:{data['type']}")
