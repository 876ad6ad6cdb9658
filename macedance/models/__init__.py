"""Neural network building blocks and the MACE-Dance Motion Expert."""
