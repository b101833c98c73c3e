"""The knowledge service: articles (客服口径, 投诉指导手册, FAQ, …) and candidates grown from closed tickets."""

from fastapi import FastAPI

from services.kit.app import ServiceSpec, create_app
from services.knowledge.api import candidates, faq, kcs
from services.knowledge.api.routes import router
from services.knowledge.events import handlers
from services.knowledge.settings import Settings
from services.knowledge.store.collections import ARTICLES, CANDIDATES, INDEXES, KCS_MEASURES


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="knowledge — 知识库",
        description="客服口径, 投诉指导手册, FAQ, manuals, tariffs and training material, with KCS states and "
                    "versions; candidates grown from closed tickets (口径更新, 更新投诉指导手册).",
        routers=[router, candidates.router, kcs.router, faq.router],
        indexes=INDEXES,
        outbox_collections=[ARTICLES, CANDIDATES, KCS_MEASURES],
        publishes=["knowledge.article.published", "knowledge.article.archived", "knowledge.candidate.updated",
                   "knowledge.kcs.measured"],
        subscriptions=lambda rt: handlers.subscriptions(rt),
    ))
