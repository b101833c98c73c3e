"""The knowledge service: articles (客服口径, 投诉指导手册, FAQ, …), candidates grown from closed tickets, and the
training sessions held (培训指导)."""

from fastapi import FastAPI

from services.kit.app import Runtime, ServiceSpec, create_app
from services.kit.catalog import stop_asking
from services.knowledge.api import candidates, faq, kcs, search, trainings
from services.knowledge.api.routes import router
from services.knowledge.events import catalog, handlers, packs
from services.knowledge.settings import Settings
from services.knowledge.store.collections import ARTICLES, CANDIDATES, INDEXES, KCS_MEASURES, STAMPED, TRAININGS
from services.knowledge.store.search_index import LiveSearch


def create(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    serves_api = settings.role in ("all", "api")

    def prepare(rt: Runtime) -> None:
        rt.extras["search"] = LiveSearch(rt.store, poll_seconds=settings.search_poll_seconds)

    async def on_start(rt: Runtime) -> None:
        if serves_api:  # a worker answers no search: it keeps no index
            await rt.extras["search"].start()
        if settings.role in ("all", "worker"):  # the replicas that consume the catalog's events
            await catalog.ask_if_incomplete(rt)

    async def on_stop(rt: Runtime) -> None:
        stop_asking(rt)
        await rt.extras["search"].stop()

    return create_app(ServiceSpec(
        settings=settings,
        title="knowledge — 知识库",
        description="客服口径, 投诉指导手册, FAQ, manuals, tariffs and training material, with KCS states and "
                    "versions; candidates grown from closed tickets (口径更新, 更新投诉指导手册); ranked Chinese "
                    "search and answer suggestions (docs/knowledge-search.md); training sessions held (培训指导).",
        routers=[router, search.router, trainings.router, candidates.router, kcs.router, faq.router],
        indexes=INDEXES,
        outbox_collections=[ARTICLES, CANDIDATES, TRAININGS, KCS_MEASURES],
        stamped_collections=STAMPED,
        publishes=["knowledge.article.published", "knowledge.article.archived", "knowledge.candidate.updated",
                   "knowledge.training.recorded", "knowledge.kcs.measured", catalog.SYNC_REQUESTED],
        subscriptions=lambda rt: [*handlers.subscriptions(rt), *catalog.subscriptions(rt), *packs.subscriptions(rt)],
        prepare=prepare,
        on_start=on_start,
        on_stop=on_stop,
    ))
