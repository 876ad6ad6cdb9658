"""Video evaluation: feature networks (I3D, LPIPS) and frame metrics."""
