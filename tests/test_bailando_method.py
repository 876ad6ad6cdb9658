"""``bailando-official`` as a method: the released folder layout, first-token modes, the 60-fps joint output and its
native file, ``generate motion``, ``weights import``, ``eval motion`` and ``bench run`` (tiny random weights of the
parity fixture; the network itself is proven equal to the original code in test_official_bailando.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from macedance.cli import app
from macedance.errors import InputNotFoundError, ValidationError
from macedance.io.motion_formats import read_motion_file
from macedance.methods.official.bailando import ReleasedBailando, seed_positions
from macedance.methods.official.output import write_official_pkl
from macedance.models.official.bailando import BailandoVQVAEConfig, SepVQVAER
from macedance.models.official.bailando_gpt import BailandoGPTConfig, CrossCondGPT2AC, bailando_generate
from macedance.schema import Joints3D, load_generated

from bailando_release import write_release
from conftest import parity_arrays, tiny_aistpp

pytestmark = pytest.mark.usefixtures("one_torch_thread")
runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _models(record, vocab=None):
    st = json.loads(json.dumps(record["structure"]))
    gen = json.loads(json.dumps(record["structure_generate"]))
    if vocab:  # room for the demo codes 423/12
        for part in ("base", "head"):
            gen[part].update(vocab_size_up=vocab, vocab_size_down=vocab)
        gen["head"]["vocab_size"] = vocab
        for half in ("up_half", "down_half"):
            st[half]["l_bins"] = vocab
    vq = SepVQVAER(BailandoVQVAEConfig.from_record(st["up_half"]), BailandoVQVAEConfig.from_record(st["down_half"]))
    return vq, CrossCondGPT2AC(BailandoGPTConfig.from_record(gen)), {"structure": st, "structure_generate": gen}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The parity fixture's tiny models saved as Bailando's released experiments folder."""
    fx = parity_arrays("bailando_official_tiny")
    record = json.loads(str(fx["config_json"]))
    vq, gpt, _ = _models(record)
    vq.load_state_dict({k[3:]: torch.from_numpy(v) for k, v in fx.items() if k.startswith("vq.")})
    gpt.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in fx.items() if k.startswith("gpt.")})
    root = write_release(tmp_path_factory.mktemp("bailando"), vq.eval(), gpt.eval(), record)
    return root, fx, record


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    path = tmp_path_factory.mktemp("music") / "song.npy"
    np.save(path, np.random.default_rng(3).normal(size=(20, 438)).astype(np.float32))
    return path


def _seed(seconds=1.0):
    t = np.arange(int(60 * seconds))[:, None, None]
    pos = np.random.default_rng(5).normal(scale=0.2, size=(1, 24, 3)) + 0.01 * np.sin(t / 7.0 + np.arange(72).reshape(1, 24, 3))
    return Joints3D(pos, 60.0, "y")


def test_generation_is_the_official_eval_pipeline(release, music):
    root, _, _ = release
    m = ReleasedBailando(root)
    feats = np.load(music)
    seed = _seed()
    out, arrays = m.generate_file(music, seconds=None, seed=0, genre=None, seed_motion=seed)
    # by hand, as actor_critic.py eval(): GT first codes, last music row repeated, greedy, root integrated
    up, down = m.vqvae.encode(seed_positions(seed))
    music_in = torch.from_numpy(np.concatenate([feats, feats[-1:]])[None])
    tok_up, tok_down, pos = bailando_generate(m.vqvae, m.gpt, first_up=up[:, :1], first_down=down[:, :1], music=music_in)
    flat = pos[0].numpy()
    expected = flat + np.tile(flat[:, :3], (1, 24))
    expected[:, :3] = flat[:, :3]
    assert tok_up.shape == (1, 21) and out.num_frames == 8 * 21 and out.fps == 60.0 and out.up_axis == "y"
    assert np.array_equal(arrays["pred_position"], expected.astype(np.float32))
    assert np.array_equal(out.positions, arrays["pred_position"].reshape(-1, 24, 3).astype(np.float64))
    assert np.array_equal(out.positions[0, 0], [0, 0, 0])  # the root starts at the origin (global_vel)
    assert out.meta["first_codes"] == f"{int(up[0, 0])}/{int(down[0, 0])}" and out.meta["first_tokens"] == "ground-truth"
    cut = m.generate(music, seconds=1.0, seed=7, genre="gBR", seed_motion=seed)  # greedy: the seed changes nothing
    assert np.array_equal(cut.positions, out.positions[:60])


def test_seed_positions_follow_load_test_data_aist():
    j = _seed(seconds=16 / 60)  # 16 frames: a multiple of 8 still gets 8 more (the original's (T // 8 + 1) · 8)
    x = seed_positions(j)[0].numpy()
    flat = j.positions.reshape(16, 72)
    assert x.shape == (24, 72) and np.allclose(x[:16, :3], flat[:, :3]) and np.allclose(x[16:], x[15])
    assert np.allclose(x[:16, 3:], (flat - np.tile(flat[:, :3], (1, 24)))[:, 3:])
    with pytest.raises(ValidationError, match="seed motion fps"):
        seed_positions(Joints3D(j.positions, 30.0))


def test_first_token_modes_and_errors(release, music, tmp_path):
    root, _, record = release
    m = ReleasedBailando(root)
    with pytest.raises(ValidationError, match="seed motion: expected the ground-truth dance"):
        m.generate(music, seconds=None, seed=0, genre=None)
    with pytest.raises(ValidationError, match="first_tokens"):
        ReleasedBailando(root, first_tokens="random")
    with pytest.raises(ValidationError, match="music_preset"):
        ReleasedBailando(root, music_preset="edge")
    with pytest.raises(ValidationError, match="demo codes 423/12"):  # the tiny vocabulary has no code 423
        ReleasedBailando(root, first_tokens="demo").generate(music, seconds=None, seed=0, genre=None)
    vq, gpt, structures = _models(record, vocab=512)  # the released vocabulary: the demo codes exist
    demo_root = write_release(tmp_path / "demo", vq.eval(), gpt.eval(), {**record, **structures})
    out = ReleasedBailando(demo_root, first_tokens="demo").generate(music, seconds=None, seed=0, genre=None)
    assert out.meta["first_codes"] == "423/12" and out.num_frames == 8 * 21
    (tmp_path / "lonely").mkdir()
    gpt_only = tmp_path / "lonely" / "epoch_10.pt"
    gpt_only.write_bytes((root / "experiments/actor_critic/ckpt/epoch_10.pt").read_bytes())
    with pytest.raises(InputNotFoundError, match="weights import bailando-vqvae"):
        ReleasedBailando(gpt_only)
    with pytest.raises(InputNotFoundError, match="not Bailando's release folder"):
        ReleasedBailando(tmp_path / "lonely")


def test_native_file_reads_back_like_bailandos_metrics(release, music, tmp_path):
    root, _, _ = release
    out = ReleasedBailando(root, first_tokens="ground-truth").generate(music, seconds=None, seed=0, genre=None, seed_motion=_seed())
    path = write_official_pkl(tmp_path / "song.pkl", out)
    d = np.load(path, allow_pickle=True).item()  # how utils/metrics_new.py reads it (our own file: safe here)
    assert list(d) == ["pred_position"] and d["pred_position"].dtype == np.float32 and d["pred_position"].shape == (168, 72)
    f = read_motion_file(path)  # ours: through the restricted unpickler
    assert f.format == "bailando" and f.fps == 60.0 and f.up_axis == "y" and np.array_equal(f.joints, out.positions)
    np.save(tmp_path / "song.pkl.npy", d)  # Bailando's own write2pkl names
    assert np.array_equal(read_motion_file(tmp_path / "song.pkl.npy").joints, out.positions)


def test_generate_motion_cli_and_weights_import(release, music, tmp_path):
    root, _, _ = release
    seed_file = _seed().save(tmp_path / "gt.npz")
    r = runner.invoke(app, ["generate", "motion", "--method", "bailando-official", "--ckpt", str(root), "--music", str(music),
                            "--seed-motion", str(seed_file), "--out", str(tmp_path / "a.npz")])
    assert r.exit_code == 0, r.output
    a = load_generated(tmp_path / "a.npz")
    assert isinstance(a, Joints3D) and a.meta["first_tokens"] == "ground-truth" and "168 frames" in r.output
    for name, rel in (("bailando-gpt", "actor_critic/ckpt/epoch_10.pt"), ("bailando-vqvae", "sep_vqvae_root/ckpt/epoch_500.pt")):
        r = runner.invoke(app, ["weights", "import", name, str(root / "experiments" / rel)])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["generate", "motion", "--method", "bailando-official", "--music", str(music), "--seed-motion",
                            str(seed_file), "--out", str(tmp_path / "b.pkl")])  # the installed weights
    assert r.exit_code == 0, r.output
    assert np.array_equal(read_motion_file(tmp_path / "b.pkl").joints, a.positions)
    r = runner.invoke(app, ["generate", "motion", "--method", "edge-official", "--music", str(music), "--seed-motion",
                            str(seed_file), "--out", str(tmp_path / "c.pkl")])
    assert r.exit_code == 2 and "only with --method bailando-official" in r.output


def test_bench_run_and_eval_on_joint_outputs(release, tmp_path):
    """aistpp-motion with the official eval's ground-truth first codes, scored by the Bailando preset; the record names
    both files and the non-commercial licence; ``eval motion`` reads the method's native files."""
    from macedance.benchmark.records import load_record

    root, _, _ = release
    data, audio = tiny_aistpp(tmp_path, seconds=20.5)
    r = runner.invoke(app, ["bench", "run", "--task", "aistpp-motion", "--method", "bailando-official", "--ckpt", str(root),
                            "--data", str(data), "--music", str(audio), "--out", str(tmp_path / "res"), "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    rec = load_record(next((tmp_path / "res").glob("*.json")))
    assert sorted(rec["method"]["weights"]) == ["epoch_10.pt (GPT)", "epoch_500.pt (VQ-VAE)"]
    assert "non-commercial" in rec["method"]["licence"] and "motion-seed" in rec["method"]["capabilities"]
    assert rec["scores"]["fid_k"]["value"] is not None and not rec["dataset"]["skipped"]
    assert len(rec["samples"]) == 2 and all((tmp_path / "res" / s["file"]).stat().st_size > 1000 for s in rec["samples"])
    from macedance.leaderboard.build import build_boards, load_records
    from macedance.leaderboard.render import markdown

    md = markdown(build_boards(load_records([tmp_path / "res"])[0])[0])
    card = next(x for x in md.splitlines() if x.startswith("- **bailando-official**"))
    assert "NTU S-Lab License 1.0: non-commercial use only" in card and "seeded with each clip's ground-truth motion" in card
    outputs = sorted((tmp_path / "res").rglob("outputs/*.npz"))
    assert len(outputs) == 2 and all(isinstance(load_generated(p), Joints3D) for p in outputs)
    assert all(load_generated(p).meta["first_tokens"] == "ground-truth" for p in outputs)
    pred = tmp_path / "pred"
    pred.mkdir()
    for p in outputs:
        write_official_pkl(pred / f"{p.stem}.pkl", load_generated(p))
    r = runner.invoke(app, ["eval", "motion", "--pred", str(pred), "--gt", str(data / "motions"), "--preset", "bailando-aistpp"])
    assert r.exit_code == 0, r.output


def test_bench_methods_lists_it_with_its_licence_and_two_weight_entries():
    r = runner.invoke(app, ["bench", "methods"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())  # however the terminal wraps it
    block = text[text.index("bailando-official: Bailando"):]
    assert "NTU S-Lab" in block and "installed bailando-gpt" in block and "; bailando-vqvae" in block  # installed or not


def test_joints3d_file_and_its_errors(tmp_path):
    from macedance.errors import DataFormatError
    from macedance.schema import load_joints, load_motion

    j = Joints3D(np.random.default_rng(0).normal(size=(5, 24, 3)), 60.0, "y", {"a": "b"})
    j.save(tmp_path / "j.npz")
    back = load_generated(tmp_path / "j.npz")
    assert isinstance(back, Joints3D) and np.array_equal(back.positions, j.positions) and back.meta == {"a": "b"}
    z = j.to_up_axis("z")
    assert np.array_equal(z.positions[..., 2], j.positions[..., 1]) and np.array_equal(z.to_up_axis("y").positions, j.positions)
    f = read_motion_file(tmp_path / "j.npz")
    assert f.format == "macedance" and f.motion is None and np.array_equal(f.positions(), j.positions)
    with pytest.raises(DataFormatError, match="expected a motion file, found kind 'joints3d'"):
        load_motion(tmp_path / "j.npz")
    with pytest.raises(DataFormatError, match="joints3d file .joint positions only.; a motion with rotations is needed"):
        from macedance.io.motion_formats import read_motion

        read_motion(tmp_path / "j.npz")
    with pytest.raises(ValidationError, match=r"Joints3D.positions: expected shape \(T, J, 3\)"):
        Joints3D(np.zeros((5, 24)), 60.0)
    with pytest.raises(ValidationError, match="non-finite"):
        Joints3D(np.full((2, 24, 3), np.nan), 60.0)
    assert isinstance(load_joints(tmp_path / "j.npz"), Joints3D)


def test_bailando_files_are_read_without_running_their_pickle(tmp_path):
    from macedance.errors import UnsafePickleError

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    np.save(tmp_path / "evil.pkl", np.array({"pred_position": Evil()}, dtype=object), allow_pickle=True)  # evil.pkl.npy
    with pytest.raises(UnsafePickleError, match="builtins.print"):
        read_motion_file(tmp_path / "evil.pkl.npy")
    (tmp_path / "evil.pkl").write_bytes((tmp_path / "evil.pkl.npy").read_bytes())  # the same bytes under a .pkl name
    with pytest.raises(UnsafePickleError, match="builtins.print"):
        read_motion_file(tmp_path / "evil.pkl")
    np.save(tmp_path / "short.npy", {"pred_position": np.zeros((4, 70))})
    with pytest.raises(ValidationError, match="joint array"):
        read_motion_file(tmp_path / "short.npy")


def test_folder_method_reads_bailandos_own_outputs(tmp_path):
    from macedance.methods.registry import FolderMethod

    out = tmp_path / "pkl" / "ep000010"
    out.mkdir(parents=True)
    pos = np.random.default_rng(1).normal(size=(30, 72)).astype(np.float32)
    np.save(out / "clipA.pkl", {"pred_position": pos})  # write2pkl: clipA.pkl.npy
    got = FolderMethod(out).generate(Path("m.wav"), None, 0, None, "clipA")
    assert isinstance(got, Joints3D) and got.fps == 60.0 and np.array_equal(got.positions, pos.reshape(30, 24, 3))
    assert got.meta["source_format"] == "bailando"


def test_the_cc_motion_gpt_checkpoint_without_critic_runs_alike(release, music, tmp_path):
    """The third released file, ``experiments/cc_motion_gpt/ckpt/epoch_400.pt`` (``CrossCondGPT2``: no critic), in the
    same release folder: with the actor-critic's base and head weights it decodes the same greedy dance (the critic
    never takes part in sampling)."""
    from bailando_release import easydict_stand_in, save_released

    root, _, record = release
    ac = ReleasedBailando(root)
    gen = {k: v for k, v in record["structure_generate"].items() if k != "critic_net"}
    gpt = CrossCondGPT2AC(BailandoGPTConfig.from_record(gen))
    assert gpt.cfg.critic is None
    gpt.load_state_dict({k: v for k, v in ac.gpt.state_dict().items() if not k.startswith("critic_net.")}, strict=True)
    path = root / "experiments/cc_motion_gpt/ckpt/epoch_400.pt"
    with easydict_stand_in() as easydict:
        save_released(path, gpt, {**record, "structure_generate": gen, "vqvae_weight": "experiments/sep_vqvae_root/ckpt/epoch_500.pt"},
                      400, easydict)
    seed = _seed()
    a = ac.generate(music, seconds=None, seed=0, genre=None, seed_motion=seed)
    b = ReleasedBailando(path).generate(music, seconds=None, seed=0, genre=None, seed_motion=seed)
    assert np.array_equal(a.positions, b.positions) and b.meta["checkpoint"] == str(path)
