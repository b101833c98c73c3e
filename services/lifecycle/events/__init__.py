"""Event handlers of the lifecycle service."""
