"""The device pool caches large empty blocks: repeated large allocations reuse memory instead of creating and
freeing device memory on every call."""

import gc

import numpy as np

from grilly.core.backend.vulkan.memory import BLOCK


def test_large_blocks_are_reused(vk, dev):
    import grilly.lax.elementwise as E

    rt = vk.rt
    n = BLOCK // 4 + 1024  # float32 elements: one array is larger than a standard block
    x = dev(np.ones(n, np.float32))

    def churn(k):
        for _ in range(k):  # one result alive at a time: each must reuse the cached block
            y = E.neg(x).block_until_ready()
            del y
            rt.reclaim(wait=False)
        rt.stream.finish()
        gc.collect()
        return rt.memory_stats()

    first = churn(3)
    cached = {id(b) for b in rt.device_pool.blocks if b.size > BLOCK}
    assert cached, "the large block was freed instead of cached"
    second = churn(10)
    assert second["reserved"] <= first["reserved"]
    assert {id(b) for b in rt.device_pool.blocks if b.size > BLOCK} == cached  # reused, none created
    rt.device_pool.trim()  # leave no cached blocks behind for the tests that measure reserved memory


def test_standard_blocks_are_reused(vk, dev):
    """Temporaries that span several standard blocks reuse them call after call."""
    import grilly.lax.elementwise as E

    rt = vk.rt
    x = dev(np.ones(BLOCK // 8, np.float32))  # half a block

    def churn(k):
        for _ in range(k):  # four results alive at once: two blocks' worth
            ys = [E.neg(x), E.exp(x), E.sin(x), E.cos(x)]
            ys[-1].block_until_ready()
            del ys
            rt.reclaim(wait=False)
        rt.stream.finish()
        gc.collect()
        rt.reclaim(wait=False)
        return {id(b) for b in rt.device_pool.blocks}

    first = churn(2)
    assert churn(5) <= first  # no block created
    rt.device_pool.trim()


def test_staged_transfers_roundtrip(vk, dev):
    """Uploads and downloads through staging memory (multi-threaded uploads; large downloads are arrays over the
    staging memory itself) keep every byte."""
    rt = vk.rt
    unified = rt.unified
    rt.unified = False  # force the staging path even on devices whose memory the host can map
    try:
        for n in (1, 1001, (40 << 20) + 3):  # the last spans several 16 MiB copy chunks and is a pinned download
            a = np.random.default_rng(n).standard_normal(n).astype(np.float32)
            buf = rt.upload(a)
            np.testing.assert_array_equal(rt.download(buf, a.dtype, a.shape), a)
    finally:
        rt.unified = unified


def test_pinned_downloads_own_their_staging_memory(vk, dev):
    import ml_dtypes

    from grilly.core.backend.vulkan import runtime as R

    rt = vk.rt
    unified = rt.unified
    rt.unified = False
    try:
        a = np.random.default_rng(0).standard_normal((1025, 4099)).astype(ml_dtypes.bfloat16)
        assert a.nbytes >= R._PINNED_DOWNLOAD_MIN
        buf = rt.upload(a)
        out = rt.download(buf, a.dtype, a.shape)
        del buf
        gc.collect()
        rt.reclaim(wait=True)
        held = rt.host_pool.in_use
        assert out.dtype == a.dtype and out.shape == a.shape and out.flags.writeable
        np.testing.assert_array_equal(out.view(np.uint16), a.view(np.uint16))  # bytes intact after the source dies
        view = out[3:5]
        del out
        gc.collect()
        rt.reclaim(wait=True)
        assert rt.host_pool.in_use == held  # any live view of the array keeps its staging range
        view[0, 0] = 1.0
        assert float(view[0, 0]) == 1.0
        del view
        gc.collect()
        rt.reclaim(wait=True)
        assert rt.host_pool.in_use <= held - a.nbytes  # ... which goes back to the pool after the last one
    finally:
        rt.unified = unified


def test_pinned_downloads_stay_under_their_budget(vk, dev, monkeypatch):
    """Past a quarter of the host heap held by downloaded arrays, large downloads are copied to pageable memory."""
    rt = vk.rt
    monkeypatch.setattr(rt, "unified", False)
    a = np.arange(3 << 20, dtype=np.float32)  # 12 MiB
    buf = rt.upload(a)
    monkeypatch.setattr(rt, "pinned_bytes", rt.host_pool.heap_size // 4 - a.nbytes + 1)
    out = rt.download(buf, a.dtype, a.shape)
    assert out.base is None or not hasattr(out.base, "buf")  # an ordinary copy
    np.testing.assert_array_equal(out, a)
    monkeypatch.setattr(rt, "pinned_bytes", 0)
    held = rt.download(buf, a.dtype, a.shape)
    assert rt.pinned_bytes == a.nbytes
    np.testing.assert_array_equal(held, a)
    del held
    gc.collect()
    assert rt.pinned_bytes == 0
