from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "analytics"
    port: int = 8004
    reports_every_seconds: float = 3600.0  # how often the monthly_reports job checks last month's reports are kept
