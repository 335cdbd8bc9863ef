"""Replay: a recorded program as one reusable command buffer, bound to new arguments by a table of addresses.

Layout of the command buffer: a barrier; one ``jit_copy_table`` dispatch that copies every argument into its
arena slot; the program's commands with their placeholder addresses patched to arena addresses and a barrier
only where a hazard needs it (read or write after write, write after read: the planner reuses ranges); one
dispatch that copies the outputs out of the arena; a closing barrier. The copy table lives in host-visible
memory: a call writes the arguments' and the fresh outputs' addresses into it and submits (one
``vkQueueSubmit``, together with any eager work still being recorded). A few instances (command buffer +
table) rotate so that a call need not wait for the previous one to finish.
"""

from __future__ import annotations

import struct
import sys

import numpy as np

from grilly.core.backend.vulkan._vk import check, ffi, lib, vk
from grilly.core.backend.vulkan.jit.kernels import ensure_modules
from grilly.core.backend.vulkan.jit.planner import plan
from grilly.core.backend.vulkan.jit.recorder import NEVER
from grilly.core.backend.vulkan.memory import DeviceBuffer
from grilly.core.errors import GrillyError

MAX_INSTANCES = 3
_pools: dict[int, object] = {}
_graveyard: list[tuple] = []  # (runtime, timeline value, objects to keep until the GPU reaches it, command buffers)


class DonatedBufferError(GrillyError):
    pass


class _Donated:
    """Stands in for the buffer of an array donated to a jitted call."""

    __slots__ = ()

    def __getattr__(self, name):
        if name.startswith("__"):  # introspection (copy, pickle, doctest) sees a plain object
            raise AttributeError(name)
        raise DonatedBufferError("this array was donated to a jitted function (donate_argnums) and its buffer "
                                 "now holds that call's output; use the output instead")


DONATED = _Donated()


def _command_pool(rt):
    pool = _pools.get(id(rt))
    if pool is None:
        info = ffi.new("VkCommandPoolCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, "queueFamilyIndex": rt.family,
            "flags": vk.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT})
        p = ffi.new("VkCommandPool*")
        check(lib.vkCreateCommandPool(rt.device, info, ffi.NULL, p), "vkCreateCommandPool")
        pool = _pools[id(rt)] = p[0]
        rt.on_finish.append(_bury)  # a full reclaim also lets go of what dead recordings kept
    return pool


def _bury(rt) -> None:
    """Let go of what dead recordings kept for the GPU once it is done; their command buffers are reset and
    reused (as the stream does), never freed: a validation layer may still be retiring their submission."""
    done = rt.stream.poll()
    finished = [g for g in _graveyard if g[0] is rt and g[1] <= done]
    if not finished:
        return
    _graveyard[:] = [g for g in _graveyard if not (g[0] is rt and g[1] <= done)]
    for _, _, _, cmds in finished:  # their arenas and tables go back to the pools as `finished` is dropped
        for cmd in cmds:
            check(lib.vkResetCommandBuffer(cmd, 0), "vkResetCommandBuffer")
        _spare_cmds.setdefault(id(rt), []).extend(cmds)


_spare_cmds: dict[int, list] = {}  # id(runtime) -> reset command buffers of its pool, for reuse


class _Instance:
    __slots__ = ("cmd", "table", "tab", "value")


class Replay:
    """One recorded program: the arena, the patched commands and the instances that replay them."""

    def __init__(self, rt, rec, in_pids, out_refs, out_avals):
        self.rt = rt
        for pid in in_pids:
            rec.phs[pid].first = -1
        for ref in out_refs:
            if ref[0] >= 0:
                rec.phs[ref[0]].last = NEVER
        used = [p for p in rec.phs if p.first is not None]
        for p in used:
            p.last = p.first if p.last is None else p.last
        offsets, total = plan([(p.nbytes, p.first, p.last) for p in used])
        self.arena = DeviceBuffer(rt, rt.device_pool, max(total, 256))
        base = self.arena.addr
        self.addr_of = {p.id: base + off for p, off in zip(used, offsets)}
        self.plan = [(p.nbytes, p.first, p.last, base + off) for p, off in zip(used, offsets)]
        self.keep = rec.keep
        self.cmds = [self._resolve(c) for c in rec.cmds]
        self.in_slots = [self.addr_of.get(pid, base) for pid in in_pids]
        self.in_sizes = [rec.phs[pid].nbytes for pid in in_pids]
        self.out_src = [self.addr_of.get(r[0], base) + r[1] if r[0] >= 0 else r[1] for r in out_refs]
        self.out_avals = out_avals
        self.out_sizes = [int(np.prod(a.shape, dtype=np.int64)) * a.dtype.itemsize for a in out_avals]
        self.instances: list[_Instance] = []
        self._donation_pairs: dict[tuple, list] = {}
        self.n_dispatches = sum(1 for c in self.cmds if c[0] == "dispatch")
        self.kernels: dict[str, int] = {}
        for name in rec.names:
            self.kernels[name] = self.kernels.get(name, 0) + 1
        ensure_modules(rt)
        self.copy_pipeline = rt.pipelines.get("jit_copy_table", (256,))

    def _resolve(self, c):
        """Patch placeholder addresses: push constants, hazard ranges, copy endpoints."""
        def rng(r):
            a = self.addr_of[r[0]] + r[1] if r[0] >= 0 else r[1]
            return (a, a + r[2])

        if c[0] == "dispatch":
            _, pipeline, groups, pc, patches, reads, writes = c
            pc = bytearray(pc)
            for o, pid, off in patches:
                struct.pack_into("<Q", pc, o, self.addr_of[pid] + off)
            return ("dispatch", pipeline, groups, bytes(pc), [rng(r) for r in reads], [rng(w) for w in writes])
        _, src, dst, n, reads, writes = c
        return ("copy", self._vk_range(src), self._vk_range(dst), n, [rng(r) for r in reads],
                [rng(w) for w in writes])

    def _vk_range(self, end):
        kind, who, off = end
        if kind == "ph":
            return self.arena.block.buffer, self.addr_of[who] - self.arena.block.addr + off
        return who, off

    # ---- recording the command buffer of one instance
    def _new_instance(self) -> _Instance:
        rt = self.rt
        inst = _Instance()
        n_in, n_out = len(self.in_slots), len(self.out_src)
        inst.table = DeviceBuffer(rt, rt.host_pool, max(24 * (n_in + n_out), 24))
        inst.tab = np.frombuffer(inst.table.view(), np.uint64)[: 3 * (n_in + n_out)].reshape(-1, 3)
        inst.tab[:n_in, 1] = self.in_slots
        inst.tab[:n_in, 2] = [(n + 15) // 16 for n in self.in_sizes]
        inst.tab[n_in:, 0] = self.out_src
        inst.tab[n_in:, 2] = [(n + 15) // 16 for n in self.out_sizes]
        spare = _spare_cmds.get(id(rt))
        if spare:
            inst.cmd = spare.pop()
        else:
            info = ffi.new("VkCommandBufferAllocateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, "commandPool": _command_pool(rt),
                "level": vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY, "commandBufferCount": 1})
            pcmd = ffi.new("VkCommandBuffer*")
            check(lib.vkAllocateCommandBuffers(rt.device, info, pcmd), "vkAllocateCommandBuffers")
            inst.cmd = pcmd[0]
        inst.value = 0
        _Emitter(rt, inst.cmd).emit(self, inst.table.addr, n_in, n_out)
        return inst

    def _instance(self) -> _Instance:
        stream = self.rt.stream
        done = stream.poll()
        for inst in self.instances:
            if inst.value <= done:
                return inst
        if len(self.instances) < MAX_INSTANCES:
            inst = self._new_instance()
            self.instances.append(inst)
            return inst
        inst = min(self.instances, key=lambda i: i.value)
        stream.wait(inst.value)
        return inst

    # ---- a call
    def __call__(self, args, nconsts: int, donated, backend) -> list:
        from grilly.core.array import Array

        rt = self.rt
        inst = self._instance()
        outs = [None] * len(self.out_avals)
        gifts = self._donations(args, nconsts, donated, outs) if donated else ()
        bufs = [a._buf for a in args[nconsts:]]
        for a in gifts:  # the caller's array gives its buffer to an output (copied in before it is overwritten)
            a._buf = DONATED
        for j, b in enumerate(outs):
            if b is None:
                av = self.out_avals[j]
                outs[j] = rt.alloc(self.out_sizes[j], av.dtype, av.shape)
        n_in = len(bufs)
        tab = inst.tab
        if n_in:
            tab[:n_in, 0] = [b.addr for b in bufs]
        if outs:
            tab[n_in:, 1] = [b.addr for b in outs]
        value = rt.stream.submit_with(inst.cmd)
        inst.value = self.arena.last_use = value
        for b in bufs:
            if b.last_use < value:
                b.last_use = value
        res = []
        for b, av in zip(outs, self.out_avals):
            b.last_use = value
            res.append(Array(b, av, backend))
        return res

    def _donations(self, args, nconsts, donated, outs) -> list:
        """Outputs reuse the buffers of donated arguments of the same size, when nothing else holds them (no
        other array, no reshaped view, not passed twice); returns the arrays that gave their buffers."""
        pairs = self._donation_pairs.get(donated)
        if pairs is None:  # which output each donated argument would feed: fixed by the sizes
            pairs, free = [], set(range(len(self.out_avals)))
            for i in donated:
                j = next((j for j in sorted(free) if i >= nconsts and i < len(args)
                          and self.out_sizes[j] == self.in_sizes[i - nconsts]), None)
                if j is not None:
                    free.discard(j)
                    pairs.append((i, j))
            self._donation_pairs[donated] = pairs
        gifts = []
        once = len({id(a) for a in args[nconsts:]}) == len(args) - nconsts
        for i, j in pairs:
            a = args[i]
            b = a._buf
            if not _sole_owner(b) or b.base is not None or b.block is None:
                continue
            if not once and sum(1 for x in args if x is a) > 1:
                continue
            av = self.out_avals[j]
            b.host, b.dtype, b.shape = None, av.dtype, av.shape
            outs[j] = b
            gifts.append(a)
        return gifts

    def __del__(self, _finalizing=sys.is_finalizing):  # bound early: module globals may be gone at shutdown
        if _finalizing() or not hasattr(self, "instances"):  # shutdown, or a recording that never finished
            return  # building (nothing of it was submitted: its buffers free themselves)
        last = max([i.value for i in self.instances], default=0)
        _graveyard.append((self.rt, last, [self.arena, self.keep, [i.table for i in self.instances]],
                           [i.cmd for i in self.instances]))
        _bury(self.rt)


def _sole_owner(buf) -> bool:
    # references: the Array's slot, this function's argument, getrefcount's argument, the caller's local
    return sys.getrefcount(buf) <= _BASELINE


def _baseline() -> int:
    class _Holder:
        __slots__ = ("_buf",)

    h = _Holder()
    h._buf = object()
    b = h._buf
    return _count(b)


def _count(buf) -> int:
    return sys.getrefcount(buf)


_BASELINE = _baseline()


class _Emitter:
    """Writes the commands of a Replay into one command buffer, with barriers only where hazards need them."""

    def __init__(self, rt, cmd):
        self.rt, self.cmd = rt, cmd
        self.dirty: list[tuple[int, int]] = []
        self.read: list[tuple[int, int]] = []
        bar = ffi.new("VkMemoryBarrier*", {
            "sType": vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            "srcAccessMask": vk.VK_ACCESS_SHADER_WRITE_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT,
            "dstAccessMask": vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT
            | vk.VK_ACCESS_TRANSFER_READ_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT,
        })
        self.bar = bar
        self.stages = vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | vk.VK_PIPELINE_STAGE_TRANSFER_BIT
        self.pc = ffi.new("char[128]")
        self.region = ffi.new("VkBufferCopy*")
        self.barriers = 0

    def barrier(self) -> None:
        lib.vkCmdPipelineBarrier(self.cmd, self.stages, self.stages, 0, 1, self.bar,
                                 0, ffi.NULL, 0, ffi.NULL)
        self.dirty.clear()
        self.read.clear()
        self.barriers += 1

    def _hazard(self, reads, writes) -> bool:
        for lo, hi in self.dirty:
            for a, b in reads:
                if a < hi and lo < b:
                    return True
            for a, b in writes:
                if a < hi and lo < b:
                    return True
        for lo, hi in self.read:
            for a, b in writes:
                if a < hi and lo < b:
                    return True
        return False

    def _push(self, pc: bytes) -> None:
        ffi.memmove(self.pc, pc, len(pc))
        lib.vkCmdPushConstants(self.cmd, self.rt.layout, vk.VK_SHADER_STAGE_COMPUTE_BIT, 0, len(pc), self.pc)

    def _copy_table(self, pipeline, table_addr, first, sizes) -> None:
        if not sizes:
            return
        gx = min(max((max(sizes) + 16 * 256 - 1) // (16 * 256), 1), 4096)
        lib.vkCmdBindPipeline(self.cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, pipeline)
        self._push(struct.pack("<QI", table_addr, first))
        for start in range(0, len(sizes), 65535):
            if start:
                self._push(struct.pack("<QI", table_addr, first + start))
            lib.vkCmdDispatch(self.cmd, gx, min(65535, len(sizes) - start), 1)

    def emit(self, replay: Replay, table_addr: int, n_in: int, n_out: int) -> None:
        begin = ffi.new("VkCommandBufferBeginInfo*", {"sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO})
        check(lib.vkBeginCommandBuffer(self.cmd, begin), "vkBeginCommandBuffer")
        self.barrier()  # orders earlier submissions (the host's table writes are visible at submit)
        self._copy_table(replay.copy_pipeline, table_addr, 0, replay.in_sizes)
        self.barrier()
        bound = None
        for c in replay.cmds:
            reads, writes = c[4], c[5]
            if self._hazard(reads, writes):
                self.barrier()
            if c[0] == "dispatch":
                _, pipeline, groups, pc, _r, _w = c
                if pipeline is not bound:
                    lib.vkCmdBindPipeline(self.cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, pipeline)
                    bound = pipeline
                if pc:
                    self._push(pc)
                lib.vkCmdDispatch(self.cmd, groups[0], groups[1], groups[2])
            else:
                _, (sbuf, soff), (dbuf, doff), n, _r, _w = c
                r = self.region
                r.srcOffset, r.dstOffset, r.size = soff, doff, n
                lib.vkCmdCopyBuffer(self.cmd, sbuf, dbuf, 1, r)
            self.dirty.extend(writes)
            self.read.extend(reads)
        self.barrier()
        self._copy_table(replay.copy_pipeline, table_addr, n_in, replay.out_sizes)
        self.barrier()  # orders later submissions
        host = getattr(self.rt.stream, "_host_barrier", None)
        if host is not None:  # and host reads of the outputs, as the stream's command buffers do
            host(self.cmd)
        check(lib.vkEndCommandBuffer(self.cmd), "vkEndCommandBuffer")
