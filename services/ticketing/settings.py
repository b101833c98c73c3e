from datetime import time

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "ticketing"
    port: int = 8001
    # The business calendar's working day (Asia/Shanghai), SPEC §3: OPS_WORK_DAY_START / OPS_WORK_DAY_END.
    work_day_start: time = time(8, 30)
    work_day_end: time = time(17, 30)
    # A received_at up to this far in the future is clock skew between the channel and us, taken as now.
    received_at_skew_seconds: float = 5.0
    # How often open tickets are brought up to a changed calendar or policy (one replica at a time).
    sla_recalculate_seconds: float = 30.0
