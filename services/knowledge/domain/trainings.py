"""Training sessions held for a product (培训指导, issue 9 point 7): when, for which cities, for whom, how many
came, and with which training material (a `training` article).

Lifecycle's trial → trial_commercial gate needs "training of the pilot cities recorded" (SPEC §3); a recorded
session says so with a `knowledge.training.recorded` event. A record is written once: a session that was held
does not change (a mistake is corrected by recording the session again with a note).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from contracts.vocabulary import CITIES, ArticleType, Role
from services.knowledge.domain.articles import STAFF

ID_PREFIX = "PX"  # 培训 (pinyin initials), like ticketing's ZX/TS/JY/GZ
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Who records: the product manager of the product (checked per record) and admins. Who reads: staff, as for
# internal articles and drafts (articles.STAFF: not a channel system nor an account manager, issue 9).
RECORDERS = (Role.product_manager, Role.admin)
READERS = tuple(r for r in Role if r in STAFF)


class InvalidTraining(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def training_id(number: int) -> str:
    return f"{ID_PREFIX}-{number:06d}"


def list_key(held_on: date, id: str) -> str:
    """The listing's sort key, newest session first: the day as digits (no dashes: kit/store.py) and the id."""
    return f"{held_on:%Y%m%d}|{id}"


def check(*, held_on: date, cities: list[str], material: dict[str, Any] | None, material_article_id: str | None,
          product_code: str, now: datetime) -> list[str]:
    """The cities, each once in the order given, or InvalidTraining naming the field at fault."""
    if held_on > now.astimezone(SHANGHAI).date():
        raise InvalidTraining("held_on", "a session is recorded once it has been held, not before")
    unknown = [c for c in cities if c not in CITIES]
    if unknown:
        raise InvalidTraining("cities", f"not one of the 16 cities: {', '.join(unknown)}")
    if material_article_id is not None:
        if material is None:
            raise InvalidTraining("material_article_id", f"no article {material_article_id}")
        if material["type"] != ArticleType.training.value:
            raise InvalidTraining("material_article_id",
                                  f"{material_article_id} is a {material['type']} article, not training material")
        if material["product_code"] not in (None, product_code):
            raise InvalidTraining("material_article_id", f"{material_article_id} is the material of product "
                                  f"{material['product_code']}, not of {product_code}")
    return list(dict.fromkeys(cities))


def new_training(id: str, *, product_code: str, held_on: date, cities: list[str], audience: str, attendance: int,
                 material_article_id: str | None, note: str | None, actor: str, at: datetime) -> dict[str, Any]:
    return {
        "_id": id, "product_code": product_code, "held_on": held_on.isoformat(), "cities": cities,
        "audience": audience, "attendance": attendance, "material_article_id": material_article_id, "note": note,
        "recorded_by": actor, "recorded_at": at, "version": 1, "list_key": list_key(held_on, id),
    }
