from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "ticketing"
    port: int = 8001
    # Largest attachment accepted (OPS_ATTACHMENT_MAX_BYTES); a byte more is 413 and nothing is stored.
    attachment_max_bytes: int = 10 * 1024 * 1024
