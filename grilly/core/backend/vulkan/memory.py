"""Device memory: large blocks, sub-allocated with first-fit free lists; buffers addressed by device address.

A ``DeviceBuffer`` is what an ``Array`` holds. When it is garbage collected its range goes back to the pool,
but only once the GPU has finished the last submission that used it (``last_use``, a timeline value).
"""

from __future__ import annotations

import bisect
import sys

from grilly.core.backend.vulkan._vk import check, ffi, lib, vk
from grilly.core.errors import OutOfMemoryError

ALIGN = 256
FAKE_SHIFT = 40  # descriptor mode: addresses are (block id << 40) + offset
FAKE_IDS = [0]
BUFFER_USAGE_SHADER_DEVICE_ADDRESS = 0x00020000  # missing from the binding's constants
MEMORY_ALLOCATE_DEVICE_ADDRESS = 0x2
BLOCK = 64 << 20


def _usage(bda: bool = True) -> int:
    if not bda:
        return (vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT
                | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT)
    return (
        vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
        | vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT
        | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT
        | BUFFER_USAGE_SHADER_DEVICE_ADDRESS
    )


class Block:
    """One VkDeviceMemory with one VkBuffer over all of it; ``free`` is a sorted list of [offset, size]."""

    __slots__ = ("mem", "buffer", "addr", "size", "free", "ptr", "used")

    def __init__(self, mem, buffer, addr: int, size: int, ptr):
        self.mem, self.buffer, self.addr, self.size, self.ptr = mem, buffer, addr, size, ptr
        self.free = [[0, size]]
        self.used = 0

    def take(self, n: int) -> int | None:
        free = self.free
        for i, r in enumerate(free):
            sz = r[1]
            if sz >= n:
                off = r[0]
                if sz == n:
                    del free[i]
                else:
                    r[0], r[1] = off + n, sz - n
                self.used += n
                return off
        return None

    def give(self, off: int, n: int) -> None:
        self.used -= n
        free = self.free
        i = bisect.bisect_left(free, [off, 0])
        prev = free[i - 1] if i else None
        joins_prev = prev is not None and prev[0] + prev[1] == off
        if i < len(free) and free[i][0] == off + n:  # merges with the next range
            nxt = free[i]
            if joins_prev:  # and with the previous one
                prev[1] += n + nxt[1]
                del free[i]
            else:
                nxt[0], nxt[1] = off, nxt[1] + n
        elif joins_prev:
            prev[1] += n
        else:
            free.insert(i, [off, n])


class Pool:
    """Blocks of one memory type. ``host`` pools are persistently mapped."""

    def __init__(self, rt, type_index: int, heap_size: int, mapped: bool, name: str):
        self.rt, self.type_index, self.heap_size, self.mapped, self.name = (
            rt,
            type_index,
            heap_size,
            mapped,
            name,
        )
        self.blocks: list[Block] = []
        self.staging = name.startswith("staging")
        # empty standard blocks kept for the next allocations: a step whose temporaries span several blocks (a
        # float16 attention backward at B4 H16 S4096 D64 allocates 130 MiB) would otherwise create and free
        # device memory on every call (milliseconds of host time each)
        self.keep_empty = 8 * BLOCK
        self.cache_limit = self.keep_empty if self.staging else max(4 * BLOCK, heap_size // 4)
        self.reserved = 0
        self.in_use = 0
        self.peak = 0  # high-water mark of in_use (benchmarks report it)

    def _new_block(self, size: int) -> Block:
        dev = self.rt.device
        if self.reserved + size > self.heap_size:
            raise OutOfMemoryError(
                f"{self.name}: {size} bytes requested, {self.reserved} of the heap's "
                f"{self.heap_size} already reserved"
            )
        binfo = ffi.new(
            "VkBufferCreateInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                "size": size,
                "usage": _usage(self.rt.bda),
                "sharingMode": vk.VK_SHARING_MODE_EXCLUSIVE,
            },
        )
        pbuf = ffi.new("VkBuffer*")
        check(lib.vkCreateBuffer(dev, binfo, ffi.NULL, pbuf), "vkCreateBuffer")
        buf = pbuf[0]
        flags = ffi.new(
            "VkMemoryAllocateFlagsInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
                "flags": MEMORY_ALLOCATE_DEVICE_ADDRESS,
            },
        )
        reqs = ffi.new("VkMemoryRequirements*")
        lib.vkGetBufferMemoryRequirements(dev, buf, reqs)
        ainfo = ffi.new(
            "VkMemoryAllocateInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                "pNext": flags if self.rt.bda else ffi.NULL,
                "allocationSize": reqs.size,
                "memoryTypeIndex": self.type_index,
            },
        )
        pmem = ffi.new("VkDeviceMemory*")
        r = lib.vkAllocateMemory(dev, ainfo, ffi.NULL, pmem)
        if r != 0:
            lib.vkDestroyBuffer(dev, buf, ffi.NULL)
            raise OutOfMemoryError(f"{self.name}: vkAllocateMemory of {size} bytes failed (VkResult {r})")
        mem = pmem[0]
        check(lib.vkBindBufferMemory(dev, buf, mem, 0), "vkBindBufferMemory")
        ainfo2 = ffi.new(
            "VkBufferDeviceAddressInfo*",
            {"sType": vk.VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, "buffer": buf},
        )
        if self.rt.bda:
            addr = int(lib.vkGetBufferDeviceAddress(dev, ainfo2))
        else:  # descriptor mode: a synthetic address, block id in the high bits (see Runtime._dispatch_desc)
            FAKE_IDS[0] += 1
            addr = FAKE_IDS[0] << FAKE_SHIFT
        ptr = None
        if self.mapped:
            pp = ffi.new("void**")
            check(lib.vkMapMemory(dev, mem, 0, size, 0, pp), "vkMapMemory")
            ptr = ffi.cast("char*", pp[0])
        block = Block(mem, buf, addr, size, ptr)
        self.blocks.append(block)
        self.rt.blocks_by_addr[addr >> FAKE_SHIFT if not self.rt.bda else addr] = block
        self.reserved += size
        return block

    def alloc(self, n: int) -> tuple[Block, int]:
        n = (n + ALIGN - 1) // ALIGN * ALIGN
        for b in self.blocks:
            off = b.take(n)
            if off is not None:
                self.in_use += n
                if self.in_use > self.peak:
                    self.peak = self.in_use
                return b, off
        try:
            b = self._new_block(max(n, BLOCK))
        except OutOfMemoryError:
            if n > self.heap_size:
                raise
            self.rt.reclaim(wait=True)  # finish pending work, return deferred ranges, drop empty blocks
            for b in self.blocks:
                off = b.take(n)
                if off is not None:
                    self.in_use += n
                    self.peak = max(self.peak, self.in_use)
                    return b, off
            b = self._new_block(max(n, BLOCK) if max(n, BLOCK) + self.reserved <= self.heap_size else n)
        self.in_use += n
        self.peak = max(self.peak, self.in_use)
        return b, b.take(n)

    def free(self, block: Block, off: int, n: int) -> None:
        n = (n + ALIGN - 1) // ALIGN * ALIGN
        block.give(off, n)
        self.in_use -= n
        if block.used == 0:
            # a caching allocator: empty blocks wait for the next allocation (dedicated large ones up to
            # cache_limit), since creating and freeing device memory per call costs milliseconds; under memory
            # pressure alloc() reclaims them
            big = block.size > BLOCK and not self.staging
            empty = [b for b in self.blocks if b.used == 0 and (b.size > BLOCK) == big]
            if sum(b.size for b in empty) > (self.cache_limit if big else self.keep_empty):
                self._destroy(block)

    def trim(self) -> None:
        for b in [b for b in self.blocks if b.used == 0]:
            self._destroy(b)

    def _destroy(self, b: Block) -> None:
        dev = self.rt.device
        if b.ptr is not None:
            lib.vkUnmapMemory(dev, b.mem)
        lib.vkDestroyBuffer(dev, b.buffer, ffi.NULL)
        lib.vkFreeMemory(dev, b.mem, ffi.NULL)
        self.blocks.remove(b)
        self.rt.blocks_by_addr.pop(b.addr >> FAKE_SHIFT if not self.rt.bda else b.addr, None)
        self.reserved -= b.size


class DeviceBuffer:
    """A range of device memory holding one array's bytes (immutable once written by its producer)."""

    __slots__ = ("rt", "pool", "block", "offset", "nbytes", "addr", "last_use", "host", "dtype", "shape", "base",
                 "__weakref__")

    def __init__(self, rt, pool: Pool | None, nbytes: int, dtype=None, shape=()):
        self.block = None
        self.rt, self.pool, self.nbytes, self.last_use, self.host = rt, pool, nbytes, 0, None
        self.dtype, self.shape, self.base = dtype, shape, None
        if nbytes and pool is not None:
            self.block, self.offset = pool.alloc(nbytes)
            self.addr = self.block.addr + self.offset
        else:
            self.block, self.offset, self.addr = None, 0, 0

    def alias(self, dtype, shape) -> DeviceBuffer:
        """The same bytes seen with another shape or same-size dtype (reshape, bitcast); keeps this one alive."""
        return self.window(0, self.nbytes, dtype, shape)

    def window(self, offset: int, nbytes: int, dtype, shape) -> DeviceBuffer:
        """Bytes ``[offset, offset + nbytes)`` of this buffer as their own array (a contiguous slice); keeps this
        one (or its owner) alive and hands its last use to it."""
        a = DeviceBuffer(self.rt, None, nbytes, dtype, shape)
        a.block, a.offset, a.addr, a.last_use = self.block, self.offset + offset, self.addr + offset, self.last_use
        a.base = self if self.base is None else self.base
        return a

    def view(self):
        """The mapped bytes (host-visible pools only)."""
        return ffi.buffer(self.block.ptr + self.offset, self.nbytes)

    def __del__(self, _finalizing=sys.is_finalizing):
        if self.base is not None:  # an alias: the owner frees the memory, after this alias's last use too
            if self.last_use > self.base.last_use:
                self.base.last_use = self.last_use
        elif self.block is not None and not _finalizing():  # (at interpreter exit the pools may be gone)
            self.rt.release(self.pool, self.block, self.offset, self.nbytes, self.last_use)
