"""Choices with a fixed vocabulary are Literals checked at construction; library errors name parameters and the
CLI maps them to its options."""

from __future__ import annotations

import dataclasses

import pytest

from macedance.errors import ValidationError
from macedance.metrics.motion.presets import CLEAN, PRESETS, MotionPreset, register_preset
from macedance.models.motion_expert import ExpertConfig
from macedance.music.presets import MUSIC_PRESETS


def test_preset_rejects_unknown_normalize_naming_field_and_choices():
    with pytest.raises(ValidationError) as err:
        register_preset(dataclasses.replace(CLEAN, name="typo-normalize", normalize="per-set"))
    msg = str(err.value)
    assert "'normalize'" in msg and "'per_set'" in msg and "'gt'" in msg and "'per-set'" in msg
    assert "typo-normalize" not in PRESETS


def test_preset_rejects_unknown_choice_inside_a_tuple():
    with pytest.raises(ValidationError, match="'metrics'"):
        MotionPreset(**{**CLEAN.to_dict(), "name": "bad", "metrics": ("fid_k", "fid_z")})


def test_preset_rejects_unknown_beat_tracker():
    with pytest.raises(ValidationError, match="beat_tracker"):
        dataclasses.replace(CLEAN, name="bad-tracker", beat_tracker="no-such-tracker")


def test_every_registered_preset_passes_its_own_check():
    for p in PRESETS.values():
        assert dataclasses.replace(p) == p
    for m in MUSIC_PRESETS.values():
        assert dataclasses.replace(m) == m


def test_config_records_check_choices_and_old_checkpoints_still_load():
    with pytest.raises(ValidationError, match="'mixer'"):
        ExpertConfig.tiny(mixer="lstm")
    cfg = ExpertConfig.tiny()
    assert ExpertConfig.from_dict({**cfg.to_dict(), "unknown_future_key": 1}) == cfg


def test_library_errors_name_parameters_and_the_cli_names_options(tmp_path):
    from typer.testing import CliRunner

    from macedance.cli import app
    from macedance.datasets.from_video.params import BuildParams

    with pytest.raises(ValidationError) as err:
        BuildParams(min_clip=8.0, max_clip=5.0)
    assert "min_clip/max_clip" in str(err.value) and "--" not in str(err.value)
    (tmp_path / "raw").mkdir()
    res = CliRunner().invoke(app, ["data", "build", str(tmp_path / "raw"), str(tmp_path / "out"), "--min-clip", "8", "--max-clip", "5"])
    assert res.exit_code == 2
    assert "--min-clip/--max-clip" in res.output
