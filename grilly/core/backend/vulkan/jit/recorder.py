"""Recording a program: run it once through the ordinary kernels against a runtime that only takes notes.

The ``Recorder`` stands in for the runtime while a program is evaluated: ``empty``/``alloc`` hand out
placeholder buffers whose device addresses are tagged (``0x6A`` in the top byte, then a 20-bit placeholder id,
then a 36-bit offset), ``dispatch`` and ``stream.copy`` append commands instead of recording them, and a host
read of a placeholder raises ``NeedsHost`` (the program's control flow depends on data: it cannot be
replayed). Each command remembers which placeholders it touches (its read/write lists and any tagged address
in its push constants), which gives every placeholder a lifetime for the memory planner.
"""

from __future__ import annotations

import struct

from grilly.core.backend.vulkan.memory import DeviceBuffer
from grilly.core.errors import GrillyError

TAG = 0x6A
ID_BITS, OFF_BITS = 20, 36
_ID_MASK, _OFF_MASK = (1 << ID_BITS) - 1, (1 << OFF_BITS) - 1
NEVER = 1 << 62  # "until the end" for lifetimes


class NeedsHost(GrillyError):
    """The program reads device data on the host while running (a data-dependent loop or branch)."""


def is_tagged(addr: int) -> bool:
    return addr >> 56 == TAG


class _FakeVkBuffer:
    __slots__ = ("ph",)

    def __init__(self, ph: int):
        self.ph = ph


class _FakeBlock:
    __slots__ = ("buffer", "addr")

    def __init__(self, ph: int, addr: int):
        self.buffer, self.addr = _FakeVkBuffer(ph), addr


class Placeholder:
    """A value the program computes: ``nbytes`` at a planned arena offset, live over [first, last] commands."""

    __slots__ = ("id", "nbytes", "first", "last")

    def __init__(self, pid: int, nbytes: int):
        self.id, self.nbytes, self.first, self.last = pid, nbytes, None, None

    def touch(self, t: int) -> None:
        self.first = t if self.first is None else min(self.first, t)
        self.last = t if self.last is None else max(self.last, t)


class _RecordingStream:
    def __init__(self, rec):
        self.rec = rec

    pending = property(lambda self: 0)

    def copy(self, src_buffer, src_off, dst_buffer, dst_off, n, reads, writes) -> None:
        rec = self.rec
        t = len(rec.cmds)
        src = ("ph", src_buffer.ph, src_off) if isinstance(src_buffer, _FakeVkBuffer) else ("real", src_buffer, src_off)
        dst = ("ph", dst_buffer.ph, dst_off) if isinstance(dst_buffer, _FakeVkBuffer) else ("real", dst_buffer, dst_off)
        for kind, pid, _ in (src, dst):
            if kind == "ph":
                rec.phs[pid].touch(t)
        rec.cmds.append(("copy", src, dst, n, [rec.ref(b, t) for b in reads], [rec.ref(b, t) for b in writes]))

    def wait(self, value) -> None:
        pass

    def submit(self) -> None:
        pass

    def finish(self) -> None:
        pass

    def __getattr__(self, name):
        return getattr(self.rec.rt.stream, name)


class Recorder:
    """A runtime look-alike that records commands over placeholder buffers (see the module docstring)."""

    def __init__(self, rt):
        self.rt = rt
        self.phs: list[Placeholder] = []
        self.cmds: list[tuple] = []
        self.keep: list = []  # real buffers the commands use (constants, uploads, interpreter code)
        self.names: list[str] = []  # kernel of each dispatch, in order
        self.stream = _RecordingStream(self)

    def __getattr__(self, name):  # grid, limits, pipelines, features ... come from the real runtime
        return getattr(self.rt, name)

    # ---- memory
    def alloc(self, nbytes: int, dtype=None, shape=()) -> DeviceBuffer:
        pid = len(self.phs)
        if pid > _ID_MASK or nbytes > _OFF_MASK:
            raise NeedsHost("the program is too large to record (placeholders or sizes out of range)")
        addr = TAG << 56 | pid << OFF_BITS
        buf = DeviceBuffer(self, None, nbytes, dtype, shape)
        buf.block, buf.offset, buf.addr = _FakeBlock(pid, addr), 0, addr
        self.phs.append(Placeholder(pid, nbytes))
        return buf

    def empty(self, aval) -> DeviceBuffer:
        n = aval.dtype.itemsize
        for d in aval.shape:
            n *= d
        return self.alloc(n, aval.dtype, aval.shape)

    def release(self, *args) -> None:  # placeholders own no memory
        pass

    def upload(self, a):
        buf = self.rt.upload(a)
        self.keep.append(buf)
        return buf

    def download(self, buf, dtype, shape):
        if is_tagged(buf.addr):
            raise NeedsHost("the program reads a value computed on the GPU back to the host")
        return self.rt.download(buf, dtype, shape)

    # ---- commands
    def ref(self, buf, t: int) -> tuple:
        """(placeholder id, offset, nbytes) for placeholders, (-1, address, nbytes) for real buffers."""
        addr = buf.addr
        if is_tagged(addr):
            pid = addr >> OFF_BITS & _ID_MASK
            self.phs[pid].touch(t)
            return (pid, addr & _OFF_MASK, buf.nbytes)
        self.keep.append(buf)
        return (-1, addr, buf.nbytes)

    def dispatch(self, name: str, spec: tuple, groups, pc: bytes, reads, writes) -> None:
        t = len(self.cmds)
        pipeline = self.rt.pipelines.get(name, spec)
        reads = [self.ref(b, t) for b in reads]
        writes = [self.ref(b, t) for b in writes]
        self.cmds.append(("dispatch", pipeline, tuple(groups), bytes(pc), self._patches(pc, t), reads, writes))
        self.names.append(name)

    def _patches(self, pc: bytes, t: int) -> list:
        """Tagged addresses in a push-constant block: (byte offset, placeholder id, offset in it)."""
        out, o, n = [], 0, len(pc)
        while o + 8 <= n:
            v = struct.unpack_from("<Q", pc, o)[0]
            if v >> 56 == TAG:
                pid, off = v >> OFF_BITS & _ID_MASK, v & _OFF_MASK
                if pid < len(self.phs) and off <= self.phs[pid].nbytes:
                    self.phs[pid].touch(t)
                    out.append((o, pid, off))
                    o += 8
                    continue
            o += 4
        return out
