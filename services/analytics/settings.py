from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "analytics"
    port: int = 8004
    anomaly_scan_seconds: float = 300  # how often the `anomalies` job judges yesterday and today (突然变化)
