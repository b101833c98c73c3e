"""How the stage machine's own records read on the timeline (store/timeline.py)."""

from services.lifecycle.domain.documents import DOCUMENT_LABELS
from services.lifecycle.store.collections import DECISIONS, DOCUMENTS
from services.lifecycle.store.timeline import Source, register

_OUTCOMES = {"approved": "通过", "rejected": "不通过"}
_KINDS = {"review": "评审决策", "decision_meeting": "决策会"}

register(
    Source(DOCUMENTS, "document", "文档", by_field="owner",
           summary=lambda d: f"{DOCUMENT_LABELS[d['type']]} v{d['version']}《{d['title']}》"
                             + ("（已审核）" if d["approved"] else "（待审核）"),
           detail=lambda d: {"type": d["type"], "version": d["version"], "ref": d["ref"], "approved": d["approved"]}),
    Source(DECISIONS, "decision", "决策",
           summary=lambda d: f"{_KINDS[d['kind']]}：{_OUTCOMES[d['outcome']]}（{'、'.join(d['participants'])}）",
           detail=lambda d: {"kind": d["kind"], "outcome": d["outcome"], "participants": d["participants"]}),
)
