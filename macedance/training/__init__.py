"""Training loops (resumable, atomic checkpoints)."""
