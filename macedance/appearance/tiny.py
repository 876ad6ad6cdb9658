"""A tiny, randomly initialised ``WanAnimatePipeline`` written to a local folder: the same file layout as
the real ``Wan2.2-Animate-14B-Diffusers`` checkpoint (``model_index.json`` + one sub-folder per
component), about 0.5 MB, loadable by :func:`macedance.appearance.pipeline.load_pipeline`.

It generates noise-like videos; it exists so that the whole cascade, both fine-tuning stages and the
loaders can be run and tested offline on a CPU in seconds. Sizes follow
../shared/reference/wan-animate-tiny.md (the constraints between the components are checked there).
"""

from __future__ import annotations

import string
from pathlib import Path

from macedance.errors import MaceDanceError

# The tiny transformer's face-video size (``motion_encoder_size``; the 14B model uses 512).
TINY_FACE_SIZE = 16


def _tokenizer():
    """A umT5-style sentencepiece-free tokenizer built from a vocabulary list (no files needed)."""
    from transformers import T5Tokenizer

    pieces = ["<pad>", "</s>", "<unk>"] + [f"▁{w}" for w in ("a", "the", "person", "dancing", "video")]
    pieces += [c for c in string.ascii_lowercase + string.digits + ".,!?'-"] + ["▁"]
    return T5Tokenizer(vocab=[(p, -float(i)) for i, p in enumerate(pieces)], extra_ids=0)


def build_tiny_pipeline(z_dim: int = 4, seed: int = 0):
    """The tiny pipeline in memory (float32, CPU), weights drawn with ``torch.manual_seed(seed)``."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanAnimatePipeline, WanAnimateTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    transformer = WanAnimateTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=2 * z_dim + 4, latent_channels=z_dim,
        out_channels=z_dim, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", image_dim=8, added_kv_proj_dim=24, rope_max_seq_len=32,
        motion_encoder_channel_sizes={"4": 16, "8": 16, "16": 16}, motion_encoder_size=TINY_FACE_SIZE, motion_style_dim=8,
        motion_dim=4, motion_encoder_dim=16, face_encoder_hidden_dim=16, face_encoder_num_heads=2, inject_face_latents_blocks=2,
    )
    vae = AutoencoderKLWan(base_dim=3, z_dim=z_dim, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True],
                           latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim)
    tokenizer = _tokenizer()
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                                               relative_attention_num_buckets=8, relative_attention_max_distance=32, pad_token_id=0,
                                               eos_token_id=1, decoder_start_token_id=0))
    image_encoder = CLIPVisionModel(CLIPVisionConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                                                     image_size=4, patch_size=1))
    image_processor = CLIPImageProcessor(size={"shortest_edge": 4}, crop_size={"height": 4, "width": 4},
                                         image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711])
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=5.0)
    return WanAnimatePipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler, image_processor=image_processor,
                              image_encoder=image_encoder, transformer=transformer)


def write_tiny_pipeline(out: str | Path, *, z_dim: int = 4, seed: int = 0, overwrite: bool = False) -> Path:
    """Save :func:`build_tiny_pipeline` to ``out`` (``save_pretrained`` layout, safetensors)."""
    import shutil
    import tempfile

    from macedance.appearance.pipeline import quiet_hf

    quiet_hf()
    out = Path(out)
    if (out / "model_index.json").is_file() and not overwrite:
        raise MaceDanceError(f"{out}: already holds a pipeline (replace it with `overwrite`)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        build_tiny_pipeline(z_dim, seed).save_pretrained(tmp, safe_serialization=True)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)  # the folder appears complete or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
