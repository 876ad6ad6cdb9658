"""Ports of published music-to-dance networks with their official module trees and parameter names, so that a
released ``state_dict`` loads with ``strict=True`` and no key map: the MACE-Dance Motion Expert (:mod:`.mace`) and
EDGE (:mod:`.edge`), their samplers as released (:mod:`.ddim`, :mod:`.mace_sampling`, :mod:`.edge_sampling`), the
EDGE-family min–max normaliser (:mod:`.normalizer`) and EDGE's forward kinematics (:mod:`.skeleton`); Bailando's
motion VQ-VAEs (:mod:`.bailando`) and its actor-critic GPT with greedy decoding (:mod:`.bailando_gpt`) — networks only
so far: the released weights are not yet wired into ``generate motion``/``bench run``."""
