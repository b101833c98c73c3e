from services.kit.app import serve
from services.knowledge.settings import Settings

serve("services.knowledge.main:create", Settings)
