from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "knowledge"
    port: int = 8003
    search_poll_seconds: float = 0.5  # how often each API replica asks the store what changed (store/search_index.py)
