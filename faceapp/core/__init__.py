"""Qt-free and database-free recognition core: detection, alignment, embedding, matching."""
