"""``single_threaded_blas``: one BLAS thread inside the block, from any Python thread, whatever ran before.

threadpoolctl lets only one Python thread change OpenBLAS's process-wide thread count and silently ignores
the others; the first version of the guard left the main thread in control, so in a process whose main thread
had analysed music before, a build's music thread computed with two threads and the dataset bytes depended on
the test order (found by CI: the in-process build differed from a 2-worker build in its music features)."""

from __future__ import annotations

import threading

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from macedance.determinism import single_threaded_blas


def _blas_threads() -> list[int]:
    return sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def _in_thread(fn) -> list:
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_the_limit_holds_in_any_thread_after_others_used_threadpoolctl() -> None:
    import scipy.linalg  # noqa: F401 - both OpenBLAS copies loaded

    def inside() -> list[int]:
        with single_threaded_blas():
            return _blas_threads()

    assert set(inside()) == {1}
    assert set(_in_thread(inside)) == {1}  # after the main thread used the guard
    threadpool_limits(limits=2, user_api="blas")  # another library takes control and never gives it back
    assert set(_in_thread(inside)) == {1}
    with single_threaded_blas(), single_threaded_blas():  # nested in one thread
        assert set(_blas_threads()) == {1}


def test_music_features_are_the_same_bytes_in_a_thread_and_in_the_main_thread() -> None:
    from macedance.io.audio import Audio
    from macedance.music.features import analyze
    from macedance.music.presets import get_music_preset
    from macedance.music.synth import beat_times, drum_track

    preset = get_music_preset("clean")
    y = drum_track(beat_times(117, 6.0, start=0.1), 6.0, sr=preset.sample_rate, seed=3).astype(np.float32)
    audio = Audio(y, preset.sample_rate, "drums")
    main = analyze(audio, preset, name="drums").features
    with threadpool_limits(limits=2, user_api="blas"):
        threaded = _in_thread(lambda: analyze(audio, preset, name="drums").features)
    assert main.tobytes() == threaded.tobytes()
