"""The optional rtmlib backend, wired to a hand-built RTMPose-format ONNX model (SimCC outputs with
known peaks), so the box → affine crop → SimCC decoding → image pixels chain is checked offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from macedance.errors import InputNotFoundError, ValidationError

onnx = pytest.importorskip("onnx", reason="onnx is a dev extra")
pytest.importorskip("onnxruntime", reason="onnxruntime is in the rtmlib extra")
pytest.importorskip("rtmlib", reason="rtmlib is installed by make (pip install --no-deps rtmlib)")

W_IN, H_IN, K = 192, 256, 17


def _peaks() -> tuple[np.ndarray, np.ndarray]:
    """Keypoint k sits at input pixel (20 + 9k, 30 + 12k)."""
    k = np.arange(K)
    return 20.0 + 9 * k, 30.0 + 12 * k


def _tiny_rtmpose(path: Path, peak: float = 0.9) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    x_in, y_in = _peaks()
    sx = np.zeros((1, K, 2 * W_IN), np.float32)
    sy = np.zeros((1, K, 2 * H_IN), np.float32)
    sx[0, np.arange(K), (2 * x_in).astype(int)] = peak  # SimCC: 2 bins per input pixel
    sy[0, np.arange(K), (2 * y_in).astype(int)] = peak
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["cx", "z"], ["simcc_x"]),
        helper.make_node("Add", ["cy", "z"], ["simcc_y"]),
    ]
    inits = [numpy_helper.from_array(sx, "cx"), numpy_helper.from_array(sy, "cy"), numpy_helper.from_array(np.float32(0), "zero")]
    graph = helper.make_graph(nodes, "tiny_rtmpose", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, H_IN, W_IN])],
                              [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [1, K, 2 * W_IN]),
                               helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [1, K, 2 * H_IN])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_rtmlib_backend_maps_simcc_peaks_back_to_image_pixels(tmp_path: Path) -> None:
    skimage_data = pytest.importorskip("skimage.data")
    from macedance.pose.backends import get_backend
    from macedance.pose.person_detector import PersonDetector

    img = skimage_data.astronaut()
    backend = get_backend("rtmlib", _tiny_rtmpose(tmp_path / "tiny.onnx"))
    assert backend.skeleton == "coco17" and backend.info()["weights_sha256"]
    backend.start_shot()
    kp, world = backend(img)
    assert world is None and kp.shape == (K, 3)
    np.testing.assert_allclose(kp[:, 2], 0.9, atol=1e-6)  # the float32 constant 0.9 (2.4e-8 from 0.9), passed through
    # expected: the detector's largest box, padded 1.25×, widened to the 3:4 input aspect, mapped linearly
    boxes = PersonDetector().detect(img)
    x0, y0, x1, y1 = boxes[np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])), :4]
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    bw, bh = (x1 - x0) * 1.25, (y1 - y0) * 1.25
    bw, bh = (bw, bw / 0.75) if bw > bh * 0.75 else (bh * 0.75, bh)
    x_in, y_in = _peaks()
    # Both sides start from the same detector box (its float32 round-off cancels) and the peaks sit exactly on
    # SimCC bins: measured 6e-14 px. 1 px is below one bin (0.5 input px = 1.7 image px here), so it still checks
    # the decoding bin for bin, while float64 round-off is ~1e-13 px.
    np.testing.assert_allclose(kp[:, 0], c[0] + (x_in / W_IN - 0.5) * bw, atol=1.0)
    np.testing.assert_allclose(kp[:, 1], c[1] + (y_in / H_IN - 0.5) * bh, atol=1.0)
    blank, _ = backend(np.full((240, 320, 3), 128, np.uint8))
    assert blank[:, 2].max() == 0.0  # nobody detected → no keypoints (blank logits ≥ 3.7 below the threshold)


def test_rtmlib_backend_errors_name_the_file(tmp_path: Path) -> None:
    from macedance.pose.backends import get_backend

    with pytest.raises(ValidationError, match="pose_weights"):
        get_backend("rtmlib")
    with pytest.raises(InputNotFoundError, match="nope.onnx"):
        get_backend("rtmlib", tmp_path / "nope.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ValidationError, match="bad.onnx"):
        get_backend("rtmlib", tmp_path / "bad.onnx")
    with pytest.raises(ValidationError, match="pose_backend"):
        get_backend("openpose")
