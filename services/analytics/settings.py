from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "analytics"
    port: int = 8004
    # how often the counters job folds changed tickets into the counters: the delay from an event to the figures
    counters_every_seconds: float = 1.0
    anomaly_scan_seconds: float = 300  # how often the `anomalies` job judges yesterday and today (突然变化)
    reports_every_seconds: float = 3600.0  # how often the monthly_reports job checks last month's reports are kept
