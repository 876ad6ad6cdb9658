"""Music-analysis presets: named, frozen records of every choice (sample rate, hop, tempo prior …).

Legacy presets reproduce the feature/beat extraction scripts of published methods; ``clean`` is the
default for new data. Every output records the preset name and hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from macedance.errors import ValidationError
from macedance.presets import PresetRecord


@dataclass(frozen=True)
class MusicPreset(PresetRecord):
    """Choices of the music features and beat tracker."""

    name: str
    description: str
    reference: str
    fps: float = 30.0  # feature frame rate; the analysis sample rate is fps × hop
    hop: int = 512
    layout: Literal["35", "bailando"] = "35"  # "35" = [onset env, 20 MFCC, 12 chroma_cens, onset peaks, beats]; "bailando" (438-d)
    start_bpm: str = "aist-rule"  # "aist-rule" (from the AIST++ music id), "estimate", or a number as text
    tightness: float = 100.0
    trim: bool = True  # librosa.beat.beat_track(trim=…)
    beat_source: Literal["feature-envelope", "percussive-median", "refined", "librosa-default"] = "feature-envelope"  # "feature-envelope", "percussive-median", "refined", "librosa-default"
    beat_sr: int | None = None  # sample rate of a separate beat analysis (None: the feature rate)
    beat_hop: int = 512
    beat_fmax: float | None = None  # highest mel frequency of the beat onset envelope
    refine_window: float = 0.07  # s: refined beats snap to the strongest fine-onset peak within ±this
    crop_frames: int | None = None  # EDGE keeps exactly 5 s × fps rows
    # "current": librosa as installed (≥ 0.10); "0.8.1" (bailando layout only): as librosa 0.8.1 computed it —
    # reflect-padded STFTs, onset mel bands up to 11025 Hz, its beat tracker, its CQT (resampy kaiser_fast octaves)
    librosa_compat: Literal["current", "0.8.1"] = field(default="current", metadata={"hash": "omit-default"})
    # how files are read: "macedance" (soundfile/PyAV + soxr HQ, as librosa.load) or "essentia" (Essentia's MonoLoader, as
    # Bailando's preprocessing; our loader, logged, when the essentia package is not installed)
    audio_loader: Literal["macedance", "essentia"] = field(default="macedance", metadata={"hash": "omit-default"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.librosa_compat != "current" and self.layout != "bailando":
            raise ValidationError(f"MusicPreset {self.name!r} field 'librosa_compat'", "'current' for the 35-d layout",
                                  repr(self.librosa_compat))

    @property
    def sample_rate(self) -> int:
        return int(round(self.fps * self.hop))


FACT = MusicPreset(
    name="fact", fps=60.0,
    description="FACT/mint tools/preprocessing.py: 35-d librosa features at 60 fps (sr 30720, hop 512); beats "
    "from beat_track on the onset envelope with start_bpm from the AIST++ music id (80 + 10·d; House 110 + 5·d) "
    "and tightness 100.",
    reference="liruilong940607/mint@d40065a tools/preprocessing.py (cache_audio_features)",
)
EDGE = MusicPreset(
    name="edge", fps=30.0, crop_frames=150, start_bpm="aist-rule-or-estimate",
    description="EDGE data/audio_extraction/baseline_features.py: the same 35-d set at 30 fps (sr 15360), "
    "cut to 150 rows (5-s clips); start_bpm from the music id, else librosa.beat.tempo at 22050 Hz.",
    reference="Stanford-TML/EDGE@17c3428 data/audio_extraction/baseline_features.py",
)
LODGE = MusicPreset(
    name="lodge", fps=30.0, start_bpm="aist-rule-or-estimate",
    description="LODGE data/code/extract_musicfea35.py (FineDance): the 35-d set at 30 fps (sr 15360), full length; "
    "start_bpm from the music id, else librosa.beat.tempo at 22050 Hz. The same computation as EDGE's "
    "baseline_features.py without its 5-s crop: the features of the released MACE-Dance Motion Expert (its dataset "
    "reads baseline_feats/*.npy of 40-s slices; its extraction script is not released).",
    reference="li-ronghui/LODGE@a898e59 data/code/extract_musicfea35.py",
)
BAILANDO = MusicPreset(
    name="bailando", fps=60.0, layout="bailando", beat_source="percussive-median", start_bpm="120",
    description="Bailando _prepro_aistpp_music.py + extractor.py at 60 fps (sr 30720): 438 columns = 20 MFCC of "
    "the dB mel spectrogram, 20 ΔMFCC (width 3), 12 chroma_cqt of the HPSS harmonic part (7 octaves at 30720 Hz, "
    "else 5), the onset envelope of the HPSS percussive part with median aggregation, beats (beat_track with "
    "librosa's defaults on that envelope), and a 384-row tempogram. Bailando loads audio with Essentia's "
    "MonoLoader, whose resampling differs slightly from ours (parity is tested on identical samples).",
    reference="lisiyao21/Bailando@cc90b98 _prepro_aistpp_music.py, extractor.py",
)
BAILANDO_GPT = MusicPreset(
    name="bailando-gpt", fps=7.5, layout="bailando", beat_source="percussive-median", start_bpm="120",
    description="The music Bailando's GPT (cc_motion_gpt / actor_critic, external_wav data/aistpp_music_feat_7.5fps) "
    "reads: _prepro_aistpp_music.py with its default sampling rate 15360·2/8 = 3840 Hz and hop 512, so 7.5 fps = one "
    "row per 8-frame motion token at 60 fps (row k ↔ time k / 7.5 s ↔ motion frame 8k). The same 438 columns as "
    "bailando (chroma_cqt over 5 octaves, as the script uses at any rate but 30720 Hz). Bailando's test loader "
    "appends a copy of the last row and its evaluation drops row 0 (music_seq[:, 1:]): the GPT sees token k with "
    "row k + 1, the row of the token it predicts. Computed with "
    "librosa ≥ 0.10; under the librosa 0.8.1 Bailando pins, onset_strength's fmax defaulted to 11025 Hz, which "
    "at 3840 Hz leaves half the mel bands empty, so its median envelope, the beats and the tempogram (columns "
    "52–437) are zero but where every other band rises (all zero on the shared click track); its STFTs padded by "
    "reflection (edge MFCC rows differ) and its CQT differs (chroma_cqt by up to 0.16 there) — bailando-gpt-0.8.1 "
    "computes it that way. Bailando loads audio with Essentia's MonoLoader; from a file, "
    "our resampling to 3840 Hz moves the MFCC by up to 1.3 % of their range on the shared click track, beats "
    "unchanged (parity is tested on identical samples).",
    reference="lisiyao21/Bailando@cc90b98 _prepro_aistpp_music.py (--sampling_rate default), extractor.py, "
    "configs/cc_motion_gpt.yaml, utils/functional.py (load_test_data_aist)",
)
BAILANDO_GPT_081 = MusicPreset(
    name="bailando-gpt-0.8.1", fps=7.5, layout="bailando", beat_source="percussive-median", start_bpm="120",
    librosa_compat="0.8.1", audio_loader="essentia",
    description="bailando-gpt as computed under the librosa 0.8.1 Bailando pins (requirements.txt), i.e. the features "
    "its released GPT was trained on: STFTs padded by reflection (MFCC edge rows, HPSS), onset_strength with 0.8.1's "
    "mel fmax default 11025 Hz (at 3840 Hz 64 of the 128 mel bands are empty, so the median envelope is non-zero only "
    "where every other band rises — all zero on the shared click track — and so are beats and tempogram), 0.8.1's "
    "beat tracker (its trimming drops the last beat) and 0.8.1's CQT (Q from 2^(1/36) − 1, octaves halved with "
    "resampy's kaiser_fast, re-implemented here). Equal to the script under librosa 0.8.1 on identical samples up "
    "to float32 round-off (tests/test_music.py). Files are read with Essentia's MonoLoader at 3840 Hz as the script "
    "does (the essentia extra; bit-identical samples), else with ours (logged; MFCC up to 1.3 % of their range off).",
    reference="lisiyao21/Bailando@cc90b98 _prepro_aistpp_music.py, extractor.py, requirements.txt (librosa==0.8.1)",
)
BAILANDO_081 = MusicPreset(
    name="bailando-0.8.1", fps=60.0, layout="bailando", beat_source="percussive-median", start_bpm="120",
    librosa_compat="0.8.1", audio_loader="essentia",
    description="bailando (60 fps, sr 30720) as computed under the librosa 0.8.1 Bailando pins: the features "
    "Bailando++'s music Transformer was trained on (data/aistpp_music_feat_60fps; it reads columns 0–54). Reflect-padded "
    "STFTs, onset_strength with 0.8.1's mel fmax default 11025 Hz, 0.8.1's beat tracker and CQT, as bailando-gpt-0.8.1; "
    "files read with Essentia's MonoLoader at 30720 Hz (the essentia extra), else with ours (logged).",
    reference="lisiyao21/Bailando@cc90b98 _prepro_aistpp_music.py --sampling_rate 30720, extractor.py, requirements.txt "
    "(librosa==0.8.1); tpami_bailandopp/configs/actor_critic_music_trans_400_mix_rotmat.yaml (external_wav)",
)
MACE = MusicPreset(
    name="mace-video2d", fps=30.0, beat_source="librosa-default", beat_sr=8320, start_bpm="120",
    description="Official MACE-Dance motion evaluation beats: librosa.load(sr=8320), beat_track with defaults "
    "(start_bpm 120, tightness 100, trim), beat times (the evaluation turns them into 16-fps frames by "
    "truncation); features: the 35-d set at 30 fps.",
    reference="AMAP-ML/MACE-Dance@8f92d12 Evaluation-Motion/calculate_metric.py (load_valid_beats)",
)
CLEAN = MusicPreset(
    name="clean", fps=30.0, start_bpm="120", beat_source="refined", beat_sr=22050, beat_hop=256, beat_fmax=1500.0,
    description="macedance default: the 35-d set at the motion rate (sr = fps × 512); beats tracked separately at "
    "22050 Hz, hop 256 on a 0–1.5 kHz onset envelope (kick/snare rather than hi-hats) with librosa's tempo prior, "
    "then each beat snapped to the strongest onset of a hop-64 envelope within ±70 ms (removes the ~20 ms "
    "frame latency); no dataset-specific tempo rule.",
    reference="",
)

MUSIC_PRESETS: dict[str, MusicPreset] = {
    p.name: p for p in (CLEAN, FACT, EDGE, LODGE, BAILANDO, BAILANDO_081, BAILANDO_GPT, BAILANDO_GPT_081, MACE)
}


def get_music_preset(name: str) -> MusicPreset:
    try:
        return MUSIC_PRESETS[name]
    except KeyError:
        raise ValidationError("preset", "one of " + ", ".join(sorted(MUSIC_PRESETS)), repr(name)) from None
