from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "knowledge"
    port: int = 8003
