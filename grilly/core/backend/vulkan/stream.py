"""The command stream: dispatches are recorded into the current command buffer and submitted in batches.

A global memory barrier goes in only when the next command touches a buffer written since the last barrier.
Each submission signals the next value of one timeline semaphore; buffers remember the value of the last
submission that used them, so memory is recycled only after the GPU is done with it.
"""

from __future__ import annotations

from grilly.core.backend.vulkan._vk import check, ffi, lib, vk

MAX_RECORDED = 256  # dispatches per command buffer before it is submitted (so the GPU starts early)
_ALL_STAGES = None
_COMPUTE, _COMPUTE_STAGE = vk.VK_PIPELINE_BIND_POINT_COMPUTE, vk.VK_SHADER_STAGE_COMPUTE_BIT


class _Slot:
    __slots__ = ("cmd", "value", "queries", "names", "pools")

    def __init__(self, cmd, queries):
        self.cmd, self.value, self.queries, self.names = cmd, 0, queries, []
        self.pools: list = []  # descriptor pools (descriptor-set mode only), reset with the command buffer


class Stream:
    def __init__(self, rt, profile: bool):
        self.rt, self.dev, self.queue, self.profile = rt, rt.device, rt.queue, profile
        tinfo = ffi.new(
            "VkSemaphoreTypeCreateInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
                "semaphoreType": vk.VK_SEMAPHORE_TYPE_TIMELINE,
            },
        )
        sinfo = ffi.new(
            "VkSemaphoreCreateInfo*", {"sType": vk.VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, "pNext": tinfo}
        )
        psem = ffi.new("VkSemaphore*")
        check(lib.vkCreateSemaphore(self.dev, sinfo, ffi.NULL, psem), "vkCreateSemaphore")
        self.sem = psem[0]
        pinfo = ffi.new(
            "VkCommandPoolCreateInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                "queueFamilyIndex": rt.family,
                "flags": vk.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
            },
        )
        ppool = ffi.new("VkCommandPool*")
        check(lib.vkCreateCommandPool(self.dev, pinfo, ffi.NULL, ppool), "vkCreateCommandPool")
        self.pool = ppool[0]
        self.free_slots: list[_Slot] = []
        self.inflight: list[_Slot] = []
        self.cur: _Slot | None = None
        self._bound = None  # the pipeline bound in the command buffer being recorded
        self.count = 0
        self.submitted = 0
        self.completed = 0
        self.dirty: set[int] = set()
        self._untracked = False
        self.kernel_times: dict[str, list] = {}
        # preallocated structs for the hot path
        self._barrier = ffi.new(
            "VkMemoryBarrier*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                "srcAccessMask": vk.VK_ACCESS_SHADER_WRITE_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT,
                "dstAccessMask": (
                    vk.VK_ACCESS_SHADER_READ_BIT
                    | vk.VK_ACCESS_SHADER_WRITE_BIT
                    | vk.VK_ACCESS_TRANSFER_READ_BIT
                    | vk.VK_ACCESS_TRANSFER_WRITE_BIT
                ),
            },
        )
        self._stages = vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | vk.VK_PIPELINE_STAGE_TRANSFER_BIT
        self._to_host = ffi.new("VkMemoryBarrier*", {
            "sType": vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            "srcAccessMask": vk.VK_ACCESS_SHADER_WRITE_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT,
            "dstAccessMask": vk.VK_ACCESS_HOST_READ_BIT})
        self._begin = ffi.new(
            "VkCommandBufferBeginInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                "flags": vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
            },
        )
        self._pc = ffi.new("char[256]")
        self._pcbuf = ffi.buffer(self._pc)
        self._region = ffi.new("VkBufferCopy*")
        self._sig_value = ffi.new("uint64_t[1]")
        self._timeline_info = ffi.new(
            "VkTimelineSemaphoreSubmitInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
                "signalSemaphoreValueCount": 1,
                "pSignalSemaphoreValues": self._sig_value,
            },
        )
        self._psem = ffi.new("VkSemaphore[1]", [self.sem])
        self._pcmd = ffi.new("VkCommandBuffer[1]")
        self._submit = ffi.new(
            "VkSubmitInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_SUBMIT_INFO,
                "pNext": self._timeline_info,
                "commandBufferCount": 1,
                "pCommandBuffers": self._pcmd,
                "signalSemaphoreCount": 1,
                "pSignalSemaphores": self._psem,
            },
        )
        self._wait_value = ffi.new("uint64_t[1]")
        self._wait_info = ffi.new(
            "VkSemaphoreWaitInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO,
                "semaphoreCount": 1,
                "pSemaphores": self._psem,
                "pValues": self._wait_value,
            },
        )
        self._counter = ffi.new("uint64_t*")
        self.period = rt.limits["timestampPeriod"]

    # ---- recording
    @property
    def pending(self) -> int:
        """The timeline value the commands being recorded now will signal."""
        return self.submitted + 1

    def _slot(self) -> _Slot:
        if self.free_slots:
            return self.free_slots.pop()
        self.poll()
        if self.free_slots:
            return self.free_slots.pop()
        ainfo = ffi.new(
            "VkCommandBufferAllocateInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                "commandPool": self.pool,
                "level": vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                "commandBufferCount": 1,
            },
        )
        pcmd = ffi.new("VkCommandBuffer*")
        check(lib.vkAllocateCommandBuffers(self.dev, ainfo, pcmd), "vkAllocateCommandBuffers")
        queries = None
        if self.profile:
            qinfo = ffi.new(
                "VkQueryPoolCreateInfo*",
                {
                    "sType": vk.VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                    "queryType": vk.VK_QUERY_TYPE_TIMESTAMP,
                    "queryCount": 2 * MAX_RECORDED,
                },
            )
            pq = ffi.new("VkQueryPool*")
            check(lib.vkCreateQueryPool(self.dev, qinfo, ffi.NULL, pq), "vkCreateQueryPool")
            queries = pq[0]
        return _Slot(pcmd[0], queries)

    def cmd(self):
        """The command buffer being recorded (begun on first use)."""
        if self.cur is None:
            s = self._slot()
            check(lib.vkBeginCommandBuffer(s.cmd, self._begin), "vkBeginCommandBuffer")
            if s.queries is not None:
                lib.vkCmdResetQueryPool(s.cmd, s.queries, 0, 2 * MAX_RECORDED)
            self.cur, self._bound = s, None
        return self.cur.cmd

    def _hazard(self, reads, writes=()) -> None:
        """One global barrier if a buffer in ``reads`` or ``writes`` was written since the last barrier (or if a
        replayed command buffer wrote buffers this stream does not track)."""
        dirty = self.dirty
        if dirty and (self._untracked or any(b.addr in dirty for b in (*reads, *writes))):
            self._barrier_all()

    def _barrier_all(self) -> None:
        lib.vkCmdPipelineBarrier(self.cur.cmd, self._stages, self._stages, 0, 1, self._barrier, 0, ffi.NULL, 0,
                                 ffi.NULL)
        self.dirty.clear()
        self._untracked = False

    def dispatch(self, pipeline, name: str, groups, pc: bytes, reads, writes, layout=None) -> None:
        s = self.cur
        if s is None:
            self.cmd()
            s = self.cur
        cmd = s.cmd
        dirty = self.dirty
        if dirty:  # (no call at all while nothing is dirty)
            self._hazard(reads, writes)
        pending = self.submitted + 1
        for b in reads:
            b.last_use = pending
        for b in writes:
            b.last_use = pending
            dirty.add(b.addr)
        if pipeline is not self._bound:  # binding persists through the command buffer
            lib.vkCmdBindPipeline(cmd, _COMPUTE, pipeline)
            self._bound = pipeline
        if pc:
            if type(pc) is not bytes:  # cffi passes bytes as a pointer; other buffers go through a copy
                self._pcbuf[0 : len(pc)] = pc
                pc = self._pcbuf[0 : len(pc)]
            lib.vkCmdPushConstants(cmd, layout or self.rt.layout, _COMPUTE_STAGE, 0, len(pc), pc)
        if s.queries is not None:
            q = 2 * len(s.names)
            s.names.append(name)
            lib.vkCmdWriteTimestamp(cmd, vk.VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, s.queries, q)
            lib.vkCmdDispatch(cmd, groups[0], groups[1], groups[2])
            lib.vkCmdWriteTimestamp(cmd, vk.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, s.queries, q + 1)
        else:
            lib.vkCmdDispatch(cmd, groups[0], groups[1], groups[2])
        self.count += 1
        if self.count >= MAX_RECORDED:
            self.submit()

    def copy(self, src_buffer, src_off: int, dst_buffer, dst_off: int, n: int, reads, writes) -> None:
        """Record a buffer-to-buffer copy (uploads and downloads through staging)."""
        cmd = self.cmd()
        self._hazard(reads, writes)
        pending = self.submitted + 1
        for b in reads:
            b.last_use = pending
        for b in writes:
            b.last_use = pending
            self.dirty.add(b.addr)
        r = self._region
        r.srcOffset, r.dstOffset, r.size = src_off, dst_off, n
        lib.vkCmdCopyBuffer(cmd, src_buffer, dst_buffer, 1, r)

    # ---- submission and completion
    def submit(self) -> None:
        s = self.cur
        if s is None:
            return
        self._host_barrier(s.cmd)
        check(lib.vkEndCommandBuffer(s.cmd), "vkEndCommandBuffer")
        self.submitted += 1
        s.value = self.submitted
        self._sig_value[0] = s.value
        self._pcmd[0] = s.cmd
        check(lib.vkQueueSubmit(self.queue, 1, self._submit, ffi.NULL), "vkQueueSubmit")
        self.inflight.append(s)
        self.cur, self.count = None, 0
        # ``dirty`` survives: submissions on one queue may overlap, and a barrier in a later command buffer
        # orders everything submitted before it

    def _host_barrier(self, cmd) -> None:
        """Make this command buffer's writes visible to host reads once its semaphore value is reached."""
        lib.vkCmdPipelineBarrier(cmd, self._stages, vk.VK_PIPELINE_STAGE_HOST_BIT, 0, 1, self._to_host, 0, ffi.NULL,
                                 0, ffi.NULL)

    def poll(self) -> int:
        """The timeline value the GPU has reached; recycles finished command buffers."""
        if self.completed < self.submitted:
            r = lib.vkGetSemaphoreCounterValue(self.dev, self.sem, self._counter)
            if r:
                check(r, "vkGetSemaphoreCounterValue")
            self.completed = int(self._counter[0])
        while self.inflight and self.inflight[0].value <= self.completed:
            s = self.inflight.pop(0)
            if s.queries is not None and s.names:
                self._collect(s)
            check(lib.vkResetCommandBuffer(s.cmd, 0), "vkResetCommandBuffer")
            for pool in s.pools:
                check(lib.vkResetDescriptorPool(self.dev, pool, 0), "vkResetDescriptorPool")
            self.free_slots.append(s)
        return self.completed

    def wait(self, value: int) -> None:
        """Block until the GPU has reached ``value`` (submitting the current recording if needed)."""
        if value > self.submitted:
            self.submit()
        if value > self.completed:
            self._wait_value[0] = value
            check(lib.vkWaitSemaphores(self.dev, self._wait_info, 2**64 - 1), "vkWaitSemaphores")
            self.completed = max(self.completed, value)
        self.poll()

    def finish(self) -> None:
        self.submit()
        self.wait(self.submitted)

    # ---- prerecorded command buffers (jit replay)
    def submit_with(self, cmd) -> int:
        """Submit what is being recorded, then the prerecorded ``cmd``, in one vkQueueSubmit; returns the
        timeline value the batch signals (``cmd`` must begin with a barrier that orders earlier work)."""
        s, cmds = self.cur, [cmd]
        if s is not None:
            self._host_barrier(s.cmd)  # as submit() does
            check(lib.vkEndCommandBuffer(s.cmd), "vkEndCommandBuffer")
            cmds.insert(0, s.cmd)
        self.submitted += 1
        self._sig_value[0] = self.submitted
        arr = ffi.new("VkCommandBuffer[]", cmds)
        self._submit.commandBufferCount, self._submit.pCommandBuffers = len(cmds), arr
        try:
            check(lib.vkQueueSubmit(self.queue, 1, self._submit, ffi.NULL), "vkQueueSubmit")
        finally:
            self._submit.commandBufferCount, self._submit.pCommandBuffers = 1, self._pcmd
        if s is not None:
            s.value = self.submitted
            self.inflight.append(s)
        self.cur, self.count = None, 0
        self.dirty.add(0)  # the replayed buffer's writes are not tracked: the next command gets a barrier
        self._untracked = True
        return self.submitted

    def descriptor_set(self, set_layout):
        """A descriptor set (``VkDescriptorSet[1]``) from the pools of the command buffer being recorded."""
        s = self.cur
        out = ffi.new("VkDescriptorSet[1]")
        layouts = ffi.new("VkDescriptorSetLayout[1]", [set_layout])
        for _ in range(2):
            if s.pools:
                ainfo = ffi.new("VkDescriptorSetAllocateInfo*", {
                    "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, "descriptorPool": s.pools[-1],
                    "descriptorSetCount": 1, "pSetLayouts": layouts})
                if lib.vkAllocateDescriptorSets(self.dev, ainfo, out) == 0:
                    return out
            size = ffi.new("VkDescriptorPoolSize*", {"type": vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                     "descriptorCount": 16 * MAX_RECORDED})
            pinfo = ffi.new("VkDescriptorPoolCreateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, "maxSets": MAX_RECORDED,
                "poolSizeCount": 1, "pPoolSizes": size})
            pp = ffi.new("VkDescriptorPool*")
            check(lib.vkCreateDescriptorPool(self.dev, pinfo, ffi.NULL, pp), "vkCreateDescriptorPool")
            s.pools.append(pp[0])
        raise RuntimeError("could not allocate a descriptor set")

    def _collect(self, s: _Slot) -> None:
        n = 2 * len(s.names)
        data = ffi.new("uint64_t[]", n)
        r = lib.vkGetQueryPoolResults(
            self.dev, s.queries, 0, n, 8 * n, data, 8, vk.VK_QUERY_RESULT_64_BIT | vk.VK_QUERY_RESULT_WAIT_BIT
        )
        if r == 0:
            for i, name in enumerate(s.names):
                t = self.kernel_times.setdefault(name, [0, 0.0])
                t[0] += 1
                t[1] += (data[2 * i + 1] - data[2 * i]) * self.period
        s.names.clear()
