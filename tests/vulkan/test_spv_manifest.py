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


def _words(path):
    data = path.read_bytes()
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def _float_types(words):
    """(width, encoding or None) of every OpTypeFloat in a module."""
    out, i = [], 5
    while i < len(words):
        n, op = words[i] >> 16, words[i] & 0xFFFF
        if op == 22:
            out.append((words[i + 2], words[i + 3] if n == 4 else None))
        i += n
    return out


def test_bfloat16_modules_are_reencoded():
    """Every variant compiled with REENCODE_F16_AS_BF16 has its one 16-bit float type as bfloat16, with the
    capabilities and extension that SPV_KHR_bfloat16 asks for."""
    cs = _script()
    names = [n for n, _, d in cs.all_variants() if "REENCODE_F16_AS_BF16" in d]
    assert names
    for name in names:
        words = _words(cs.SPV / f"{name}.spv")
        halves = [t for t in _float_types(words) if t[0] == 16]
        assert halves == [(16, cs.FP_ENCODING_BFLOAT16)], name
        caps = {words[i + 1] for i in range(5, len(words) - 1) if words[i] == (2 << 16) | cs.OP_CAPABILITY}
        assert {cs.CAP_BFLOAT16_TYPE, cs.CAP_BFLOAT16_COOPMAT} <= caps, name
        assert b"SPV_KHR_bfloat16" in (cs.SPV / f"{name}.spv").read_bytes(), name


def test_reencode_rejects_modules_without_one_half_type():
    import pytest

    cs = _script()
    header = [0x07230203, 0x00010500, 0, 10, 0]
    f32 = [(3 << 16) | 22, 1, 32]
    with pytest.raises(ValueError, match="one 16-bit float type"):
        cs.reencode_bf16(header + f32)
    f16 = [(3 << 16) | 22, 2, 16]
    got = cs.reencode_bf16(header + f32 + f16)
    assert _float_types(got) == [(32, None), (16, cs.FP_ENCODING_BFLOAT16)]
