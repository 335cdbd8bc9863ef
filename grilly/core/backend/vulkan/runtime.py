"""The process-wide Vulkan runtime: device, memory pools, command stream and pipelines in one object."""

from __future__ import annotations

import atexit
import math
import struct
import sys

import numpy as np

from grilly.core.backend.vulkan import device as D
from grilly.core.backend.vulkan._vk import IMPORT_ERROR, ffi, lib, vk
from grilly.core.backend.vulkan.memory import FAKE_SHIFT, DeviceBuffer, Pool
from grilly.core.backend.vulkan.pipelines import Pipelines
from grilly.core.backend.vulkan.stream import Stream
from grilly.core.errors import BackendError

_runtime: list = []
_copiers: list = []
_COPY_CHUNK = 16 << 20
_PINNED_DOWNLOAD_MIN = 8 << 20  # downloads this large become arrays over host-visible memory (no host copy)


def parallel_copy(dst: np.ndarray, src: np.ndarray) -> None:
    """Copy bytes between host buffers (mapped staging memory included) with several threads: one memcpy
    thread reaches about 8 GB/s, and NumPy releases the GIL while it copies."""
    n = src.nbytes
    if n < 2 * _COPY_CHUNK:
        np.copyto(dst, src)
        return
    if not _copiers:
        import os
        from concurrent.futures import ThreadPoolExecutor

        _copiers.append(ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2))))
    starts = range(0, n, _COPY_CHUNK)
    jobs = [_copiers[0].submit(np.copyto, dst[s:s + _COPY_CHUNK], src[s:s + _COPY_CHUNK]) for s in starts]
    for j in jobs:
        j.result()


class _PinnedBytes:
    """The owner of a large downloaded array: the host-visible staging range the GPU copied its bytes into.
    NumPy keeps this object as the array's base, so the range returns to the staging pool when the last view of
    the array dies (as pinned host tensors do in CUDA frameworks). The array is an ordinary writeable ndarray."""

    __slots__ = ("rt", "buf", "__array_interface__")

    def __init__(self, rt, buf):
        self.rt, self.buf = rt, buf
        rt.pinned_bytes += buf.nbytes
        addr = int(ffi.cast("uintptr_t", buf.block.ptr)) + buf.offset
        self.__array_interface__ = {"data": (addr, False), "shape": (buf.nbytes,), "typestr": "|u1", "version": 3}

    def __del__(self):
        self.rt.pinned_bytes -= self.buf.nbytes


def _memory_types(pdev):
    props = ffi.new("VkPhysicalDeviceMemoryProperties*")
    lib.vkGetPhysicalDeviceMemoryProperties(pdev, props)
    types = [
        (i, props.memoryTypes[i].propertyFlags, props.memoryTypes[i].heapIndex)
        for i in range(props.memoryTypeCount)
    ]
    heaps = [props.memoryHeaps[i].size for i in range(props.memoryHeapCount)]
    return types, heaps


def _pick_types(pdev):
    types, heaps = _memory_types(pdev)
    DL, HV, HC, HCA = (
        vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
        vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
        vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
        vk.VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
    )
    dev = [t for t in types if t[1] & DL]
    dev.sort(key=lambda t: (bool(t[1] & HV), t[0]))  # prefer device-local memory that is not host-visible
    host = [t for t in types if (t[1] & (HV | HC)) == (HV | HC)]
    host.sort(key=lambda t: (not (t[1] & HCA), t[0]))  # cached host memory makes downloads fast
    if not dev or not host:
        raise BackendError("the Vulkan device lacks device-local or host-visible coherent memory")
    return dev[0], host[0], heaps


class Runtime:
    def __init__(self):
        if IMPORT_ERROR is not None:
            raise BackendError(f"the Vulkan binding could not be loaded: {IMPORT_ERROR}")
        self.validation = D._env_flag("GRILLY_VK_VALIDATION")
        self.instance, self.messenger = D.create_instance(self.validation)
        info = D.select(D.list_devices(self.instance))
        if info is None:
            raise BackendError(
                "no usable Vulkan device (set ALLOW_CPU_VULKAN=1 to allow a CPU implementation)"
            )
        self.info = info
        self.features = info.features
        self.props = vk.vkGetPhysicalDeviceProperties(info.handle)
        lim = self.props.limits
        self.limits = {
            "timestampPeriod": float(lim.timestampPeriod),
            "maxGroups": [int(lim.maxComputeWorkGroupCount[i]) for i in range(3)],
            "maxInvocations": int(lim.maxComputeWorkGroupInvocations),
            "maxShared": int(lim.maxComputeSharedMemorySize),
            "minStorageOffset": int(lim.minStorageBufferOffsetAlignment),
            "maxStorageRange": int(lim.maxStorageBufferRange),
        }
        sub = ffi.new(
            "VkPhysicalDeviceSubgroupProperties*",
            {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES},
        )
        p2 = ffi.new(
            "VkPhysicalDeviceProperties2*",
            {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, "pNext": sub},
        )
        lib.vkGetPhysicalDeviceProperties2(info.handle, p2)
        self.subgroup_size = int(sub.subgroupSize)
        self.desc_mode = D.descriptor_mode(info)  # "bda", "push" or "pool"
        self.bda = self.desc_mode == "bda"  # operands by device address (else storage-buffer descriptors)
        self.blocks_by_addr: dict[int, object] = {}
        self.device, self.queue, self.family = D.create_device(info, descriptors=not self.bda,
                                                              push_descriptors=self.desc_mode == "push")
        (dti, dflags, dheap), (hti, hflags, hheap), heaps = _pick_types(info.handle)
        hv = vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
        self.unified = (dflags & hv) == hv  # device memory is mappable: no staging copies needed
        self.device_pool = Pool(self, dti, heaps[dheap], self.unified, "device memory")
        self.host_pool = (
            self.device_pool if self.unified else Pool(self, hti, heaps[hheap], True, "staging memory")
        )
        self.pinned_bytes = 0  # staging memory held by downloaded arrays (_PinnedBytes)
        self.on_finish: list = []  # callables(rt) run when reclaim(wait=True) has finished all work
        self.pipelines = Pipelines(self)
        self._pipelines = self.pipelines.pipelines  # (name, spec) -> pipeline, read directly per dispatch
        self.layout = self.pipelines.layout
        self.stream = Stream(self, D._env_flag("GRILLY_PROFILE"))
        if self.desc_mode == "push":
            fn = lib.vkGetDeviceProcAddr(self.device, b"vkCmdPushDescriptorSetKHR")
            self._push_descriptors = ffi.cast("PFN_vkCmdPushDescriptorSetKHR", fn)
        if not self.bda:
            self._dummy = DeviceBuffer(self, self.device_pool, 256)
        self.deferred: dict[int, list] = {}  # last_use -> [(pool, block, offset, nbytes)] waiting for the GPU
        atexit.register(self.shutdown)

    # ---- memory
    def alloc(self, nbytes: int, dtype=None, shape=()) -> DeviceBuffer:
        if self.deferred:
            first = min(self.deferred)
            if first <= self.stream.submitted and self.stream.poll() >= first:  # (work not yet submitted is not done)
                self.reclaim(wait=False)
        return DeviceBuffer(self, self.device_pool, nbytes, dtype, shape)

    def empty(self, aval) -> DeviceBuffer:
        """An uninitialised device buffer for an output of abstract value ``aval``."""
        return self.alloc(math.prod(aval.shape) * aval.dtype.itemsize, aval.dtype, aval.shape)

    def release(self, pool, block, offset, nbytes, last_use) -> None:
        if last_use <= self.stream.completed:
            pool.free(block, offset, nbytes)
        else:
            self.deferred.setdefault(last_use, []).append((pool, block, offset, nbytes))

    def reclaim(self, wait: bool) -> None:
        """Return ranges whose last use has finished; with ``wait``, finish all work and trim empty blocks."""
        if wait:
            self.stream.finish()
            for hook in self.on_finish:  # e.g. what dead jit recordings kept until the GPU was done with them
                hook(self)
        done = self.stream.poll()
        for v in [v for v in self.deferred if v <= done]:
            for pool, block, offset, nbytes in self.deferred.pop(v):
                pool.free(block, offset, nbytes)
        if wait:
            self.device_pool.trim()
            if self.host_pool is not self.device_pool:
                self.host_pool.trim()

    def memory_stats(self) -> dict:
        """Bytes in use and reserved in device memory (after returning finished ranges)."""
        self.reclaim(wait=False)
        p = self.device_pool
        return {
            "in_use": p.in_use,
            "reserved": p.reserved,
            "blocks": len(p.blocks),
            "deferred": len(self.deferred),
        }

    # ---- transfers
    def upload(self, a: np.ndarray) -> DeviceBuffer:
        buf = self.alloc(a.nbytes, a.dtype, a.shape)
        if not a.nbytes:
            return buf
        src = a.reshape(-1).view(np.uint8)
        if self.unified:
            parallel_copy(np.frombuffer(buf.view(), np.uint8), src)
            return buf
        st = DeviceBuffer(self, self.host_pool, a.nbytes)
        parallel_copy(np.frombuffer(st.view(), np.uint8), src)
        self.stream.copy(st.block.buffer, st.offset, buf.block.buffer, buf.offset, a.nbytes, [st], [buf])
        return buf

    def download(self, buf: DeviceBuffer, dtype, shape) -> np.ndarray:
        if not buf.nbytes:
            return np.zeros(shape, dtype)
        if self.unified:
            out = np.empty(shape, dtype)
            self.stream.wait(buf.last_use)
            parallel_copy(out.reshape(-1).view(np.uint8), np.frombuffer(buf.view(), np.uint8))
            return out
        st = DeviceBuffer(self, self.host_pool, buf.nbytes)
        self.stream.copy(buf.block.buffer, buf.offset, st.block.buffer, st.offset, buf.nbytes, [buf], [st])
        self.stream.submit()
        self.stream.wait(self.stream.submitted)
        # large arrays are the staging memory itself (no host copy), while the pinned memory that downloaded
        # arrays hold stays under a quarter of the host heap; past that they are copied into pageable memory
        if buf.nbytes >= _PINNED_DOWNLOAD_MIN and self.pinned_bytes + buf.nbytes <= self.host_pool.heap_size // 4:
            return np.asarray(_PinnedBytes(self, st)).view(dtype).reshape(shape)
        out = np.empty(shape, dtype)
        parallel_copy(out.reshape(-1).view(np.uint8), np.frombuffer(st.view(), np.uint8))
        return out

    # ---- kernels
    def dispatch(self, name: str, spec: tuple, groups, pc: bytes, reads, writes) -> None:
        """Record one dispatch of kernel ``name``; ``pc`` is the packed push-constant block."""
        if self.bda:
            p = self._pipelines.get((name, spec)) or self.pipelines.get(name, spec)
            self.stream.dispatch(p, name, groups, pc, reads, writes)
        else:
            self._dispatch_desc(name, spec, groups, pc, reads, writes)

    def _dispatch_desc(self, name, spec, groups, pc, reads, writes) -> None:
        """Descriptor mode: the leading addresses of ``pc`` become pushed storage-buffer descriptors."""
        pipe, layout, bindings, set_layout = self.pipelines.get_desc(name, spec, self.desc_mode == "push")
        n = sum(bindings)
        addrs = struct.unpack_from(f"<{n}Q", pc) if n else ()
        infos = ffi.new("VkDescriptorBufferInfo[]", max(n, 1))
        mask, i = 0, 0
        for k, count in enumerate(bindings):
            for _ in range(count):
                a = addrs[i]
                if a:
                    mask |= 1 << k
                    block, off = self.blocks_by_addr[a >> FAKE_SHIFT], a & ((1 << FAKE_SHIFT) - 1)
                    if off % self.limits["minStorageOffset"]:
                        raise BackendError(f"kernel '{name}': operand offset {off} is not aligned for a storage "
                                           "descriptor on this device")
                    infos[i].buffer, infos[i].offset = block.buffer, off
                    infos[i].range = min(block.size - off, self.limits["maxStorageRange"])
                else:
                    infos[i].buffer, infos[i].offset, infos[i].range = self._dummy.block.buffer, 0, 256
                i += 1
        wr = ffi.new("VkWriteDescriptorSet[]", len(bindings))
        i = 0
        for k, count in enumerate(bindings):
            w = wr[k]
            w.sType, w.dstBinding, w.descriptorCount = vk.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, k, count
            w.descriptorType, w.pBufferInfo = vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, infos + i
            i += count
        cmd = self.stream.cmd()
        if self.desc_mode == "push":
            self._push_descriptors(cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, len(bindings), wr)
        else:  # a fresh set from the command buffer's pools (reset when the command buffer is recycled)
            ds = self.stream.descriptor_set(set_layout)
            for k in range(len(bindings)):
                wr[k].dstSet = ds[0]
            lib.vkUpdateDescriptorSets(self.device, len(bindings), wr, 0, ffi.NULL)
            lib.vkCmdBindDescriptorSets(cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, ds, 0, ffi.NULL)
        self.stream.dispatch(pipe, name, groups, struct.pack("<II", mask, 0) + pc[8 * n:], reads, writes,
                             layout=layout)

    def grid(self, n_groups: int) -> tuple[int, int, int]:
        """A 2-D grid of ``n_groups`` workgroups (shaders flatten it with gl_NumWorkGroups.x)."""
        mx = min(self.limits["maxGroups"][0], 65535)
        if n_groups <= mx:
            return (n_groups, 1, 1)
        return (mx, (n_groups + mx - 1) // mx, 1)

    # ---- shutdown
    def shutdown(self) -> None:
        if not _runtime or _runtime[0] is not self:
            return
        try:
            self.stream.finish()
            self.pipelines.save()
            if self.stream.profile:
                print_profile(self.stream.kernel_times)
        except Exception:
            pass


def print_profile(times: dict) -> None:
    if not times:
        return
    rows = sorted(times.items(), key=lambda kv: -kv[1][1])
    total = sum(t for _, t in times.values()) or 1.0
    out = [f"{'kernel':<40} {'calls':>8} {'total ms':>10} {'mean us':>9} {'%':>6}"]
    for name, (n, ns) in rows:
        out.append(f"{name:<40} {n:>8} {ns / 1e6:>10.3f} {ns / 1e3 / n:>9.2f} {100 * ns / total:>6.1f}")
    sys.stderr.write("grilly GPU profile (timestamp queries)\n" + "\n".join(out) + "\n")


def get_runtime() -> Runtime:
    if not _runtime:
        _runtime.append(Runtime())
    return _runtime[0]


def probe() -> bool:
    """Whether a usable Vulkan device exists: quiet, exception-free, no device is created."""
    if IMPORT_ERROR is not None:
        return False
    if _runtime:
        return True
    try:
        app = vk.VkApplicationInfo(apiVersion=vk.VK_MAKE_VERSION(1, 3, 0))
        inst = vk.vkCreateInstance(vk.VkInstanceCreateInfo(pApplicationInfo=app), None)
        try:
            return D.select(D.list_devices(inst)) is not None
        finally:
            vk.vkDestroyInstance(inst, None)
    except Exception:
        return False
