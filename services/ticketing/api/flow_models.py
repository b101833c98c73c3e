"""Request bodies of the flows of issue 8 beyond SPEC §5's actions: pending (待补充) and the requester's reply,
the hand-back of an upper tier's answer (产品经理反馈…由客服人员答复), and the merge of a duplicate."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from contracts.vocabulary import Cause
from services.ticketing.api.models import Strict


class PendingIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"needed": "请提供登录失败时的截图及手机号码，以便核实账号状态"}]})

    needed: str = Field(min_length=1, max_length=2000,
                        description="what the requester must supply (待补充内容); sent on to the requester")


class RequesterReplyIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"body": "截图已上传，登录手机号为13800000000，昨天下午开始无法登录"}]})

    body: str = Field(min_length=1, max_length=10_000, description="the requester's reply (用户补充的信息)")


class AnswerIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"answer": "该集团账号已被管理员停用，请联系集团管理员在管理后台重新启用后即可登录",
         "cause": "usage_misunderstanding"}]})

    answer: str = Field(min_length=1, max_length=10_000,
                        description="the answer proposed to the front line, which relays it (建议答复口径)")
    cause: Cause | None = Field(None, description="the cause found, if known")


class MergeIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"into": "TS-20261125-00042"}]})

    into: str = Field(min_length=1, max_length=40, description="the ticket this duplicate is closed into (合并到)")
