"""Request and response bodies of knowledge's search, suggestions and synonyms (docs/knowledge-search.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.vocabulary import ArticleType, Audience
from services.knowledge.api.models import AUDIENCE_HELP

Span = Annotated[list[int], Field(min_length=2, max_length=2, description="[start, end) character offsets")]
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


class SearchHit(BaseModel):
    id: str = Field(description="知识编号")
    type: ArticleType
    type_label: str = Field(description="类型中文名")
    product_code: str | None = Field(description="产品编码")
    title: str = Field(description="标题")
    title_highlights: list[Span] = Field(description="matched words in the title: [start, end) offsets")
    snippet: str = Field(description="the best-matching passage of the body (… where cut)")
    highlights: list[Span] = Field(description="matched words in the snippet: [start, end) offsets into `snippet`")
    audience: Audience = Field(description=AUDIENCE_HELP)
    state: str = Field(description="published, or draft when include_drafts=true")
    version: int
    score: float = Field(description="BM25F score (comparable within one answer only)")


class SearchPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{"id": "KB-000012", "type": "faq", "type_label": "FAQ", "product_code": "mobile_office",
                   "title": "移动办公无法登录怎么办？", "title_highlights": [[4, 8]],
                   "snippet": "……收不到验证码时请检查是否被手机安全软件拦截……", "highlights": [[0, 3]],
                   "audience": "customer", "state": "published", "version": 3, "score": 7.41}],
        "next_cursor": None, "total": 1, "words": ["移动办公", "登不上"],
        "expanded": {"登不上": ["无法登录", "登录不了", "登录失败"]}}]})

    items: list[SearchHit]
    next_cursor: str | None
    total: int = Field(description="how many articles matched, of those the caller may read")
    words: list[str] = Field(description="the words the query was cut into (after dropping filler words)")
    expanded: dict[str, list[str]] = Field(description="the synonyms each word brought in")


class SuggestedArticle(BaseModel):
    id: str
    title: str
    type: ArticleType
    type_label: str
    product_code: str | None
    snippet: str
    highlights: list[Span]
    score: float


class SuggestedAnswer(BaseModel):
    candidate_id: str
    question: str = Field(description="the candidate's question (问题)")
    answer: str = Field(description="the answer given most often to it (答复)")
    answer_count: int = Field(description="tickets closed with this answer")
    occurrences: int = Field(description="出现次数: tickets that asked the question")
    type: ArticleType
    score: float = Field(description="text score × occurrences")


class Suggestions(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "articles": [{"id": "KB-000031", "title": "通讯录批量导入报错的答复口径", "type": "service_script",
                      "type_label": "客服口径", "product_code": "group_directory",
                      "snippet": "模板的列顺序不能修改，请重新下载最新模板填写。", "highlights": [[12, 14]],
                      "score": 9.12}],
        "answers": [{"candidate_id": "group_directory:service_script:1f3a9c", "question": "通讯录导入失败",
                     "answer": "请使用后台下载的最新模板，手机号列不要有空格。", "answer_count": 14,
                     "occurrences": 23, "type": "service_script", "score": 96.6}],
        "words": ["通讯录", "导不进"]}]})

    articles: list[SuggestedArticle] = Field(description="the best published articles for the text")
    answers: list[SuggestedAnswer] = Field(description="the most frequent answers of open candidates "
                                                       "(staff only: empty for account managers)")
    words: list[str]


class SynonymsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"groups": [["资费", "收费", "多少钱", "价格"], ["补卡", "补办"], ["登不上", "无法登录", "登录不了", "登录失败"]]},
    ]})

    groups: list[list[Word]] = Field(max_length=500, description="同义词组: each a list of words that mean the same "
                                                                 "to a requester; a word in one group only")


class SynonymsOut(BaseModel):
    groups: list[list[str]]
    version: int = Field(description="send it back in If-Match to change the synonyms")
    updated_at: datetime
    updated_by: str
