from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "ticketing"
    port: int = 8001
