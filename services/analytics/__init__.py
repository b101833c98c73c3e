"""analytics (数据分析): read models built from the other services' events, and the metrics over them.

It owns a per-ticket read model fed by every `ticket.*` event (客服分析, 投诉分析) and answers the figures of
SPEC §5 (3.2.1 数据分析: opened, resolved, closed, backlog, 及时率 timeliness, 满意度 satisfaction, resolution
hours, reopen and escalation rates) by period, product, city, kind, channel, industry and cause from
pre-aggregated counters (docs/analytics.md), keeps the billing system's subscription/revenue imports (数据提取,
api/imports.py) to answer complaints per 1,000 subscribers and the revenue trend, watches the sudden changes
(突然变化) of a product's or city's daily volume (docs/analytics-anomalies.md) and writes the monthly reports
(客服分析, 投诉分析: api/reports.py, docs/analytics-reports.md) with knowledge's KCS figures.
"""
