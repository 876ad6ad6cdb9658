"""Video metrics: feature networks (I3D, Inception, LPIPS, DINO, CLIP, AMT, VideoMAE), frame, consistency and identity metrics, and `eval video`."""
