"""The Appearance Expert: Wan-Animate (diffusers ``WanAnimatePipeline``) driven by rendered pose videos,
with Body-Adapter and LoRA fine-tuning (see docs/appearance-expert.md)."""
