from services.kit.app import serve

from .settings import Settings

serve("services.analytics.main:create", Settings)
