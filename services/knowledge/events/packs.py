"""`lifecycle.product.stage_changed` into trial → the drafts of the trial-commercial pack (domain/packs.py).

Exactly once per entry into trial, across redeliveries and crashes: the pack record (_id = product + the
event's sequence) is written first with the article ids it reserves; every draft is then inserted under its
reserved id, a duplicate key meaning "already there". A redelivered event finds the record and inserts only what
is missing."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from pymongo.errors import DuplicateKeyError

from contracts.events import Envelope, ProductStageChanged
from contracts.vocabulary import Stage
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.knowledge.domain import articles, packs
from services.knowledge.store.collections import ARTICLES, PACKS, next_article_number

log = structlog.get_logger()
QUEUE = "knowledge.stages"


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_stage_changed(envelope: Envelope) -> None:
        moved = envelope.payload(ProductStageChanged)
        if moved.to_stage == Stage.trial and moved.kind == "product":
            await open_pack(rt, moved, envelope.sequence)

    return [Subscription(QUEUE, ("lifecycle.product.stage_changed",), on_stage_changed)]


async def open_pack(rt: Runtime, moved: ProductStageChanged, sequence: int) -> list[str]:
    pack_id = packs.pack_id(moved.code, sequence)
    pack = await rt.store[PACKS].find_one({"_id": pack_id})
    if pack is None:
        ids = [articles.article_id(await next_article_number(rt.store)) for _ in packs.TRIAL_COMMERCIAL_PACK]
        pack = {"_id": pack_id, "product_code": moved.code, "article_ids": ids, "opened_at": datetime.now(UTC)}
        try:
            await rt.store[PACKS].insert_one(pack)
        except DuplicateKeyError:  # a concurrent delivery of the same event reserved first: use its ids
            pack = await rt.store[PACKS].find_one({"_id": pack_id})
    actor = moved.actor or "lifecycle"
    at = datetime.now(UTC)
    for article_id, (key, type, title, skeleton) in zip(pack["article_ids"], packs.TRIAL_COMMERCIAL_PACK, strict=True):
        draft = articles.new_article(article_id, type=type, product_code=moved.code,
                                     title=packs.draft_title(moved.name, moved.code, title), body=skeleton,
                                     tags=["试商用", key], actor=actor, at=at,
                                     note="产品进入试用：试商用材料草稿（自动创建）")
        try:
            await rt.store.insert(ARTICLES, draft)
        except DuplicateKeyError:
            pass
    log.info("knowledge.pack_opened", product_code=moved.code, articles=pack["article_ids"])
    return pack["article_ids"]
