from services.kit.app import serve

from .settings import Settings

serve("services.lifecycle.main:create", Settings)
