from services.kit.app import serve
from services.ticketing.settings import Settings

serve("services.ticketing.main:create", Settings)
