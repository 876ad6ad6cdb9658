"""Near-duplicate clips across sources: the same dance uploaded twice — re-encoded, at another resolution or frame
rate, mirrored, cropped a little, cut at another start — found from the kept clips' motion-hash fingerprints
(:mod:`~macedance.datasets.curation.fingerprint`) when a dataset is finalised, over every source of the build (those
resumed included).

**What counts as a duplicate.** A sampled frame of a clip (one every 0.25 s) *matches* a frame of another source
when their 64-bit motion hashes differ in at most :data:`FRAME_BITS` bits. A kept clip *duplicates another source*
when, at one time offset between the two sources' timelines, at least :data:`MIN_SHARE` of its sampled frames (and at
least :data:`MIN_MATCHES`) match a frame of that source's kept clips within one frame of the offset time — the same
frames in the same order. The comparison runs once with the clip's hashes and once with its mirrored hashes; the
better counts. Clips of one source are never compared with each other. Measured on copies of the two shared real
videos (half size, mirrored at 60 %, 25 fps, cut 0.3 s later, mirrored + cropped 2–3 % a side + cut 0.37 s later,
all re-encoded at CRF 28) and of generated ones: every clip of a copy matched at ≥ 82 % of its sampled frames with 8
bits (the 2–3 % crops lowest: 64 % with 6 bits); different parts of one fixed-camera video and different generated
dances at ≤ 17 % (at 10–12 bits already 16–20 % for generated dances). A 6 % crop a side is mostly missed (33–67 %).

**Scale.** Candidate pairs come from locality-sensitive hashing: :data:`LSH_TABLES` tables, each keyed by
:data:`LSH_BITS` fixed random bits of the hash, index every frame of every kept clip; a clip becomes a candidate for
another source when three or more of its sampled frames (direct or mirrored) share a key with that source's frames (a key
shared by more than :data:`MAX_BUCKET` sources — a generic frame seen in many videos — proposes nothing). Only
candidates are compared frame by frame. Frames at Hamming distance 2 / 4 / 6 share a key in at least one table with
probability 0.99 / 0.79 / 0.44, so a copy's clip, most of whose 20–40 sampled frames are within 4 bits, is found with
near certainty.

**Groups and representatives.** Clips linked by a duplicate relation form a group (``dup_group``: the id of its first
clip in the order below). Sources are ranked by resolution (width × height, highest first), then length (longest
first), then id; a group's clips are visited in that order (then by clip id): a clip whose matched frames lie, for at
least :data:`MIN_SHARE` of its sampled frames, in clips of one other source that were already kept is a duplicate
(``dup_of``: the kept clip holding most of them); otherwise it is kept. So the copy from the best source survives, and a
clip whose own content is not in the dataset is never dropped. Sources linked by any duplicate pair go to one split
(:func:`~macedance.datasets.curation.splits.assign_splits`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from macedance.datasets.curation.fingerprint import hamming, sample_frames, unpack
from macedance.datasets.curation.outcome import ManifestRow

FRAME_BITS = 8  # sampled frames match when their 64-bit hashes differ in at most this many bits
MIN_SHARE = 0.6  # a clip duplicates a source when at least this share of its sampled frames match it …
MIN_MATCHES = 4  # … and at least this many (1 s at 0.25 s steps)
LSH_TABLES, LSH_BITS = 8, 22  # candidate search: tables × bits per key
MAX_BUCKET = 256  # a key shared by more sources than this proposes no candidates
_MIN_VOTES = 3  # sampled frames of a clip sharing a key with another source that make it a candidate
DedupeMode = Literal["drop", "keep"]
DEDUPE_MODES: tuple[str, ...] = ("drop", "keep")


@dataclass(frozen=True)
class ClipPrint:
    """One kept clip's fingerprint, decoded: its id, its source's index and frame rate, the times (s of source time)
    and hashes of its frames that have one, and the times, hashes and mirrored hashes of its sampled frames."""

    clip: str
    source: int
    fps: float
    times: np.ndarray
    hashes: np.ndarray
    sample_times: np.ndarray
    samples: np.ndarray
    mirror: np.ndarray


@dataclass(frozen=True)
class Match:
    """``clip`` duplicates the source of the clips in ``per_clip``: ``matched`` of its ``samples`` sampled frames match
    (``mirrored``: its mirrored frames) frames of that source ``offset_s`` seconds later in its timeline;
    ``per_clip``: matched frames per clip of that source."""

    clip: str
    source: int
    matched: int
    samples: int
    mirrored: bool
    offset_s: float
    per_clip: dict[str, int] = field(default_factory=dict)

    @property
    def share(self) -> float:
        return self.matched / max(self.samples, 1)


@dataclass
class Duplicates:
    """The outcome of :func:`find_duplicates`: the group of every clip that has one, the kept clip each duplicate
    duplicates (with its match), and the sets of source sha256s linked by any duplicate pair."""

    group: dict[str, str] = field(default_factory=dict)
    of: dict[str, str] = field(default_factory=dict)
    match: dict[str, Match] = field(default_factory=dict)
    source_groups: list[frozenset[str]] = field(default_factory=list)


def clip_prints(fingerprints: list[dict[str, Any] | None]) -> list[ClipPrint]:
    """The :class:`ClipPrint` of every clip of every source's recorded fingerprints (``SourceOutcome.fingerprints``;
    None or empty for a source without kept clips), sources by list index; clips without a sampled frame that has a
    hash (nothing moves in them) are left out."""
    out = []
    for s, fp in enumerate(fingerprints):
        if not fp:
            continue
        fps = float(fp["fps"])
        for cid, c in sorted(fp["clips"].items()):
            h, m = unpack(c["hash"]), unpack(c["mirror"])
            start = int(c["start"])
            frames = np.arange(start, start + len(h))
            idx = sample_frames(start, start + len(h), fps)
            sh = h[idx - start]
            keep, skeep = h != 0, (sh != 0) & (m != 0)
            if skeep.any():
                out.append(ClipPrint(cid, s, fps, frames[keep] / fps, h[keep], idx[skeep] / fps, sh[skeep], m[skeep]))
    return out


def _keys(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    key = np.zeros(len(x), np.int64)
    for b, p in enumerate(positions):
        key |= ((x >> np.uint64(p)) & np.uint64(1)).astype(np.int64) << b
    return key


def candidates(prints: list[ClipPrint], chunk: int = 1 << 18) -> set[tuple[int, int, bool]]:
    """(clip index, other source, mirrored) pairs worth comparing frame by frame (see the module docstring): every
    frame of every clip is indexed, each clip's sampled frames (direct and mirrored) are looked up. Each table holds
    the distinct (key, source) pairs, so a source's many similar frames cost one entry per key."""
    if not prints:
        return set()
    frames = np.concatenate([p.hashes for p in prints])
    frame_src = np.repeat(np.array([p.source for p in prints], np.int64), [len(p.hashes) for p in prints])
    owner = np.repeat(np.arange(len(prints)), [len(p.samples) for p in prints])
    source = np.array([p.source for p in prints], np.int64)[owner]
    direct, mirror = np.concatenate([p.samples for p in prints]), np.concatenate([p.mirror for p in prints])
    n_src = int(frame_src.max()) + 1
    rng = np.random.default_rng(0)  # fixed: the same tables in every build
    votes: list[np.ndarray] = []
    for _ in range(LSH_TABLES):
        pos = np.sort(rng.choice(64, LSH_BITS, replace=False))
        entries = np.unique(_keys(frames, pos) * n_src + frame_src)  # distinct (key, source), sorted by key
        keys, srcs = entries // n_src, entries % n_src
        for mirrored, query in ((False, _keys(direct, pos)), (True, _keys(mirror, pos))):
            for a in range(0, len(query), chunk):
                qk = query[a : a + chunk]
                lo = np.searchsorted(keys, qk, "left")
                size = np.searchsorted(keys, qk, "right") - lo
                size[size > MAX_BUCKET] = 0
                q = np.repeat(np.arange(a, a + len(qk)), size)
                hit = srcs[np.repeat(lo, size) + np.arange(len(q)) - np.repeat(np.cumsum(size) - size, size)]
                other = hit != source[q]
                votes.append((q[other] * n_src + hit[other]) * 2 + int(mirrored))  # (sampled frame, other source, orientation)
    code = np.unique(np.concatenate(votes)) if votes else np.zeros(0, np.int64)
    key = owner[code // (2 * n_src)] * (2 * n_src) + code % (2 * n_src)
    keys, counts = np.unique(key, return_counts=True)
    return {(int(k // (2 * n_src)), int(k % (2 * n_src)) // 2, bool(k % 2)) for k in keys[counts >= _MIN_VOTES]}


def compare(clip: ClipPrint, other: list[ClipPrint], *, mirrored: bool) -> Match | None:
    """The best single-offset match of ``clip``'s sampled frames (mirrored with ``mirrored``) against every frame of
    the clips ``other`` of another source: a sampled frame matches when a frame within one frame of its time plus the
    offset differs in at most :data:`FRAME_BITS` bits. None below :data:`MIN_MATCHES` matched frames."""
    a_t, a_h = clip.sample_times, clip.mirror if mirrored else clip.samples
    b_t = np.concatenate([o.times for o in other])
    b_h = np.concatenate([o.hashes for o in other])
    b_clip = np.repeat(np.arange(len(other)), [len(o.times) for o in other])
    fps = other[0].fps
    d = hamming(a_h[:, None], b_h[None, :])
    i, j = np.nonzero(d <= FRAME_BITS)
    if len(np.unique(i)) < MIN_MATCHES:
        return None
    lag = np.round((b_t[j] - a_t[i]) * fps).astype(np.int64)  # the other source's frames after the sampled frame's time
    lags, counts = np.unique(lag, return_counts=True)
    best: tuple[int, int] = (0, 0)
    for k in lags[np.lexsort((np.abs(lags), -counts))][:8]:  # the most voted lags, nearest zero first on ties
        n = len(np.unique(i[np.abs(lag - k) <= 1]))
        if (n, -abs(int(k)), -int(k)) > (best[0], -abs(best[1]), -best[1]):
            best = (n, int(k))
    if best[0] < MIN_MATCHES:
        return None
    ok = np.abs(lag - best[1]) <= 1
    ii, jj = i[ok], j[ok]
    pick = np.lexsort((np.abs(lag[ok] - best[1]), d[ii, jj], ii))  # per sampled frame: its closest matching frame
    first = np.r_[True, ii[pick][1:] != ii[pick][:-1]]
    owners, n_owned = np.unique(b_clip[jj[pick][first]], return_counts=True)
    per_clip = {other[int(c)].clip: int(n) for c, n in zip(owners, n_owned, strict=True)}
    return Match(clip.clip, other[0].source, best[0], len(a_t), mirrored, best[1] / fps, per_clip)


def find_duplicates(fingerprints: list[dict[str, Any] | None], shas: list[str], rank: list[tuple[Any, ...]]) -> Duplicates:
    """Duplicate groups of the clips of sources with these recorded ``fingerprints``, content ``shas`` and ``rank``
    keys (sorted ascending: the best source first), as the module docstring describes."""
    prints = clip_prints(fingerprints)
    by_source: dict[int, list[ClipPrint]] = {}
    for p in prints:
        by_source.setdefault(p.source, []).append(p)
    matches: dict[tuple[int, int], Match] = {}
    for ci, src, mirrored in sorted(candidates(prints)):
        m = compare(prints[ci], by_source[src], mirrored=mirrored)
        if m is None or m.matched < max(MIN_MATCHES, MIN_SHARE * m.samples):
            continue
        old = matches.get((ci, src))
        if old is None or (m.matched, not m.mirrored) > (old.matched, not old.mirrored):
            matches[(ci, src)] = m
    return _groups(prints, matches, shas, rank)


def _groups(prints: list[ClipPrint], matches: dict[tuple[int, int], Match], shas: list[str], rank: list[tuple[Any, ...]]) -> Duplicates:
    parent = {p.clip: p.clip for p in prints}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    src_parent = list(range(len(shas)))

    def find_src(x: int) -> int:
        while src_parent[x] != x:
            src_parent[x] = src_parent[src_parent[x]]
            x = src_parent[x]
        return x

    for (ci, src), m in matches.items():
        for other in m.per_clip:
            parent[find(other)] = find(prints[ci].clip)
        a, b = find_src(prints[ci].source), find_src(src)
        src_parent[max(a, b)] = min(a, b)
    source_of = {p.clip: p.source for p in prints}
    members: dict[str, list[str]] = {}
    for p in prints:
        members.setdefault(find(p.clip), []).append(p.clip)
    own: dict[str, list[Match]] = {}
    for (ci, _), m in matches.items():
        own.setdefault(prints[ci].clip, []).append(m)
    out = Duplicates()
    for clips in members.values():
        if len(clips) < 2:
            continue
        clips.sort(key=lambda c: (rank[source_of[c]], c))
        kept: list[str] = []
        for c in clips:
            out.group[c] = clips[0]
            best: tuple[int, str, Match] | None = None
            for m in own.get(c, []):
                on_kept = {k: n for k, n in m.per_clip.items() if k in kept}
                total = sum(on_kept.values())
                if total >= max(MIN_MATCHES, MIN_SHARE * m.samples) and (best is None or total > best[0]):
                    top = max(on_kept, key=lambda k: (on_kept[k], -kept.index(k)))
                    best = (total, top, m)
            if best is None:
                kept.append(c)
            else:
                out.of[c], out.match[c] = best[1], best[2]
    groups: dict[int, set[str]] = {}
    for s in range(len(shas)):
        groups.setdefault(find_src(s), set()).add(shas[s])
    out.source_groups = [frozenset(g) for g in groups.values() if len(g) > 1]
    return out


def source_rank(fingerprints: dict[str, Any] | None, video_id: str) -> tuple[float, float, str]:
    """A source's sort key as a group's representative (smaller first): resolution, then length, then id."""
    fp = fingerprints or {}
    return (-float(fp.get("width", 0)) * float(fp.get("height", 0)), -float(fp.get("seconds", 0.0)), video_id)


def mark_duplicates(rows: list[ManifestRow], clips: list[dict[str, Any]], dups: Duplicates, *,
                    drop: bool) -> tuple[list[ManifestRow], list[dict[str, Any]], list[str]]:
    """Rows and clip records with ``dup_group``/``dup_of`` set (the clips' ``provenance`` too); with ``drop``, each
    duplicate becomes a rejected row (stage ``dedupe``, code ``duplicate``, no files, no split) and leaves the clips.
    Also returns the files of the dropped clips (relative paths), for the caller to take out of the dataset."""
    source_of = {r.candidate_id: r.source_video for r in rows}
    out_rows, files = [], []
    for r in rows:
        cid = r.candidate_id
        if r.kept and cid in dups.group:
            of = dups.of.get(cid)
            r = dataclasses.replace(r, dup_group=dups.group[cid], dup_of=of)
            if of is not None and drop:
                m = dups.match[cid]
                files += r.files()
                reason = (f"near-duplicate of {of} ({source_of.get(of, '?')}): {m.matched} of {m.samples} sampled frames match"
                          f"{' mirrored' if m.mirrored else ''}, {m.offset_s:+.2f} s apart in the two sources")
                r = dataclasses.replace(r, status="rejected", stage="dedupe", code="duplicate", reason=reason, split=None,
                                        **dict.fromkeys(_PATHS))
        out_rows.append(r)
    out_clips = []
    for c in clips:
        cid = c["id"]
        if cid in dups.group:
            if drop and cid in dups.of:
                continue
            c = {**c, "provenance": {**(c.get("provenance") or {}), "dup_group": dups.group[cid], "dup_of": dups.of.get(cid)}}
        out_clips.append(c)
    return out_rows, out_clips, files


_PATHS = ("motion_path", "keypoints_path", "music_path", "audio_path", "reference_path", "video_path", "preview_path")


def card_section(dups: Duplicates, rows: list[ManifestRow], *, drop: bool, limit: int = 20) -> list[str]:
    """The card's "Duplicates" lines: counts, and a table of the duplicates (at most ``limit`` rows)."""
    lines = ["", f"## Near-duplicates across source videos (`--dedupe {'drop' if drop else 'keep'}`)", ""]
    if not dups.group:
        return lines + ["No clip duplicates a clip of another source video (motion-hash fingerprints; docs/data-build.md)."]
    source_of = {r.candidate_id: r.source_video for r in rows}
    groups = sorted(set(dups.group.values()))
    fate = ("dropped: rejected rows with stage `dedupe`, code `duplicate`, without files" if drop else
            "kept and marked: `dup_of` in `manifest.parquet` and in the clips' `provenance`")
    lines += [f"{len(dups.of)} clip(s) duplicate a kept clip of another source video ({fate}); {len(groups)} group(s) of duplicates "
              f"(`dup_group`) span {sum(len(g) for g in dups.source_groups)} source videos, and the source videos of a group share "
              "one split.", "", "| duplicate | its source | duplicate of | that source | matched frames | mirrored |", "|---|---|---|---|---|---|"]
    shown = sorted(dups.of, key=lambda c: (dups.group[c], c))
    for cid in shown[:limit]:
        m, of = dups.match[cid], dups.of[cid]
        lines.append(f"| `{cid}` | `{source_of.get(cid, '?')}` | `{of}` | `{source_of.get(of, '?')}` | {m.matched} / {m.samples} | "
                     f"{'yes' if m.mirrored else 'no'} |")
    if len(shown) > limit:
        lines.append(f"| … {len(shown) - limit} more (`dup_of` in `manifest.parquet`) | | | | | |")
    return lines
