"""Collections, indexes and small query helpers of the lifecycle store."""
