"""Video metrics: feature networks (I3D, Inception, LPIPS, DINO, CLIP, AMT, VideoMAE) that declare their weight entries
(:func:`~macedance.weights.all_weights`), the metric families (paired, Fréchet, identity, VBench, motion
on 2D keypoints) and `eval video`, which scores the requested metrics of its registry
(:data:`~macedance.metrics.video.evaluate.VIDEO_METRICS`)."""
