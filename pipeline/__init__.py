"""The pipeline: one poll cycle's stages, worker pool, alert delivery and feed health, over the warehouse."""
