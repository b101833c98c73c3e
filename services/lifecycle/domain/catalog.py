"""Catalog entries (products and platforms) as stored documents, and the event that announces them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from contracts.events import ProductRegistered
from services.kit.clock import to_milliseconds
from services.lifecycle.domain.stages import INITIAL, Stage

REGISTERED = "lifecycle.product.registered"
CODE_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
_CODE = re.compile(CODE_PATTERN)

EntryKind = Literal["product", "platform"]


def valid_code(code: str) -> bool:
    return bool(_CODE.match(code))


def entry(data: dict, *, kind: EntryKind, now: datetime) -> dict:
    """A catalog document at version 1 from seed data or a registration request."""
    now = to_milliseconds(now)  # the store keeps milliseconds
    return {
        "_id": data["code"],
        "code": data["code"],
        "kind": kind,
        "name": data["name"],
        "name_en": data.get("name_en"),
        "description": data.get("description"),
        "platform_code": data.get("platform_code") if kind == "product" else None,
        "stage": Stage(data.get("stage", INITIAL)).value,
        "vendor": data.get("vendor"),
        "product_managers": list(data.get("product_managers", [])),
        "sample": bool(data.get("sample", False)),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def registered(doc: dict) -> ProductRegistered:
    """The `lifecycle.product.registered` payload carrying the entry's current state."""
    return ProductRegistered(code=doc["code"], name=doc["name"], kind=doc.get("kind", "product"),
                             platform_code=doc.get("platform_code"), stage=doc["stage"],
                             product_managers=doc.get("product_managers", []), vendor=doc.get("vendor"),
                             sample=doc.get("sample", False))
