"""The min–max normaliser pickled into EDGE-family checkpoints (``dataset.preprocess.Normalizer`` holding a
``dataset.scaler.MinMaxScaler``), rebuilt from its tensors with the same arithmetic.

normalize: x·scale_ + min_, then clipped to the feature range when ``clip`` (the released files: (−1, 1), clip);
unnormalize: clip(x, −1, 1) (always, "to force compatibility"), then (x − min_) / scale_. A constant dimension has
scale_ = (hi − lo) / 1 (its range is replaced by 1 when below 10·eps(float32)), as in the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from macedance.errors import DataFormatError


@dataclass(frozen=True)
class MinMaxNormalizer:
    scale: torch.Tensor  # (C,) scale_
    offset: torch.Tensor  # (C,) min_
    feature_range: tuple[float, float] = (-1.0, 1.0)
    clip: bool = True
    data_min: torch.Tensor | None = None  # (C,) data_min_ of the fit, when known (written back into exported files)
    data_max: torch.Tensor | None = None  # (C,) data_max_
    samples: int | None = None  # n_samples_seen_

    @classmethod
    def fit(cls, data: torch.Tensor, *, feature_range: tuple[float, float] = (-1.0, 1.0)) -> "MinMaxNormalizer":
        """Fit on (…, C) data as ``Normalizer(data)`` does (per channel over all leading dimensions)."""
        flat = data.reshape(-1, data.shape[-1])
        lo, hi = flat.min(dim=0).values, flat.max(dim=0).values
        span = hi - lo
        span = torch.where(span < 10 * torch.finfo(span.dtype).eps, torch.ones_like(span), span)
        scale = (feature_range[1] - feature_range[0]) / span
        return cls(scale, feature_range[0] - lo * scale, feature_range, True, lo, hi, int(flat.shape[0]))

    @classmethod
    def from_pickled(cls, obj: Any, *, source: str) -> "MinMaxNormalizer":
        """From the inert record of a pickled ``Normalizer`` (or of its ``MinMaxScaler``), or from :meth:`state_dict`."""
        state = obj if isinstance(obj, dict) else getattr(obj, "state", None)  # a converted dict, or the inert record
        if isinstance(state, dict) and "scaler" in state:
            state = getattr(state["scaler"], "state", None)
        if not isinstance(state, dict) or not all(k in state for k in ("scale_", "min_")):
            found = sorted(state) if isinstance(state, dict) else type(obj).__name__
            raise DataFormatError(f"{source}: `normalizer`: expected a pickled Normalizer with scaler.scale_ and scaler.min_, found {found}")
        scale, offset = (torch.as_tensor(state[k]) for k in ("scale_", "min_"))
        if scale.ndim != 1 or scale.shape != offset.shape:
            raise DataFormatError(f"{source}: `normalizer.scaler`: expected scale_ and min_ of one shape (C,), found "
                                  f"{tuple(scale.shape)} and {tuple(offset.shape)}")
        lo, hi = state.get("feature_range", (-1, 1))
        extra = [torch.as_tensor(state[k]) if isinstance(state.get(k), torch.Tensor) else None for k in ("data_min_", "data_max_")]
        seen = state.get("n_samples_seen_")
        return cls(scale, offset, (float(lo), float(hi)), bool(state.get("clip", False)), *extra, int(seen) if isinstance(seen, int) else None)

    @property
    def channels(self) -> int:
        return int(self.scale.shape[0])

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(…, C) raw → normalised (a new tensor; the original works in place)."""
        x = x * self.scale.to(x) + self.offset.to(x)
        return x.clamp(*self.feature_range) if self.clip else x

    def unnormalize(self, x: torch.Tensor, *, clip: bool = True) -> torch.Tensor:
        """(…, C) normalised → raw; the last C channels of the scaler when x has fewer (as the original). ``clip``
        (the original's behaviour) clamps x to [−1, 1] first; training losses pass False to keep gradients."""
        c = x.shape[-1]
        return ((x.clamp(-1, 1) if clip else x) - self.offset[-c:].to(x)) / self.scale[-c:].to(x)

    def state_dict(self) -> dict[str, Any]:
        """The scaler's attributes by their pickled names (``data_min_`` etc. only when known)."""
        d: dict[str, Any] = {"scale_": self.scale.clone(), "min_": self.offset.clone(), "feature_range": self.feature_range, "clip": self.clip}
        if self.data_min is not None and self.data_max is not None:
            d.update(data_min_=self.data_min.clone(), data_max_=self.data_max.clone(), data_range_=self.data_max - self.data_min)
        if self.samples is not None:
            d["n_samples_seen_"] = self.samples
        return d
