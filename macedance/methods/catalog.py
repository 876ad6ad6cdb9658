"""Methods that turn music into motion: MACE-Dance and EDGE (trainable, with the released module trees), the
re-implementation of MACE-Dance (``mace-dance-v0``) and its ablations, the released checkpoints of both
(``*-official``) and three non-learned references (retrieval, random training clip, mean pose). Each is registered
by name; the same ``macedance train motion`` / ``generate motion`` / ``bench run`` commands run all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MethodInfo:
    name: str
    description: str
    paper: str
    kind: str  # "diffusion", "reference" or "released" (run from a published checkpoint: methods.official)
    expert: dict[str, Any] = field(default_factory=dict)  # ExpertConfig overrides
    diffusion: dict[str, Any] = field(default_factory=dict)  # DiffusionConfig overrides


# The released code's training choices: GFT's unconditional pass at the same β, no condition dropout on the
# conditional pass (MACE-Dance's train_pred); condition dropout 0.25 and guidance weight 2 (EDGE.py); the FK loss
# weight 0.646 (both). Our defaults fix two bugs they keep: the FK and foot losses run on the unnormalised motion
# (the released p_losses feeds normalised values to FK) — see docs/motion-expert.md.
_MACE_OFFICIAL = {"gft_uncond_beta": "same", "cond_drop": 0.0, "w_joint": 0.646}
_EDGE_OFFICIAL = {"cond_drop": 0.25, "w_joint": 0.646, "cfg_weight": 2.0}

METHODS: dict[str, MethodInfo] = {m.name: m for m in (
    MethodInfo("mace-dance", "MACE-Dance Motion Expert: the released BiMamba-Transformer module tree, Guidance-Free Training, "
               "the released sampler; writes official.pt in the released layout", "arXiv 2512.18181", "diffusion",
               {"network": "mace-official", "mixer": "bimamba", "guidance": "gft"}, _MACE_OFFICIAL),
    MethodInfo("edge", "EDGE: the released Transformer decoder, classifier-free guidance, windowed long sampling; writes official.pt",
               "Tseng et al., CVPR 2023", "diffusion", {"network": "edge-official", "mixer": "transformer", "guidance": "cfg"}, _EDGE_OFFICIAL),
    MethodInfo("mace-dance-v0", "MACE-Dance as re-implemented from the paper before the code was released (our block: residual "
               "cross-attention, SiLU MLPs, one genre embedding, null music replaced): an ablation", "arXiv 2512.18181",
               "diffusion", {"network": "macedance", "mixer": "bimamba", "guidance": "gft"}),
    MethodInfo("ablation-transformer", "mace-dance-v0 with BiMamba replaced by self-attention (GFT)",
               "arXiv 2512.18181 Table 2", "diffusion", {"mixer": "transformer", "guidance": "gft"}),
    MethodInfo("ablation-mamba", "mace-dance-v0 with unidirectional Mamba (GFT)", "arXiv 2512.18181 Table 2",
               "diffusion", {"mixer": "mamba", "guidance": "gft"}),
    MethodInfo("ablation-cfg", "mace-dance-v0 trained and sampled with classifier-free guidance instead of GFT",
               "arXiv 2512.18181 Table 2", "diffusion", {"mixer": "bimamba", "guidance": "cfg"}),
    MethodInfo("mace-dance-official", "MACE-Dance Motion Expert from its released checkpoint (official architecture and sampler)",
               "arXiv 2512.18181", "released"),
    MethodInfo("edge-official", "EDGE from its released checkpoint (official architecture, long-form sampling and stitching)",
               "Tseng et al., CVPR 2023", "released"),
    MethodInfo("finenet-official", "FineDance's FineNet from its released checkpoint (body and hand EDGE decoders, SMPL-H output)",
               "Li et al., ICCV 2023 (FineDance)", "released"),
    MethodInfo("bailando-official", "Bailando from its released checkpoints (VQ-VAE + actor-critic GPT, greedy; 60-fps joint positions; "
               "S-Lab licence: non-commercial)", "Li et al., CVPR 2022 (Bailando)", "released"),
    MethodInfo("bailandopp-official", "Bailando++ from its released checkpoints (rotation decoder, music Transformer, greedy; 60-fps SMPL "
               "rotations; S-Lab licence: non-commercial)", "Li et al., TPAMI 2023 (Bailando++)", "released"),
    MethodInfo("fact-official", "FACT from its released TensorFlow checkpoint (cross-modal Transformer, autoregressive from the ground "
               "truth's first 2 s; 60-fps SMPL rotations)", "Li et al., ICCV 2021 (FACT)", "released"),
    MethodInfo("lodge-official", "LODGE from its released checkpoints (global dance primitives, local diffusion with soft inpainting; "
               "SMPL-X body, FineDance genres)", "Li et al., CVPR 2024 (LODGE)", "released"),
    MethodInfo("retrieval", "Nearest training clip by music-feature distance, beat-aligned", "reference", "reference"),
    MethodInfo("random-clip", "Random training clips (ignores the music)", "reference", "reference"),
    MethodInfo("mean-pose", "The training set's mean pose, standing still", "reference", "reference"),
)}


def get_method(name: str) -> MethodInfo:
    from macedance.errors import ValidationError

    try:
        return METHODS[name]
    except KeyError:
        raise ValidationError("method", "one of " + ", ".join(METHODS), repr(name)) from None
