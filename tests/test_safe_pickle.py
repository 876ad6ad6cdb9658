import os
import pickle
import sys
import types

import numpy as np
import pytest

from macedance.errors import DataFormatError, UnsafePickleError
from macedance.motion.skeleton import load_smpl_model_arrays, skeleton_from_smplx
from macedance.safe_pickle import safe_load_pickle

from conftest import make_smpl_model_file


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_payload_round_trips(tmp_path, protocol):
    data = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.float64(2.5), "c": [1, (2, 3)],
            "d": np.array([True, False]), "e": "text", "f": np.int64(7)}
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps(data, protocol=protocol))
    out = safe_load_pickle(p)
    np.testing.assert_array_equal(out["a"], data["a"])  # unpickled bytes: exact, as are the scalar comparisons below
    assert out["a"].dtype == np.float32 and out["b"] == 2.5 and out["c"] == [1, (2, 3)] and out["f"] == 7


@pytest.mark.parametrize("payload, culprit", [(_Evil(), "system"), (_EvalEvil(), "builtins.eval")])
def test_malicious_pickle_is_refused_without_running(tmp_path, payload, culprit):
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"smpl_poses": payload}))
    with pytest.raises(UnsafePickleError, match=culprit) as info:
        safe_load_pickle(p)
    assert "nothing was executed" in str(info.value) and str(p) in str(info.value)


def test_object_arrays_are_refused(tmp_path):
    p = tmp_path / "obj.pkl"
    p.write_bytes(pickle.dumps({"x": np.array([{"a": 1}, None], dtype=object)}))
    with pytest.raises(UnsafePickleError, match="object-dtype"):
        safe_load_pickle(p)


@pytest.mark.parametrize("content", [b"", b"\x80\x04\x95\x10", b"hello world"])
def test_corrupt_pickles_are_format_errors(tmp_path, content):
    p = tmp_path / "bad.pkl"
    p.write_bytes(content)
    with pytest.raises(DataFormatError, match=str(p)):
        safe_load_pickle(p)


def _fake_module(name, cls_name):
    mod = types.ModuleType(name)
    cls = type(cls_name, (), {"__module__": name})
    setattr(mod, cls_name, cls)
    return mod, cls


def test_official_style_smpl_pickle_with_chumpy_and_sparse(tmp_path, monkeypatch, rng):
    """SMPL downloads store chumpy arrays and a scipy-sparse J_regressor: read inertly, same skeleton."""
    plain = make_smpl_model_file(tmp_path / "plain" / "SMPL_NEUTRAL.pkl", seed=5)
    arrays = load_smpl_model_arrays(plain)
    ch_mod, Ch = _fake_module("chumpy.ch", "Ch")
    sp_mod, Csc = _fake_module("scipy.sparse._csc", "csc_matrix")
    for name, mod in {"chumpy": types.ModuleType("chumpy"), "chumpy.ch": ch_mod, "scipy": types.ModuleType("scipy"),
                      "scipy.sparse": types.ModuleType("scipy.sparse"), "scipy.sparse._csc": sp_mod}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    data = dict(arrays)
    for key in ("v_template", "shapedirs", "posedirs"):
        obj = Ch.__new__(Ch)
        obj.__dict__.update({"x": arrays[key], "_dirty_vars": set()})
        data[key] = obj
    J = arrays["J_regressor"]
    csc = Csc.__new__(Csc)
    indptr = np.concatenate([[0], np.cumsum((J != 0).sum(0))])
    rows = np.concatenate([np.flatnonzero(J[:, c]) for c in range(J.shape[1])])
    csc.__dict__.update({"data": J.T[J.T != 0], "indices": rows, "indptr": indptr, "_shape": J.shape})
    data["J_regressor"] = csc
    official = tmp_path / "official" / "basicModel_neutral_lbs_10_207_0_v1.1.0.pkl"
    official.parent.mkdir()
    official.write_bytes(pickle.dumps(data, protocol=2))
    monkeypatch.delitem(sys.modules, "chumpy.ch")  # the loader must not need the real packages
    back = load_smpl_model_arrays(official)
    for key in arrays:  # chumpy/sparse payloads rebuilt from the same float64 values: exact
        np.testing.assert_array_equal(back[key], arrays[key])
    betas = rng.normal(size=10)
    # same arrays, same float64 skeleton code: measured bit-identical; 1e-12 m covers a different BLAS summation
    # order (~1e-16 m) if the two loads took different kernel paths
    np.testing.assert_allclose(skeleton_from_smplx(official.parent, betas=betas).joints,
                               skeleton_from_smplx(plain, betas=betas).joints, atol=1e-12)
