"""Sample knowledge (示例数据) for demos and tests: articles.json, loaded through the public API by
`make seed-knowledge` (scripts/seed_knowledge.py). Never loaded by the service itself."""
