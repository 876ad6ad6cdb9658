"""The dataset engine shared by ``data build`` (:mod:`~macedance.datasets.from_video`) and ``data render``
(:mod:`~macedance.datasets.from_motion`): typed per-source outcomes and the one manifest row schema
(:mod:`.outcome`), resume state (:mod:`.state`), executors and progress (:mod:`.runner`), splits,
manifest, card and the end of a run (:mod:`.finalize`), clip windows (:mod:`.segment`), per-clip
media (:mod:`.media`), the sources' provenance and licences (:mod:`.provenance`) and near-duplicate clips across
sources (:mod:`.fingerprint`, :mod:`.dedupe`)."""

from macedance.datasets.curation.kind import CardText, DatasetKind
from macedance.datasets.curation.outcome import ManifestRow, SourceOutcome
from macedance.datasets.curation.runner import BuildProgress, BuildReport, RayOptions

__all__ = ["BuildProgress", "BuildReport", "CardText", "DatasetKind", "ManifestRow", "RayOptions", "SourceOutcome"]
