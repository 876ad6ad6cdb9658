"""Methods that turn music into motion: the MACE-Dance Motion Expert, its ablations, an EDGE-style
baseline (all trainable diffusion models sharing one network family) and three non-learned
references (retrieval, random training clip, mean pose). Each is registered by name; the same
``macedance train motion`` / ``generate motion`` commands run all of them."""

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


METHODS: dict[str, MethodInfo] = {m.name: m for m in (
    MethodInfo("mace-dance", "MACE-Dance Motion Expert: BiMamba-Transformer diffusion with Guidance-Free Training",
               "arXiv 2512.18181", "diffusion", {"mixer": "bimamba", "guidance": "gft"}),
    MethodInfo("edge", "EDGE-style Transformer denoiser with classifier-free guidance", "Tseng et al., CVPR 2023",
               "diffusion", {"mixer": "transformer", "guidance": "cfg"}),
    MethodInfo("ablation-transformer", "MACE-Dance with BiMamba replaced by self-attention (GFT)",
               "arXiv 2512.18181 Table 2", "diffusion", {"mixer": "transformer", "guidance": "gft"}),
    MethodInfo("ablation-mamba", "MACE-Dance with unidirectional Mamba (GFT)", "arXiv 2512.18181 Table 2",
               "diffusion", {"mixer": "mamba", "guidance": "gft"}),
    MethodInfo("ablation-cfg", "MACE-Dance trained and sampled with classifier-free guidance instead of GFT",
               "arXiv 2512.18181 Table 2", "diffusion", {"mixer": "bimamba", "guidance": "cfg"}),
    MethodInfo("mace-dance-official", "MACE-Dance Motion Expert from its released checkpoint (official architecture and sampler)",
               "arXiv 2512.18181", "released"),
    MethodInfo("edge-official", "EDGE from its released checkpoint (official architecture, long-form sampling and stitching)",
               "Tseng et al., CVPR 2023", "released"),
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
