"""knowledge — 知识库: 客服口径 service scripts, 投诉指导手册 complaint handbook, FAQ, manuals, tariffs, training.

Owns the knowledge articles (KCS states draft → published → archived, every edit a new version) and the
candidates grown from closed tickets: the 口径更新 step of 客服支撑流程 (3.2.2), 更新投诉指导手册 of 投诉处理流程
(3.2.3) and the monthly FAQ of 客服分析/投诉分析. Learns about tickets only from ticketing's `ticket.closed` events:
a ticket answered from an article counts a reuse of it, any other consultation or complaint feeds a candidate.
"""
