"""lifecycle: the catalog of the informatization center's 4 platforms and ~35 products, their lifecycle stage
(需求提出 → … → 商用 → 交付 → 下线), and each product's optimisation backlog (产品优化建议) grown from closed
suggestions and from `product_defect`/`feature_request` tickets. Flows of the source document: 2.2–2.4 平台和产品
引入 (规划, 立项招标, 开发) and 3.1 初期运营 (试用 → 试商用 → 商用 → 交付, 建议收集, 产品优化). It publishes
`lifecycle.product.registered` for every catalog entry (and re-publishes the whole catalog at every start, so
that a newly started consumer learns it) and consumes `ticket.closed`."""
