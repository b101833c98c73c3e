"""The domain vocabulary of SPEC §3: API values are the English words, labels are the Chinese ones."""

from enum import StrEnum


class Kind(StrEnum):
    consultation = "consultation"
    complaint = "complaint"
    suggestion = "suggestion"
    fault = "fault"


KIND_LABELS = {Kind.consultation: "咨询", Kind.complaint: "投诉", Kind.suggestion: "建议", Kind.fault: "故障"}
# Readable ticket id prefixes (pinyin initials): ZX 咨询, TS 投诉, JY 建议, GZ 故障.
KIND_ID_PREFIX = {Kind.consultation: "ZX", Kind.complaint: "TS", Kind.suggestion: "JY", Kind.fault: "GZ"}


class Channel(StrEnum):
    account_manager = "account_manager"
    product_owner = "product_owner"
    call_center = "call_center"
    customer = "customer"


CITIES: tuple[str, ...] = (
    "济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁",
    "泰安", "威海", "日照", "临沂", "德州", "聊城", "滨州", "菏泽",
)


class Industry(StrEnum):
    government = "government"
    education = "education"
    healthcare = "healthcare"
    finance = "finance"
    manufacturing = "manufacturing"
    transport = "transport"
    retail = "retail"
    agriculture = "agriculture"
    energy = "energy"
    other = "other"


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class TicketStatus(StrEnum):
    new = "new"                  # 受理/建档
    in_progress = "in_progress"  # 初步处理
    pending = "pending"          # 待补充
    escalated = "escalated"      # 转产品经理/厂家
    resolved = "resolved"        # 答复, waiting for feedback
    closed = "closed"            # 满意, 归档


STATUS_LABELS = {
    TicketStatus.new: "受理",
    TicketStatus.in_progress: "处理中",
    TicketStatus.pending: "待补充",
    TicketStatus.escalated: "已转派",
    TicketStatus.resolved: "已答复",
    TicketStatus.closed: "已归档",
}


class Cause(StrEnum):
    usage_misunderstanding = "usage_misunderstanding"  # 理解偏差
    billing_error = "billing_error"                    # 计费问题
    product_defect = "product_defect"                  # 产品缺陷
    feature_request = "feature_request"                # 功能需求
    network_or_platform = "network_or_platform"        # 平台/网络
    other = "other"


class Role(StrEnum):
    intake = "intake"
    account_manager = "account_manager"
    agent = "agent"
    ops_engineer = "ops_engineer"
    complaint_handler = "complaint_handler"
    product_manager = "product_manager"
    vendor = "vendor"
    analyst = "analyst"
    admin = "admin"


class Stage(StrEnum):
    demand = "demand"
    research = "research"
    review = "review"
    planning = "planning"
    initiation = "initiation"
    development = "development"
    testing = "testing"
    trial = "trial"
    trial_commercial = "trial_commercial"
    commercial = "commercial"
    delivered = "delivered"
    retired = "retired"


STAGE_LABELS = {
    Stage.demand: "需求提出", Stage.research: "初步调研", Stage.review: "评审决策",
    Stage.planning: "工程进度与详细调研", Stage.initiation: "立项招标", Stage.development: "开发",
    Stage.testing: "测试", Stage.trial: "试用", Stage.trial_commercial: "试商用",
    Stage.commercial: "商用", Stage.delivered: "交付", Stage.retired: "下线",
}


class ArticleType(StrEnum):
    service_script = "service_script"    # 客服口径
    complaint_guide = "complaint_guide"  # 投诉指导手册
    faq = "faq"
    manual = "manual"
    tariff = "tariff"
    training = "training"


class Audience(StrEnum):
    """Who may read an article. Each audience also reads what is written for the ones outside it: staff read
    everything, account managers read what is meant for them and for customers, channels only customer text."""
    internal = "internal"                # 内部员工: the centre's staff and vendors
    account_manager = "account_manager"  # 客户经理
    customer = "customer"                # 客户: what a channel may show a requester


AUDIENCE_LABELS = {Audience.internal: "内部员工", Audience.account_manager: "客户经理", Audience.customer: "客户"}
# The audiences a role reads (SPEC §1 roles): staff read all, account managers theirs and the customers'.
AUDIENCES_OF_ROLE: dict[Role, frozenset[Audience]] = {
    **{role: frozenset(Audience) for role in Role},
    Role.account_manager: frozenset({Audience.account_manager, Audience.customer}),
    Role.intake: frozenset({Audience.customer}),
}


# Labels of the remaining ticket dimensions, for reports and breakdowns (analytics).
CHANNEL_LABELS = {Channel.account_manager: "客户经理", Channel.product_owner: "产品负责人",
                  Channel.call_center: "客服热线", Channel.customer: "客户来电"}
INDUSTRY_LABELS = {Industry.government: "政府", Industry.education: "教育", Industry.healthcare: "医疗",
                   Industry.finance: "金融", Industry.manufacturing: "制造", Industry.transport: "交通物流",
                   Industry.retail: "零售", Industry.agriculture: "农业", Industry.energy: "能源",
                   Industry.other: "其他"}
CAUSE_LABELS = {Cause.usage_misunderstanding: "理解偏差", Cause.billing_error: "计费问题",
                Cause.product_defect: "产品缺陷", Cause.feature_request: "功能需求",
                Cause.network_or_platform: "平台/网络", Cause.other: "其他原因"}
