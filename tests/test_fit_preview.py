"""Fit previews (``data build --preview``): the source beside the fitted body drawn from the estimated camera,
the still per clip, and the contact sheet of the card (worst reprojection error first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

FPS = 15.0
SECONDS = 1.0
BG = (120, 160, 90)  # the source's uniform background


def _scene(size: tuple[int, int], seed: int = 3) -> tuple[Any, Any, np.ndarray]:
    """A motion in the builder's world, the camera that sees it (as the fit places them) and its (T, 24, 2) projected joints."""
    from macedance.datasets.synthetic import synthetic_motion
    from macedance.datasets.synthetic_video import camera_joints
    from macedance.motion.camera import PinholeCamera, world_offset

    w, h = size
    m = synthetic_motion(seconds=SECONDS, fps=FPS, seed=seed)
    J = m.joints()
    Jc = camera_joints(J, x_offset=0.3)  # the camera frame: camera at the origin
    o = world_offset(Jc)  # the world: lowest foot joint at y = 0, pelvis of frame 0 at x = z = 0
    motion = m.replace(trans=m.trans + (Jc - J)[0, 0] + o)
    camera = PinholeCamera(focal=0.9 * max(w, h), cx=w / 2, cy=h / 2, width=w, height=h, cam_x=o[0], cam_y=o[1], cam_z=o[2])
    return motion, camera, camera.project(motion.joints())


def _source(tmp: Path, size: tuple[int, int]) -> tuple[Path, Path]:
    """A uniform source video (so that whatever differs in the right panel is drawn by the preview) and a WAV."""
    import soundfile as sf

    from macedance.io.video import write_video

    w, h = size
    n = int(SECONDS * FPS)
    video = write_video(tmp / f"src{w}.mp4", [np.full((h, w, 3), BG, np.uint8)] * n, FPS)
    wav = tmp / "music.wav"
    sf.write(wav, 0.1 * np.sin(np.linspace(0, 440 * 2 * np.pi * SECONDS, int(22050 * SECONDS))), 22050)
    return video, wav


def _keypoints(uv: np.ndarray) -> np.ndarray:
    from macedance.pose.mapping import smpl_joints_to_keypoints

    kp, filled = smpl_joints_to_keypoints(uv, "mediapipe33")
    return np.concatenate([kp, np.broadcast_to(filled[:, None].astype(float), kp.shape[:-1] + (1,))], axis=-1)


@pytest.mark.parametrize(("size", "max_side"), [((192, 108), 640), ((320, 180), 160)])
def test_preview_draws_the_body_where_the_camera_projects_it(tmp_path: Path, size: tuple[int, int], max_side: int) -> None:
    from macedance.io.video import probe_video, read_video
    from macedance.render.fit_preview import write_fit_preview

    motion, camera, uv = _scene(size)
    video, wav = _source(tmp_path, size)
    n = motion.num_frames
    out = write_fit_preview(video, tmp_path / "p.mp4", start=0, end=n, fps=FPS, motion=motion, camera=camera.to_dict(),
                            keypoints=_keypoints(uv), skeleton="mediapipe33", audio=wav, max_side=max_side, still=tmp_path / "p.jpg")
    info = probe_video(out)
    s = min(1.0, max_side / max(size))
    w, h = int(size[0] * s), int(size[1] * s)
    assert (info.frames, info.width, info.height, info.has_audio) == (n, 2 * w, h, True)
    frames, _ = read_video(out)
    bg = np.asarray(BG, float)
    for t in (0, n // 2, n - 1):
        right = frames[t, :, w:].astype(float)
        for joint in (0, 3, 6, 15):  # pelvis, spine, chest, head: on the body, away from the corner labels
            u, v = np.round(uv[t, joint] * s).astype(int)
            patch = right[max(v - 1, 0) : v + 2, max(u - 1, 0) : u + 2]
            assert np.abs(patch - 0.45 * bg).sum(-1).mean() > 60, (t, joint)  # the body, not the dimmed source
        # beside the body: the dimmed source, untouched
        u = int(round(uv[t, 0, 0] * s + (-1 if uv[t, 0, 0] > size[0] / 2 else 1) * 0.3 * w))
        v = int(round(uv[t, 15, 1] * s))
        assert np.abs(right[v, u] - 0.45 * bg).max() < 12
        # the left panel is the source (with the keypoints drawn): its background is not dimmed
        assert np.abs(frames[t, 2, w // 2].astype(float) - bg).max() < 12
    import cv2

    still = cv2.imread(str(tmp_path / "p.jpg"))
    assert still.shape[0] == 2 * 180 + 2 and still.shape[1] > 3 * still.shape[0]


def test_preview_renders_the_source_rate_motion_even_when_it_is_short(tmp_path: Path) -> None:
    from macedance.io.video import probe_video
    from macedance.render.fit_preview import write_fit_preview

    size = (96, 64)
    motion, camera, _ = _scene(size)
    video, _ = _source(tmp_path, size)
    n = motion.num_frames
    out = write_fit_preview(video, tmp_path / "q.mp4", start=2, end=n, fps=FPS, motion=motion.slice(2, n - 3), camera=camera)
    info = probe_video(out)
    assert (info.frames, info.width, info.has_audio) == (n - 2, 2 * size[0], False)
    with pytest.raises(ValueError, match="skeleton"):
        write_fit_preview(video, tmp_path / "r.mp4", start=0, end=n, fps=FPS, motion=motion, camera=camera, keypoints=np.zeros((n, 33, 3)))


def _rows(out: Path, errors: list[float | None], *, stills: bool = True) -> list[Any]:
    """Kept manifest rows with these reprojection errors, each with a solid-colour still (colour = index)."""
    import cv2

    from macedance.datasets.curation.outcome import ManifestRow

    rows = []
    for i, err in enumerate(errors):
        cid = f"v-0000000{i % 10}_s{i:03d}_c00"
        rows.append(ManifestRow(cid, "v", "v.mp4", "0" * 64, status="kept", stage="kept", code="kept", reproj_px=err,
                                reproj_rel=None if err is None else err / 300, preview_path=f"previews/{cid}.mp4"))
        if stills:
            (out / "previews").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out / "previews" / f"{cid}.jpg"), np.full((60, 120, 3), _colour(i)[::-1], np.uint8))
    rows.append(ManifestRow("v-x", "v", "v.mp4", "0" * 64, stage="fit", code="fit-error", reason="bad"))
    return rows


def _colour(i: int) -> tuple[int, int, int]:
    return (40 + 40 * (i % 5), 200 - 35 * (i // 5 % 5), 60 + 90 * (i // 25))


def _card(out: Path, rows: list[Any]) -> str:
    from macedance.datasets.curation.card import write_card
    from macedance.datasets.from_video.build import BUILD
    from macedance.datasets.from_video.params import BuildParams

    write_card(out / "README.md", rows, [], params=BuildParams(), command="macedance data build raw out --preview", name="t", kind=BUILD)
    return (out / "README.md").read_text()


def test_contact_sheet_shows_the_worst_fits_first(tmp_path: Path) -> None:
    import cv2

    from macedance.datasets.curation.card import CONTACT_SHEET, sheet_tiles

    errors = [1.0, 5.0, None, 3.0, float("nan")]
    rows = _rows(tmp_path, errors)
    text = _card(tmp_path, rows)
    assert f"![contact sheet]({CONTACT_SHEET})" in text and "## Fit previews" in text and "all 5 clips" in text
    tiles, total = sheet_tiles(tmp_path, rows)
    order = [1, 3, 0, 2, 4]  # worst first; no error (None, NaN) last, by clip id
    assert total == 5 and [r.candidate_id for r in tiles] == [rows[i].candidate_id for i in order]
    sheet = cv2.imread(str(tmp_path / CONTACT_SHEET))[..., ::-1].astype(int)
    tile_h, bar, pad, width = 300, 26, 6, 600  # 120×60 stills scaled to 600 wide
    assert sheet.shape[:2] == (2 * (tile_h + bar + pad), 3 * (width + pad) + pad)
    for k, i in enumerate(order):
        y = (k // 3) * (tile_h + bar + pad) + bar + tile_h // 2
        x = pad + (k % 3) * (width + pad) + width // 2
        assert np.abs(sheet[y, x] - np.array(_colour(i))).max() < 8, (k, i)


def test_contact_sheet_holds_at_most_24_clips_and_only_with_previews(tmp_path: Path) -> None:
    from macedance.datasets.curation.card import CONTACT_SHEET, SHEET_TILES, sheet_tiles

    errors = [float(e) for e in np.random.default_rng(0).permutation(30)]
    rows = _rows(tmp_path / "big", errors)
    text = _card(tmp_path / "big", rows)
    tiles, total = sheet_tiles(tmp_path / "big", rows)
    assert (len(tiles), total) == (SHEET_TILES, 30) and "the 24 of 30 clips" in text
    assert [r.reproj_px for r in tiles] == sorted(errors, reverse=True)[:SHEET_TILES]
    # a build without --preview: no stills, no sheet, no section
    plain = tmp_path / "plain"
    plain.mkdir()
    rows = _rows(plain, [1.0, 2.0], stills=False)
    for r in rows:
        r.preview_path = None
    text = _card(plain, rows)
    assert "Fit previews" not in text and not (plain / CONTACT_SHEET).exists() and not (plain / "previews").exists()


class _Backend:
    skeleton = "mediapipe33"

    def info(self) -> dict[str, str]:
        return {"backend": "fake"}


@pytest.mark.parametrize("preview", [False, True])
def test_export_writes_fit_previews_only_with_preview(tmp_path: Path, preview: bool) -> None:
    from macedance.datasets.curation.outcome import SourceOutcome
    from macedance.datasets.from_video.export import export_clips
    from macedance.datasets.from_video.params import BuildParams
    from macedance.io.video import probe_video

    size = (96, 64)
    motion, camera, uv = _scene(size)
    video, _ = _source(tmp_path, size)
    info = probe_video(video)
    outcome = SourceOutcome.start("src.mp4", "ab" * 32)
    a, b = 1, motion.num_frames
    cid = f"{outcome.video_id}_s000_c00"
    base = {"candidate_id": cid, "shot": 0, "start_frame": a, "end_frame": b, "reproj_px": 2.5, "reproj_rel": 0.01, "landmark_mm": 0.0}
    fit = {"motion": motion.slice(a, b), "camera": camera.to_dict(), "reproj_px": 2.5, "reproj_rel": 0.01, "landmark_mm": 0.0,
           "fitter": {"name": "builtin", "version": "1"}, "phys": {}}
    out = tmp_path / "out"
    export_clips(video, info, outcome, out=out, params=BuildParams(preview=preview, videos=False), genre=None, backend=_Backend(),
                 kept=[(cid, base, _keypoints(uv[a:b]), fit, None)], music=None)
    assert outcome.rows[0].kept and (out / "motions" / f"{cid}.npz").is_file()
    if not preview:
        assert outcome.rows[0].preview_path is None and not (out / "previews").exists()
        return
    assert outcome.rows[0].preview_path == f"previews/{cid}.mp4"
    p = probe_video(out / "previews" / f"{cid}.mp4")
    assert (p.frames, p.width, p.fps) == (b - a, 2 * size[0], FPS)  # the source rate, not the motion files' 30 fps
    assert (out / "previews" / f"{cid}.jpg").is_file()
