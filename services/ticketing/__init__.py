"""ticketing — tickets of every kind: 咨询 consultation, 投诉 complaint, 建议 suggestion, 故障 fault.

Owns the 客服支撑流程 (3.2.2) and 投诉处理流程 (3.2.3) of the source document: intake, tiered handling
(front line → product manager → vendor), answer, requester feedback and archive. Knows the product catalog only
from lifecycle's events.
"""
