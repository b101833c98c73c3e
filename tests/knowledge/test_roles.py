"""Every knowledge route × every role × in scope / out of scope (SPEC §1, issue 9), against the real store.

The table below is written from SPEC §1 and issue 9 by hand, not read from the routes' dependencies, so that a
change of the code's rules that the specification does not make fails here. One row per route (a route whose
answer depends on what it is asked about has one row per case, e.g. reading a customer article and an internal
draft). Each case gets what its row needs, made by an admin, then calls the route as the role: an allowed role
gets a 2xx, anyone else the row's refusal (403; 404 where the article is, to that role, not there).

Scope in knowledge is the product manager's `products` and the vendor's `vendor`. A product manager validates
(publishes, archives), writes and records trainings for their own products only, and reads everything. A vendor
reads the knowledge (articles, versions, diffs, search, trainings) of the products whose vendor lifecycle's
catalog names as theirs (PRODUCT is vendor-a's, announced by the fixture): out of scope (vendor-b) asking for
PRODUCT is a 403 naming `product_code`, reading one of its articles or trainings a 404 (not there, to them). The
claims of the other scoped roles (an account manager's city, a channel's sub) decide nothing here — what an account
manager or a channel reads is decided by the article's audience, and the out-of-scope case of those roles expects
what the in-scope one does. `test_the_table_covers_every_route_of_the_app` keeps the table complete: a new /v1
route without a row fails it (to add one: one `Route(...)` line, and a `prepare` state if it needs something made
first).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from services.knowledge.domain.synonyms import DEFAULT_GROUPS
from services.knowledge.main import create
from services.knowledge.settings import Settings
from tests.knowledge.catalog import announce
from tests.knowledge.test_api import closed_event
from tests.support import eventually, publish, role_cases, running, settings_for, token, v1_routes

PRODUCT = "p_kroles_" + uuid.uuid4().hex[:6]

# role → (claims in scope, claims out of scope); None: the role has no scope
SCOPES: dict[str, tuple[dict, dict] | None] = {
    "intake": ({"sub": "intake-1"}, {"sub": "intake-2"}),
    "account_manager": ({"city": "济南", "sub": "am-jn"}, {"city": "青岛", "sub": "am-qd"}),
    "product_manager": ({"products": [PRODUCT], "sub": "pm-1"}, {"products": ["another_product"], "sub": "pm-2"}),
    "vendor": ({"vendor": "vendor-a", "sub": "vendor-a-1"}, {"vendor": "vendor-b", "sub": "vendor-b-1"}),
    "agent": None, "complaint_handler": None, "ops_engineer": None, "analyst": None, "admin": None,
}
EVERYONE = tuple(SCOPES)
SCOPE_BLIND = ("intake", "account_manager")  # scoped roles whose claims knowledge does not look at
# SPEC §1: the front line answers from the scripts and writes them, the product manager owns them
AUTHORS = ("agent", "complaint_handler", "product_manager", "admin")
VALIDATORS = ("product_manager", "admin")  # issue 9: publish and archive
# issue 9: drafts and trainings are for the centre's staff, not for channel systems nor account managers
STAFF = tuple(r for r in EVERYONE if r not in ("intake", "account_manager"))
# issue 9: a vendor reads the knowledge of its own products only; everyone else who reads, reads every product
EVERY_PRODUCT = tuple(r for r in EVERYONE if r != "vendor")
STAFF_EVERY_PRODUCT = tuple(r for r in STAFF if r != "vendor")
OURS = {"product_code": PRODUCT}
CANDIDATE_READERS = ("agent", "complaint_handler", "product_manager", "analyst", "admin")
# issue 9: suggestions are for those who answer tickets from the scripts — the front line, the product manager
# (second line) and account managers; not channels, analysts nor vendors (who answer only what is escalated to them)
SUGGESTION_USERS = ("agent", "ops_engineer", "complaint_handler", "product_manager", "account_manager", "admin")
ADMIN = ("admin",)  # SPEC §1: the admin keeps the catalog's data; synonyms are data an admin edits (issue 9)
# SPEC §1: analysts (metrics) and the centre's staff read the KCS figures; not channels, account managers nor vendors
KCS_READERS = ("agent", "ops_engineer", "complaint_handler", "product_manager", "analyst", "admin")
# issue 9 point 5: the monthly FAQ is for the front line, the product manager, analysts (客服分析) and the account
# managers the cities download it for; not channels nor vendors
FAQ_READERS = ("agent", "ops_engineer", "complaint_handler", "product_manager", "analyst", "account_manager",
               "admin")
MONTH = "2026-03"  # the month of test_api.closed_event's closes

ARTICLE = {"type": "faq", "product_code": PRODUCT, "title": "集团通讯录如何批量导入员工？",
           "body": "管理后台→通讯录管理→批量导入，按模板填写后上传。", "tags": ["批量导入"]}
EDIT = {"title": "集团通讯录如何批量导入员工？", "body": "管理后台→通讯录管理→批量导入；单次最多5000人。",
        "note": "角色测试：补充上限"}
TRAINING = {"product_code": PRODUCT, "held_on": "2026-03-12", "cities": ["济南"], "audience": "客户经理",
            "attendance": 20}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # the app's own path template, filled from what `prepare` made (article_id, ...)
    state: str  # what must exist before the call (see prepare)
    allowed: tuple[str, ...]  # roles that may, in scope
    body: dict | None = None
    params: dict = field(default_factory=dict)
    if_match: bool = False  # send If-Match with the version prepare made
    unscoped: tuple[str, ...] = ()  # roles that may even out of their scope (reads: they concern no product)
    refused: int = 403  # what a role that may not gets
    refused_out_of_scope: int | None = None  # what a role allowed in scope gets outside it (default: `refused`)


ROUTES = [
    Route("write", "POST", "/v1/articles", "none", AUTHORS, ARTICLE),
    Route("list", "GET", "/v1/articles", "none", EVERYONE, params=OURS, unscoped=EVERY_PRODUCT),
    Route("read-customer", "GET", "/v1/articles/{article_id}", "published_customer", EVERYONE,
          unscoped=EVERY_PRODUCT, refused=404),
    Route("read-draft", "GET", "/v1/articles/{article_id}", "draft", STAFF, unscoped=STAFF_EVERY_PRODUCT,
          refused=404),
    Route("read-version", "GET", "/v1/articles/{article_id}", "published_customer", EVERYONE,
          params={"version": 2}, unscoped=EVERY_PRODUCT, refused=404),
    Route("diff-customer", "GET", "/v1/articles/{article_id}/diff", "published_customer", EVERYONE,
          params={"from": 2, "to": 2}, unscoped=EVERY_PRODUCT, refused=404),
    Route("diff-draft", "GET", "/v1/articles/{article_id}/diff", "draft", STAFF, params={"from": 1, "to": 1},
          unscoped=STAFF_EVERY_PRODUCT, refused=404),
    Route("edit", "PUT", "/v1/articles/{article_id}", "draft", AUTHORS, EDIT, if_match=True),
    Route("publish", "POST", "/v1/articles/{article_id}/publish", "draft", VALIDATORS, {"note": "角色测试：发布"},
          if_match=True),
    Route("archive", "POST", "/v1/articles/{article_id}/archive", "draft", VALIDATORS, {"note": "角色测试：归档"},
          if_match=True),
    Route("candidates", "GET", "/v1/candidates", "none", CANDIDATE_READERS, unscoped=CANDIDATE_READERS),
    Route("candidate", "GET", "/v1/candidates/{candidate_id}", "none", CANDIDATE_READERS,
          unscoped=CANDIDATE_READERS),
    Route("candidates-by-state", "GET", "/v1/candidates", "none", CANDIDATE_READERS, params={"state": "all"},
          unscoped=CANDIDATE_READERS),
    # SPEC §1: the product manager owns the scripts, handbook and FAQ: they decide a candidate of their products
    Route("promote", "POST", "/v1/candidates/{candidate_id}/promote", "open_candidate", VALIDATORS,
          {"mode": "new", "note": "角色测试：提升"}),
    Route("dismiss", "POST", "/v1/candidates/{candidate_id}/dismiss", "open_candidate", VALIDATORS,
          {"reason": "角色测试：个案"}),
    # a product manager reads the figures of their own products only (the other staff: every product)
    Route("kcs-measures", "GET", "/v1/kcs/measures", "none", KCS_READERS, params={"product_code": PRODUCT},
          unscoped=tuple(r for r in KCS_READERS if r != "product_manager")),
    Route("monthly-faq", "GET", "/v1/faq/monthly/{month}", "none", FAQ_READERS, params={"product_code": PRODUCT},
          unscoped=FAQ_READERS),
    Route("publish-monthly-faq", "POST", "/v1/faq/monthly/{month}/publish", "month_faq", VALIDATORS,
          params={"product_code": PRODUCT}, if_match=True),
    Route("record-training", "POST", "/v1/trainings", "none", VALIDATORS, TRAINING),
    Route("trainings", "GET", "/v1/trainings", "none", STAFF, params=OURS, unscoped=STAFF_EVERY_PRODUCT),
    Route("training", "GET", "/v1/trainings/{training_id}", "none", STAFF, unscoped=STAFF_EVERY_PRODUCT,
          refused_out_of_scope=404),
    # issue 9: search is for everyone, over what their audiences read; drafts only when staff ask for them
    Route("search", "GET", "/v1/search", "none", EVERYONE, params={"q": "批量导入", **OURS},
          unscoped=EVERY_PRODUCT),
    Route("search-drafts", "GET", "/v1/search", "none", STAFF,
          params={"q": "批量导入", "include_drafts": "true", **OURS}, unscoped=STAFF_EVERY_PRODUCT),
    Route("suggestions", "GET", "/v1/suggestions", "none", SUGGESTION_USERS, params={"q": "通讯录导入失败"},
          unscoped=SUGGESTION_USERS),
    Route("synonyms", "GET", "/v1/synonyms", "none", STAFF, unscoped=STAFF),
    Route("replace-synonyms", "PUT", "/v1/synonyms", "synonyms", ADMIN,
          {"groups": [list(group) for group in DEFAULT_GROUPS]}, if_match=True),
]


def cases():
    return role_cases(ROUTES, SCOPES, lambda route, role: role in route.allowed and (
        role in SCOPE_BLIND or role in route.unscoped))


def test_the_table_covers_every_route_of_the_app():
    """A /v1 route added to knowledge without a row here fails this test, so none escapes the matrix."""
    served = v1_routes(create(Settings(auth_secret="x")))
    assert len(served) >= 10, "the app's routes were not found"
    tabled = {(route.method, route.path) for route in ROUTES}
    assert served - tabled == set(), "routes without a row in the role matrix"
    assert tabled - served == set(), "rows of the role matrix for routes the app does not serve"


@pytest.fixture(scope="module")
async def api(infra):
    async with running(create(settings_for(Settings, infra, "knowledge-roles"))) as client:
        admin = token(infra, "admin", sub="admin-1")
        await announce(infra, "knowledge-roles", PRODUCT, "vendor-a")  # lifecycle's catalog: vendor-a supplies it
        event = closed_event(PRODUCT, title="角色测试的问题")
        await publish(infra, event)

        async def candidate():
            r = await client.get("/v1/candidates", params={"product_code": PRODUCT}, headers=admin)
            return r.json()["items"] or None

        [found] = await eventually(candidate, what="a candidate of the product")
        r = await client.post("/v1/trainings", json=TRAINING, headers=admin)
        assert r.status_code == 201, r.text
        client.made = {"candidate_id": found["id"], "training_id": r.json()["id"], "month": MONTH}
        yield client


async def prepare(client, infra, state: str) -> dict:
    """What the call needs, made by an admin: nothing more than the fixture's candidate and training ("none"), an
    internal draft of PRODUCT at version 1 ("draft"), an article for customers published at version 2
    ("published_customer"), the synonyms' current version ("synonyms"), an open candidate of PRODUCT of the
    case's own ("open_candidate"), or the month's faq article and its current version ("month_faq")."""
    made = dict(client.made)
    if state == "none":
        return made
    admin = token(infra, "admin", sub="admin-1")
    if state == "open_candidate":  # a candidate of its own: promote and dismiss decide it
        title = f"q{uuid.uuid4().hex[:8]} r{uuid.uuid4().hex[:8]}"  # shares no word with another case's
        await publish(infra, closed_event(PRODUCT, title=title))

        async def grown():
            r = await client.get("/v1/candidates", params={"product_code": PRODUCT, "limit": 200}, headers=admin)
            return [c["id"] for c in r.json()["items"] if c["question"] == title]

        [candidate_id] = await eventually(grown, what="the case's candidate")
        return {**made, "candidate_id": candidate_id}
    if state == "month_faq":  # the month's faq article exists (made by the first case): a publish is a new version
        if "faq_article_id" not in client.made:
            r = await client.post(f"/v1/faq/monthly/{MONTH}/publish", params={"product_code": PRODUCT}, headers=admin)
            assert r.status_code == 201, r.text
            client.made["faq_article_id"] = r.json()["article_id"]
        r = await client.get(f"/v1/articles/{client.made['faq_article_id']}", headers=admin)
        return {**made, "version": r.json()["version"]}
    if state == "synonyms":
        r = await client.get("/v1/synonyms", headers=admin)
        assert r.status_code == 200, r.text
        return {**made, "version": r.json()["version"]}
    audience = "customer" if state == "published_customer" else "internal"
    r = await client.post("/v1/articles", json={**ARTICLE, "audience": audience}, headers=admin)
    assert r.status_code == 201, r.text
    article = r.json()
    if state == "published_customer":
        r = await client.post(f"/v1/articles/{article['id']}/publish", headers={**admin, "If-Match": "1"})
        assert r.status_code == 200, r.text
        article = r.json()
    return {**made, "article_id": article["id"], "version": article["version"]}


@pytest.mark.parametrize("route,role,claims,allowed", list(cases()))
async def test_route_role_scope(api, infra, route: Route, role: str, claims: dict, allowed: bool):
    made = await prepare(api, infra, route.state)
    headers = token(infra, role, **claims)
    if route.if_match:
        headers["If-Match"] = f'"{made["version"]}"'
    r = await api.request(route.method, route.path.format(**made), json=route.body, params=route.params,
                          headers=headers)
    if allowed:
        assert 200 <= r.status_code < 300, (r.status_code, r.text)
    else:
        out_of_scope = SCOPES.get(role) is not None and claims == SCOPES[role][1] and role in route.allowed
        refused = route.refused_out_of_scope if out_of_scope and route.refused_out_of_scope else route.refused
        assert r.status_code == refused, (r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
