"""The knowledge service: articles (客服口径, 投诉指导手册, FAQ, …), candidates grown from closed tickets, and the
training sessions held (培训指导)."""

from fastapi import FastAPI

from services.kit.app import ServiceSpec, create_app
from services.knowledge.api import trainings
from services.knowledge.api.routes import router
from services.knowledge.events import handlers
from services.knowledge.settings import Settings
from services.knowledge.store.collections import ARTICLES, CANDIDATES, INDEXES, TRAININGS


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="knowledge — 知识库",
        description="客服口径, 投诉指导手册, FAQ, manuals, tariffs and training material, with KCS states and "
                    "versions; candidates grown from closed tickets (口径更新, 更新投诉指导手册); training sessions held "
                    "(培训指导).",
        routers=[router, trainings.router],
        indexes=INDEXES,
        outbox_collections=[ARTICLES, CANDIDATES, TRAININGS],
        publishes=["knowledge.article.published", "knowledge.article.archived", "knowledge.candidate.updated",
                   "knowledge.training.recorded"],
        subscriptions=lambda rt: handlers.subscriptions(rt),
    ))
