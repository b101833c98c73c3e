from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "ticketing"
    port: int = 8001
    # Largest attachment accepted (OPS_ATTACHMENT_MAX_BYTES); a byte more is 413 and nothing is stored.
    attachment_max_bytes: int = 10 * 1024 * 1024
    # Possible duplicates at intake (domain/duplicates.py): the least Jaccard similarity of two tickets' words,
    # how many of the group's open tickets of this and last week are compared (newest first), how many are shown.
    duplicate_detection: bool = True  # off: the intake asks no duplicate query and answers an empty list
    duplicate_min_similarity: float = 0.5
    duplicate_candidates: int = 10
    duplicate_limit: int = 5
