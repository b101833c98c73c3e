"""Request and response bodies of the knowledge API (SPEC §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.vocabulary import ArticleType, Audience
from services.knowledge.domain.articles import ArticleState

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
AUDIENCE_HELP = ("读者: internal 内部员工 (staff and vendors), account_manager 客户经理 (and staff), "
                 "customer 客户 (everyone, channels included)")


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"type": "service_script", "product_code": "mobile_office", "title": "移动办公审批提交失败的答复口径",
         "body": "用户反映审批提交提示“网络异常”时：1. 请用户确认客户端版本，低于3.2.5的请先升级；"
                 "2. 升级后仍失败的，记录集团名称与手机号，转产品经理核查。",
         "tags": ["审批", "客户端升级"], "note": "根据近期审批失败工单整理"},
        {"type": "faq", "product_code": "group_directory", "title": "集团通讯录如何批量导入员工？",
         "body": "登录管理后台→通讯录管理→批量导入，下载Excel模板按列填写后上传，单次最多导入5000人。",
         "tags": ["批量导入"], "audience": "customer"},
        {"type": "training", "title": "投诉受理与升级规范（2026版）",
         "body": "投诉应在4个工作小时内首次响应，5个工作日内答复，处理期间每个工作日向投诉人通报进度。"},
    ]})

    type: ArticleType = Field(description="类型: service_script 客服口径, complaint_guide 投诉指导手册, faq, manual 操作手册, "
                                          "tariff 资费表, training 培训材料")
    product_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = \
        Field(None, description="产品编码; 空 = 通用 (not tied to one product)")
    title: Annotated[Text, StringConstraints(max_length=200)] = Field(description="标题")
    body: Annotated[Text, StringConstraints(max_length=50_000)] = Field(description="正文")
    tags: list[Tag] = Field(default_factory=list, max_length=20, description="标签")
    audience: Audience = Field(Audience.internal, description=AUDIENCE_HELP)
    note: Note | None = Field(None, description="说明: why it was written (kept with version 1)")


class ArticleEdit(BaseModel):
    """A new version's content. Type and product stay: moving an article is archiving it and writing another."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"title": "移动办公审批提交失败的答复口径",
         "body": "用户反映审批提交提示“网络异常”时：1. 请用户确认客户端版本，低于3.2.5的请先升级；"
                 "2. 升级方法：应用商店搜索“移动办公”更新，或扫描管理后台首页的二维码下载；"
                 "3. 升级后仍失败的，记录集团名称与手机号，转产品经理核查。",
         "tags": ["审批", "客户端升级"], "audience": "account_manager", "note": "补充升级方法，客户经理可直接转告客户"},
    ]})

    title: Annotated[Text, StringConstraints(max_length=200)] = Field(description="标题")
    body: Annotated[Text, StringConstraints(max_length=50_000)] = Field(description="正文")
    tags: list[Tag] = Field(default_factory=list, max_length=20, description="标签")
    audience: Audience | None = Field(None, description=AUDIENCE_HELP + "; absent: unchanged")
    note: Note = Field(description="修改说明: why this version (shown in `versions`)")


class ArticleAction(BaseModel):
    """Why an article is published or archived (optional body of both)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"note": "经产品经理核对，与3.2.5版本客户端一致"},
        {"note": "产品下线，口径不再适用"},
    ]})

    note: Note | None = Field(None, description="说明: why (kept in the version and shown in `versions`)")


class ArticleVersionInfo(BaseModel):
    version: int = Field(description="版本")
    state: ArticleState = Field(description="该版本的状态")
    audience: Audience = Field(description="该版本的读者")
    changed_by: str = Field(description="修改人")
    changed_at: datetime = Field(description="修改时间")
    note: str | None = Field(description="修改说明 (why)")


class ArticleOut(BaseModel):
    id: str = Field(description="知识编号, e.g. KB-000123")
    type: ArticleType
    type_label: str = Field(description="类型中文名")
    product_code: str | None = Field(description="产品编码")
    title: str = Field(description="标题")
    body: str = Field(description="正文")
    tags: list[str] = Field(description="标签")
    audience: Audience = Field(description=AUDIENCE_HELP)
    audience_label: str = Field(description="读者中文名")
    state: ArticleState = Field(description="状态: draft 草稿, published 已发布, archived 已归档")
    state_label: str = Field(description="状态中文名")
    version: int = Field(description="this answer's version (the latest unless ?version= asked for another)")
    latest_version: int = Field(description="最新版本")
    created_at: datetime
    created_by: str
    updated_at: datetime = Field(description="when this version was made")
    updated_by: str = Field(description="who made this version")
    published_at: datetime | None = Field(description="发布时间 (latest)")
    archived_at: datetime | None = Field(description="归档时间")
    reuse_count: int = Field(description="复用次数: closed tickets answered from this article")
    reuse_by_month: dict[str, int] = Field(description="复用次数 per month (YYYY-MM, Asia/Shanghai)",
                                           examples=[{"2026-02": 12, "2026-03": 31}])
    versions: list[ArticleVersionInfo] = Field(description="历史版本 you may read, oldest first; read one with "
                                                           "?version=, compare two with /diff")


class FieldDiff(BaseModel):
    changed: bool
    from_: Any = Field(alias="from", description="value in version `from`")
    to: Any = Field(description="value in version `to`")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class TagsDiff(FieldDiff):
    added: list[str]
    removed: list[str]


class LineChange(BaseModel):
    op: Literal["insert", "delete", "replace"]
    from_line: int = Field(description="first line in version `from` (1-based)")
    from_count: int = Field(description="lines of version `from` changed")
    to_line: int = Field(description="first line in version `to` (1-based)")
    to_count: int = Field(description="lines of version `to` changed")
    removed: list[str]
    added: list[str]


class BodyDiff(BaseModel):
    changed: bool
    unified: str = Field(description="unified diff (difflib) of the bodies, empty when equal")
    changes: list[LineChange] = Field(description="the same as structured line changes")


class DiffFields(BaseModel):
    title: FieldDiff
    body: BodyDiff
    tags: TagsDiff
    audience: FieldDiff
    state: FieldDiff


class ArticleDiff(BaseModel):
    article_id: str
    from_version: ArticleVersionInfo
    to_version: ArticleVersionInfo
    fields: DiffFields


class ArticlePage(BaseModel):
    items: list[ArticleOut]
    next_cursor: str | None


class CandidateAnswer(BaseModel):
    answer: str = Field(description="答复")
    count: int = Field(description="tickets closed with this answer (a requester accepted it)")


class CandidateQuestion(BaseModel):
    question: str = Field(description="问题的一种问法 (a ticket title)")
    count: int = Field(description="tickets asked this way")


class CandidateDecision(BaseModel):
    state: str = Field(description="promoted | dismissed")
    by: str | None = Field(description="产品经理 (sub)")
    at: datetime | None
    reason: str | None = Field(None, description="驳回原因 (dismissed)")
    article_id: str | None = Field(None, description="the article it became or updated (promoted)")
    article_version: int | None = Field(None, description="that article's version made by the promotion")
    mode: str | None = Field(None, description="new | version (promoted)")


class CandidateOut(BaseModel):
    id: str = Field(description="<product_code>:<type>:<hash of the normalised question>")
    product_code: str = Field(description="产品编码")
    type: ArticleType = Field(description="the article type it would become (客服口径 / FAQ / 投诉指导手册)")
    type_label: str = Field(description="类型中文名")
    question: str = Field(description="问题: the most frequent phrasing")
    normalised_question: str = Field(description="the first ticket's title, normalised (what the id hashes)")
    questions: list[CandidateQuestion] = Field(description="distinct phrasings, most frequent first (at most 10)")
    answers: list[CandidateAnswer] = Field(description="distinct accepted answers, most frequent first (at most 10)")
    occurrences: int = Field(description="出现次数: every ticket counted, however many")
    ticket_ids: list[str] = Field(description="工单编号: the latest tickets (at most 20), oldest first")
    first_seen: datetime
    last_seen: datetime
    state: str = Field(description="open 待处理 | promoted 已转为知识 | dismissed 已驳回")
    decision: CandidateDecision | None = Field(None, description="who promoted or dismissed it, when, and how")
    version: int


class CandidatePage(BaseModel):
    items: list[CandidateOut]
    next_cursor: str | None
