from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "lifecycle"
    port: int = 8002
