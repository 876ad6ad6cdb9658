"""The build's pluggable fit stage (:mod:`macedance.pose.fitters`): a plug-in found through its entry point
(``tests/plugins``: an installed-distribution layout, ``*.dist-info/entry_points.txt``, on ``sys.path``), a
whole ``data build`` through it, and the checks on what a plug-in returns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from macedance.datasets.curation.manifest import read_manifest
from macedance.datasets.from_video import BuildParams, build_dataset
from macedance.datasets.from_video.shots import ShotParams
from macedance.datasets.synthetic_video import ShotSpec, write_dance_video
from macedance.errors import MaceDanceError, ValidationError
from macedance.pose.fitters import FitInput, FitOutput, check_output, get_fitter, list_fitters

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture
def plugin_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))


def test_plugin_is_found_through_its_entry_point(plugin_path: None) -> None:
    assert list_fitters()[0] == "smplify" and "demo-fitter" in list_fitters()
    fitter = get_fitter("demo-fitter", {"height_m": 1.6})
    assert (fitter.name, fitter.version, fitter.config()) == ("demo-fitter", "0.1", {"height_m": 1.6, "delegate": False})


def test_unknown_fitter_and_bad_options_are_refused(plugin_path: None) -> None:
    with pytest.raises(ValidationError, match="demo-fitter"):
        BuildParams(fitter="gvhmr")
    with pytest.raises(ValidationError, match="FitConfig"):
        get_fitter("smplify", {"iterations_typo": 3})
    with pytest.raises(MaceDanceError, match="'demo-fitter' could not be loaded: TypeError"):
        get_fitter("demo-fitter", {"nope": 1})


def test_plugin_output_is_checked() -> None:
    from macedance.motion.camera import PinholeCamera
    from macedance.motion.skeleton import builtin_skeleton
    from macedance.schema import Motion

    window = FitInput(Path("v.mp4"), 10, 20, np.zeros((10, 33, 3)), "mediapipe33", None, (64, 48), 15.0, builtin_skeleton())
    cam = PinholeCamera(focal=64, cx=32, cy=24, width=64, height=48)
    good = FitOutput(Motion(np.zeros((10, 24, 3)), np.zeros((10, 3)), 15.0, "y"), cam)
    assert check_output(good, window, "x") is good
    with pytest.raises(MaceDanceError, match=r"fitter 'x': motion of shape poses \(9, 24, 3\)"):
        check_output(FitOutput(Motion(np.zeros((9, 24, 3)), np.zeros((9, 3)), 15.0, "y"), cam), window, "x")
    with pytest.raises(MaceDanceError, match="at 30.0 fps, expected the source's 15.0"):
        check_output(FitOutput(Motion(np.zeros((10, 24, 3)), np.zeros((10, 3)), 30.0, "y"), cam), window, "x")
    with pytest.raises(MaceDanceError, match="returned dict, expected FitOutput"):
        check_output({}, window, "x")


def test_build_through_a_plugin_fitter(plugin_path: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    raw = tmp_path / "raw"
    raw.mkdir()
    write_dance_video(raw / "a.mp4", [ShotSpec(2.6, bpm=100)], fps=15.0, size=(320, 240), seed=1)

    def build(name: str, **options: object) -> list[dict]:
        params = BuildParams(min_clip=2.0, max_clip=3.0, fitter="demo-fitter", fit=options, videos=False, plausibility={},
                             shots=ShotParams(detector="histogram"))
        build_dataset(raw, tmp_path / name, params=params, command="test")
        return [r for r in read_manifest(tmp_path / name / "manifest.parquet") if r["candidate_id"].count("_c")]

    # the plug-in's own estimate goes through the build's common checks and measures
    rows = build("delegate", delegate=True)
    assert [r["code"] for r in rows] == ["kept"], [(r["code"], r["reason"]) for r in rows]
    r = rows[0]
    assert 0 < r["reproj_rel"] < 0.08 and all(np.isfinite(r[k]) for k in r if k.startswith("phys_"))
    clip = json.loads((tmp_path / "delegate" / "clips.jsonl").read_text().splitlines()[0])
    assert clip["provenance"]["fit"]["fitter"] == {"name": "demo-fitter", "version": "0.1"}
    # a crude estimate (a rest pose that does not follow the dancer) is rejected by the same reprojection check
    rows = build("rest")
    assert [r["code"] for r in rows] == ["fit-error"] and "reprojection error" in rows[0]["reason"]
    # a plug-in that fails on a window rejects that clip with its reason, and the build goes on
    rows = build("broken", height_m=-1.0)
    assert [r["code"] for r in rows] == ["fit-error"] and "fitter 'demo-fitter' failed: ValueError: height_m" in rows[0]["reason"]
