"""The committed SPIR-V matches the shader sources (by the manifest's hashes)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compile_shaders.py"


def _script():
    spec = importlib.util.spec_from_file_location("compile_shaders", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_manifest_is_current():
    cs = _script()
    variants = cs.all_variants()
    assert not cs.stale(variants), "stale SPIR-V: run python scripts/compile_shaders.py"
    listed = set(cs.load_manifest()["variants"])
    assert listed == {v[0] for v in variants}


def test_every_spv_is_listed():
    cs = _script()
    listed = set(cs.load_manifest()["variants"])
    on_disk = {p.stem.removesuffix("__desc") for p in cs.SPV.glob("*.spv")}
    assert on_disk == listed
