"""Knowledge articles and their KCS life: draft (work in progress) → published (validated) → archived.

Every change to an article — an edit, a publication, an archiving — makes a new version, and each version is
kept whole in the document's `versions` list with who made it and why (`note`), so that any past version stays
readable exactly as it was (SPEC §3) and any two can be compared (`diff`). `version` is also the article's optimistic-concurrency token (`If-Match`) and the `sequence` of the events
it emits. Reuse counts are not versions: they record how the article is used, not what it says.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from contracts.vocabulary import AUDIENCES_OF_ROLE, ArticleType, Audience, Role

ID_PREFIX = "KB"


class ArticleState(StrEnum):
    draft = "draft"          # 草稿
    published = "published"  # 已发布
    archived = "archived"    # 已归档


STATE_LABELS = {ArticleState.draft: "草稿", ArticleState.published: "已发布", ArticleState.archived: "已归档"}
TYPE_LABELS = {
    ArticleType.service_script: "客服口径", ArticleType.complaint_guide: "投诉指导手册", ArticleType.faq: "FAQ",
    ArticleType.manual: "操作手册", ArticleType.tariff: "资费表", ArticleType.training: "培训材料",
}

# action → (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[ArticleState], ArticleState]] = {
    "publish": (frozenset({ArticleState.draft}), ArticleState.published),
    "archive": (frozenset({ArticleState.draft, ArticleState.published}), ArticleState.archived),
}
EDITABLE = frozenset({ArticleState.draft, ArticleState.published})
# Fields a version snapshot holds: what the article said, to whom and in which state (plus by whom, when, why).
CONTENT = ("type", "product_code", "title", "body", "tags", "audience", "state")
# Fields two versions are compared on (type and product never change: moving an article is writing another).
DIFFED = ("title", "body", "tags", "audience", "state")
DEFAULT_AUDIENCE = Audience.internal
# Staff: the roles that read internal articles (vocabulary.AUDIENCES_OF_ROLE) — every role but a channel system
# and an account manager; vendors too, as the product's third line (SPEC §1). Work in progress (drafts) is for
# them only (issue 9: "published articles only unless a staff member asks for drafts").
STAFF = frozenset(role for role, audiences in AUDIENCES_OF_ROLE.items() if Audience.internal in audiences)
DRAFT_READERS = STAFF
READABLE_STATES = frozenset(ArticleState)
STATES_WITHOUT_DRAFTS = READABLE_STATES - {ArticleState.draft}


class IllegalTransition(Exception):
    def __init__(self, action: str, state: str):
        super().__init__(f"cannot {action} an article that is {state}")
        self.action, self.state = action, state


def article_id(number: int) -> str:
    return f"{ID_PREFIX}-{number:06d}"


def audience_of(doc: dict[str, Any]) -> str:
    """An article's (or a version's) audience; articles written before audiences existed are internal."""
    return doc.get("audience") or DEFAULT_AUDIENCE.value


def _snapshot(article: dict[str, Any], actor: str, at: datetime, note: str | None) -> dict[str, Any]:
    return {"version": article["version"], **{f: article[f] for f in CONTENT}, "changed_by": actor,
            "changed_at": at, "note": note}


def _with_version(article: dict[str, Any], changes: dict[str, Any], actor: str, at: datetime,
                  note: str | None) -> dict[str, Any]:
    new = {**article, "audience": audience_of(article), **changes, "version": article["version"] + 1,
           "updated_at": at, "updated_by": actor}
    return {**new, "versions": [*article["versions"], _snapshot(new, actor, at, note)]}


def new_article(id: str, *, type: ArticleType, product_code: str | None, title: str, body: str, tags: list[str],
                actor: str, at: datetime, audience: Audience | str = DEFAULT_AUDIENCE,
                note: str | None = None) -> dict[str, Any]:
    article = {
        "_id": id, "type": ArticleType(type).value, "product_code": product_code, "title": title, "body": body,
        "tags": _clean_tags(tags), "audience": Audience(audience).value, "state": ArticleState.draft.value,
        "version": 1, "created_at": at, "created_by": actor, "updated_at": at, "updated_by": actor,
        "published_at": None, "archived_at": None, "reuse_count": 0, "reuse_by_month": {}, "last_reused_at": None,
    }
    return {**article, "versions": [_snapshot(article, actor, at, note)]}


def edit(article: dict[str, Any], *, title: str, body: str, tags: list[str], actor: str, at: datetime,
         audience: Audience | str | None = None, note: str | None = None) -> dict[str, Any]:
    """A new version with new content (and audience, if given); the state stays (editing a published article
    keeps it published)."""
    if article["state"] not in EDITABLE:
        raise IllegalTransition("edit", article["state"])
    changes = {"title": title, "body": body, "tags": _clean_tags(tags)}
    if audience is not None:
        changes["audience"] = Audience(audience).value
    return _with_version(article, changes, actor, at, note)


def transition(article: dict[str, Any], action: str, *, actor: str, at: datetime,
               note: str | None = None) -> dict[str, Any]:
    sources, target = TRANSITIONS[action]
    if article["state"] not in sources:
        raise IllegalTransition(action, article["state"])
    return _with_version(article, {"state": target.value, f"{target.value}_at": at}, actor, at, note)


def snapshot_of(article: dict[str, Any], version: int) -> dict[str, Any] | None:
    """Version `version` as kept (content, state, who, when, why), or None if there is no such version."""
    for snapshot in article["versions"]:
        if snapshot["version"] == version:
            return {**snapshot, "audience": audience_of(snapshot), "note": snapshot.get("note")}
    return None


def at_version(article: dict[str, Any], version: int) -> dict[str, Any] | None:
    """The article as it was at `version` (what it said and its state then), or None if there is no such version."""
    snapshot = snapshot_of(article, version)
    if snapshot is None:
        return None
    return {**article, **{f: snapshot[f] for f in CONTENT}, "version": version,
            "updated_at": snapshot["changed_at"], "updated_by": snapshot["changed_by"]}


# --- who reads what ------------------------------------------------------------------------------------------
#
# The one rule of who reads which article. `reach` says what a principal reads, per field (audience, state and,
# for a vendor, product); `readable` judges one document by it, `visibility_query` makes it a store filter,
# `Reach.fields` the search index's, and `narrowed` applies what a caller asks for (`audience=`, `state=`,
# `include_drafts=`, `product_code=`) — asking for more than one's reach is refused (`OutOfReach`, a 403 naming
# the parameter), never silently answered with nothing.
#
# A vendor (厂家) is the third line of the products it supplies, and of those only (SPEC §1): it reads the
# knowledge of the products whose vendor, as lifecycle's catalog announces it (kit/catalog.py), is its own
# `vendor` claim. A product whose vendor knowledge does not know is none of its products, and neither is a
# general article (no product). A principal holding another staff role as well (an agent who is also a vendor) is
# not bound so: that role reads every product.


class OutOfReach(Exception):
    """A filter asked for what the principal may not read: `parameter` names the query parameter."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter, self.message = parameter, message


# Roles that read the knowledge of every product (the staff but vendors).
EVERY_PRODUCT = STAFF - {Role.vendor}


def vendor_bound(roles: Iterable[Role | str]) -> bool:
    """Whether what a principal reads is limited to the products of its vendor id."""
    held = {Role(role) for role in roles}
    return Role.vendor in held and not held & EVERY_PRODUCT


def audiences_of(roles: Iterable[Role | str]) -> frozenset[str]:
    """The audiences a principal reads: the union over its roles (SPEC §1, vocabulary.AUDIENCES_OF_ROLE)."""
    found: set[str] = set()
    for role in roles:
        found |= {a.value for a in AUDIENCES_OF_ROLE.get(Role(role), frozenset())}
    return frozenset(found)


def reads_drafts(roles: Iterable[Role | str]) -> bool:
    return any(Role(role) in DRAFT_READERS for role in roles)


@dataclass(frozen=True)
class Reach:
    """What one principal reads: articles whose audience is one of `audience`, whose state is one of `state`
    and, unless `product_code` is None (every product, general articles included), whose product is one of
    `product_code`."""

    audience: frozenset[str]
    state: frozenset[str]
    product_code: frozenset[str] | None = None

    def fields(self) -> dict[str, frozenset[str]]:
        """Field → allowed values: what the search index filters on (api/search.py)."""
        return {"audience": self.audience, "state": self.state,
                **({} if self.product_code is None else {"product_code": self.product_code})}

    def admits_product(self, product_code: str | None) -> bool:
        return self.product_code is None or product_code in self.product_code


def reach(roles: Iterable[Role | str], *, supplied: Iterable[str] | None) -> Reach:
    """What a principal with `roles` reads. `supplied`: the codes of the products whose vendor is the principal's
    (the catalog's `vendor`), asked of the store by the caller when `vendor_bound(roles)`; ignored otherwise."""
    roles = list(roles)
    states = READABLE_STATES if reads_drafts(roles) else STATES_WITHOUT_DRAFTS
    products = None
    if vendor_bound(roles):
        if supplied is None:
            raise ValueError("a vendor's reach needs the products it supplies")
        products = frozenset(supplied)
    return Reach(audience=audiences_of(roles), state=frozenset(s.value for s in states), product_code=products)


def readable(doc: dict[str, Any], allowed: Reach, *, product_code: str | None = None) -> bool:
    """Whether a principal of reach `allowed` may read this article or version: its audience is one of theirs,
    its state (a draft only if they read drafts) and its product (a vendor's own). A version snapshot carries
    no product: pass the article's as `product_code`. Anything else is, to them, not there (404, absent from
    lists)."""
    product = doc["product_code"] if "product_code" in doc else product_code
    return audience_of(doc) in allowed.audience and doc["state"] in allowed.state and allowed.admits_product(product)


def visibility_query(allowed: Reach) -> dict[str, Any]:
    """The store filter equal to `readable` (empty for staff, who read everything). None when nothing can match
    (a vendor that supplies no product known here): the caller answers nothing without asking the store."""
    query: dict[str, Any] = {}
    if allowed.audience != {a.value for a in Audience}:
        query["audience"] = _one_of(sorted(allowed.audience))
    if allowed.state != {s.value for s in ArticleState}:
        query["state"] = _one_of([s.value for s in ArticleState if s.value in allowed.state])
    if allowed.product_code is not None:
        if not allowed.product_code:
            return None
        query["product_code"] = _one_of(sorted(allowed.product_code))
    return query


def _one_of(values: list[str]) -> dict[str, Any]:
    # one value as `$eq`, the comparison an index serves on both stores (kit/store.py `eq`)
    return {"$eq": values[0]} if len(values) == 1 else {"$in": values}


def narrowed(allowed: Reach, *, audience: str | None = None, states: Iterable[str] | None = None,
             product_code: str | None = None, states_parameter: str = "state") -> Reach:
    """`allowed` narrowed to what a caller asks for; OutOfReach when they ask for what they may not read: an
    audience not theirs, a state they do not read (drafts, for those who are not staff: `states_parameter`
    names how they asked, `state` on lists, `include_drafts` on search), a product not theirs (a vendor's)."""
    if audience is not None:
        if audience not in allowed.audience:
            raise OutOfReach("audience", f"articles for {audience} are not readable by you (you read: "
                                         f"{', '.join(sorted(allowed.audience))})")
        allowed = replace(allowed, audience=frozenset({audience}))
    if states is not None:
        states = frozenset(states)
        if not states <= allowed.state:
            refused = ", ".join(s for s in sorted(states - allowed.state))
            raise OutOfReach(states_parameter, f"{refused} articles are for the centre's staff only")
        allowed = replace(allowed, state=states)
    if product_code is not None:
        if not allowed.admits_product(product_code):
            raise OutOfReach("product_code", f"{product_code} is not a product of your vendor id")
        allowed = replace(allowed, product_code=frozenset({product_code}))
    return allowed


# --- comparing two versions ----------------------------------------------------------------------------------


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two versions (snapshots) compared field by field: for each of DIFFED whether it changed and its two
    values; the body also as a unified diff and as structured line changes (difflib)."""
    fields: dict[str, Any] = {}
    for field in DIFFED:
        before, after = (audience_of(old), audience_of(new)) if field == "audience" else (old[field], new[field])
        entry: dict[str, Any] = {"changed": before != after, "from": before, "to": after}
        if field == "tags":
            entry |= {"added": [t for t in after if t not in before], "removed": [t for t in before if t not in after]}
        fields[field] = entry
    body = fields.pop("body")
    old_lines, new_lines = old["body"].splitlines(), new["body"].splitlines()
    unified = "\n".join(difflib.unified_diff(old_lines, new_lines, fromfile=f"v{old['version']}",
                                             tofile=f"v{new['version']}", lineterm=""))
    fields["body"] = {"changed": body["changed"], "unified": unified, "changes": line_changes(old_lines, new_lines)}
    return {field: fields[field] for field in DIFFED}


def line_changes(old_lines: list[str], new_lines: list[str]) -> list[dict[str, Any]]:
    """What differs between two texts' lines, one entry per changed block: op (insert, delete, replace), where
    it starts on each side (1-based line number and line count, as a unified diff's hunk header counts) and the
    lines removed and added."""
    changes = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        changes.append({"op": op, "from_line": i1 + 1, "from_count": i2 - i1, "to_line": j1 + 1,
                        "to_count": j2 - j1, "removed": old_lines[i1:i2], "added": new_lines[j1:j2]})
    return changes


def count_reuse(article: dict[str, Any], month: str, at: datetime) -> dict[str, Any]:
    """The article after one more closed ticket answered from it, counted in total and in `month` (YYYY-MM,
    Asia/Shanghai). Whether that ticket is already counted is answered by its `closures` record
    (events/handlers.py), not by a list of tickets on the article, which would grow without bound."""
    last = article.get("last_reused_at")
    by_month = dict(article.get("reuse_by_month") or {})
    by_month[month] = by_month.get(month, 0) + 1
    return {**article, "reuse_count": article["reuse_count"] + 1, "reuse_by_month": by_month,
            "last_reused_at": at if last is None else max(last, at)}


def _clean_tags(tags: list[str]) -> list[str]:
    seen: list[str] = []
    for tag in (t.strip() for t in tags):
        if tag and tag not in seen:
            seen.append(tag)
    return seen
