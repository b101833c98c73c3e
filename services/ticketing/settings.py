from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "ticketing"
    port: int = 8001
    # Channel callbacks (services/ticketing/events/webhooks.py). Seconds between attempts after the 1st, 2nd, …
    # failure (then `failed`): 5 s, 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 12 h, nine attempts over about 22 hours.
    # Set as JSON, e.g. OPS_WEBHOOK_RETRY_DELAYS='[5, 30, 120]'.
    webhook_retry_delays: list[float] = [5, 30, 120, 600, 3600, 3 * 3600, 6 * 3600, 12 * 3600]
    webhook_retry_jitter: float = 0.2        # each delay ± this fraction
    webhook_timeout_seconds: float = 15.0    # per attempt, connect to last byte (the convention: 15–30 s)
    webhook_poll_seconds: float = 1.0        # how often the delivery job looks for due deliveries
    webhook_pass_seconds: float = 20.0       # a pass starts no attempt after this (bounded within its lease)
    webhook_concurrency: int = 8             # attempts in flight at once
