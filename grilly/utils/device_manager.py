"""Device management: which devices exist, which one new arrays go to, and how much memory is budgeted and used.

grilly has two backends: Vulkan (one device per process, picked by ``VK_GPU_INDEX`` / ``VK_GPU_NAME`` or the
preference order) and the NumPy host backend. ``DeviceManager`` lists both, switches the default between them,
and reports memory (the Vulkan heap budget from VK_EXT_memory_budget where the driver has it).

>>> import grilly.utils as utils
>>> dm = utils.get_device_manager()
>>> dm.devices()[-1].name
'numpy:cpu'
>>> dm.backend in ("numpy", "vulkan")
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import grilly
from grilly.core.backend import default_backend, get_backend, set_default_backend, vulkan_available
from grilly.core.errors import BackendError

_TYPE_NAMES = {0: "other", 1: "integrated", 2: "discrete", 3: "virtual", 4: "cpu"}
_VENDORS = {0x10DE: "NVIDIA", 0x1002: "AMD", 0x8086: "Intel", 0x13B5: "ARM", 0x5143: "Qualcomm", 0x10005: "Mesa"}


@dataclass(frozen=True)
class DeviceInfo:
    """One device: ``kind`` is ``"vulkan"`` or ``"numpy"``; memory in bytes (device-local heaps)."""

    kind: str
    index: int
    name: str
    device_type: str
    vendor: str
    memory_total: int
    usable: bool

    def __str__(self) -> str:
        return self.name if self.kind == "numpy" else f"vulkan:{self.index} ({self.name})"


def _host_memory() -> tuple[int, int]:
    """(total, available) bytes of host RAM, from sysconf (0 where the platform lacks it)."""
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_PHYS_PAGES") * page, os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return 0, 0


def _heaps(pdev) -> list[dict]:
    """Device-local heaps with size, budget and usage (budget/usage only with VK_EXT_memory_budget)."""
    from grilly.core.backend.vulkan._vk import ffi, lib, vk

    exts = {e.extensionName for e in vk.vkEnumerateDeviceExtensionProperties(pdev, None)}
    has_budget = "VK_EXT_memory_budget" in exts
    budget = ffi.new("VkPhysicalDeviceMemoryBudgetPropertiesEXT*",
                     {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT})
    props = ffi.new("VkPhysicalDeviceMemoryProperties2*",
                    {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
                     "pNext": budget if has_budget else ffi.NULL})
    lib.vkGetPhysicalDeviceMemoryProperties2(pdev, props)
    mp = props.memoryProperties
    out = []
    for i in range(mp.memoryHeapCount):
        heap = mp.memoryHeaps[i]
        if not heap.flags & vk.VK_MEMORY_HEAP_DEVICE_LOCAL_BIT:
            continue
        out.append({"size": int(heap.size),
                    "budget": int(budget.heapBudget[i]) if has_budget else int(heap.size),
                    "usage": int(budget.heapUsage[i]) if has_budget else None})
    return out


def _physical_devices() -> list:
    """``PhysicalInfo`` of every Vulkan device, through the runtime's instance or a short-lived one."""
    from grilly.core.backend.vulkan import device as D
    from grilly.core.backend.vulkan import runtime as R
    from grilly.core.backend.vulkan._vk import vk

    if R._runtime:
        return D.list_devices(R._runtime[0].instance)
    inst = vk.vkCreateInstance(vk.VkInstanceCreateInfo(
        pApplicationInfo=vk.VkApplicationInfo(apiVersion=vk.VK_MAKE_VERSION(1, 2, 0))), None)
    try:
        infos = D.list_devices(inst)
        # the handles die with the instance: keep what we need now
        return [(i, _heaps(i.handle)) for i in infos]
    finally:
        vk.vkDestroyInstance(inst, None)


class DeviceManager:
    """Lists devices, selects where new arrays go, and reports memory.

    >>> dm = DeviceManager()
    >>> dm.select("numpy").name
    'numpy:cpu'
    >>> dm.memory_info()["backend"]
    'numpy'
    """

    def devices(self) -> list[DeviceInfo]:
        """Every Vulkan device (usable or not, in enumeration order), then the NumPy host device."""
        out = []
        if vulkan_available():
            from grilly.core.backend.vulkan import device as D

            for entry in _physical_devices():
                info, heaps = entry if isinstance(entry, tuple) else (entry, _heaps(entry.handle))
                out.append(DeviceInfo(
                    "vulkan", info.index, info.name, _TYPE_NAMES.get(info.dtype, "other"),
                    _VENDORS.get(info.vendor, hex(info.vendor)), sum(h["size"] for h in heaps),
                    D.usable(info) and (not info.is_cpu or D._env_flag("ALLOW_CPU_VULKAN"))))
        total, _ = _host_memory()
        out.append(DeviceInfo("numpy", 0, "numpy:cpu", "cpu", "host", total, True))
        return out

    @property
    def backend(self) -> str:
        """The backend new arrays go to: ``"vulkan"`` or ``"numpy"``."""
        return default_backend()

    @property
    def vulkan_available(self) -> bool:
        return vulkan_available()

    def current(self) -> DeviceInfo:
        """The device new arrays go to."""
        if self.backend == "numpy":
            return self.devices()[-1]
        from grilly.core.backend.vulkan import get_runtime

        idx = get_runtime().info.index
        return next(d for d in self.devices() if d.kind == "vulkan" and d.index == idx)

    def select(self, device: str | int) -> DeviceInfo:
        """Send new arrays to ``device``: ``"numpy"``, ``"vulkan"``, ``"vulkan:N"``, an index N, or a name part.

        The Vulkan device is chosen once per process (when the runtime starts); choosing another one after
        that raises ``BackendError``.
        """
        if isinstance(device, str) and device.split(":")[0].lower() in ("numpy", "cpu"):
            set_default_backend("numpy")
            return self.current()
        if not vulkan_available():
            raise BackendError(f"cannot select {device!r}: no usable Vulkan device "
                               "(set ALLOW_CPU_VULKAN=1 to allow a CPU implementation such as lavapipe)")
        want = self._match(device)
        from grilly.core.backend.vulkan import runtime as R

        if want is not None and R._runtime and R._runtime[0].info.index != want.index:
            raise BackendError(f"the Vulkan runtime already runs on vulkan:{R._runtime[0].info.index}; "
                               f"select {device!r} before the first Vulkan array is made")
        if want is not None and not R._runtime:
            os.environ["VK_GPU_INDEX"] = str(want.index)
            os.environ.pop("VK_GPU_NAME", None)
        set_default_backend("vulkan")
        return self.current()

    def _match(self, device: str | int) -> DeviceInfo | None:
        if isinstance(device, str) and device.lower() == "vulkan":
            return None
        vks = [d for d in self.devices() if d.kind == "vulkan"]
        if isinstance(device, int) or (isinstance(device, str) and device.lower().startswith("vulkan:")):
            idx = int(device) if isinstance(device, int) else int(device.split(":")[1])
            found = [d for d in vks if d.index == idx]
        else:
            found = [d for d in vks if str(device).lower() in d.name.lower()]
        if not found:
            raise BackendError(f"no Vulkan device matches {device!r}; devices: {', '.join(map(str, vks))}")
        if not found[0].usable:
            raise BackendError(f"{found[0]} is not usable by grilly (Vulkan 1.2 features missing, or a CPU "
                               "device without ALLOW_CPU_VULKAN=1)")
        return found[0]

    def memory_info(self) -> dict:
        """Memory of the current device in bytes: ``total``, ``budget`` (what the driver lets this process use),
        ``in_use`` (bytes held by live grilly arrays), ``reserved`` (blocks allocated from the driver)."""
        if self.backend == "numpy":
            total, avail = _host_memory()
            return {"backend": "numpy", "device": "numpy:cpu", "total": total, "budget": avail,
                    "in_use": None, "reserved": None}
        from grilly.core.backend.vulkan import get_runtime

        rt = get_runtime()
        heaps = _heaps(rt.info.handle)
        stats = rt.memory_stats()
        return {"backend": "vulkan", "device": f"vulkan:{rt.info.index} ({rt.info.name})",
                "total": sum(h["size"] for h in heaps), "budget": sum(h["budget"] for h in heaps),
                "in_use": stats["in_use"], "reserved": stats["reserved"]}

    def synchronize(self) -> None:
        """Wait until the device has finished all recorded work."""
        if self.backend == "vulkan":
            from grilly.core.backend.vulkan import get_runtime

            get_runtime().stream.finish()

    def empty_cache(self) -> None:
        """Finish pending work and give unused memory blocks back to the driver."""
        if self.backend == "vulkan":
            from grilly.core.backend.vulkan import get_runtime

            get_runtime().reclaim(wait=True)

    @staticmethod
    def torch_device() -> str:
        """The PyTorch device matching this machine: ``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def to_vulkan(self, x, dtype=None) -> grilly.Array:
        from grilly.utils.tensor_conversion import to_vulkan

        return to_vulkan(x, dtype=dtype)

    def from_vulkan(self, x, to: str = "numpy", device: str | None = None):
        from grilly.utils.tensor_conversion import from_vulkan

        return from_vulkan(x, to=to, device=device)

    def __repr__(self) -> str:
        return f"DeviceManager(backend={self.backend!r}, devices={[str(d) for d in self.devices()]})"


_manager: list[DeviceManager] = []


def get_device_manager() -> DeviceManager:
    """The process-wide ``DeviceManager``."""
    if not _manager:
        _manager.append(DeviceManager())
    return _manager[0]


def get_vulkan_backend():
    """The Vulkan backend object (its ``rt`` is the runtime); ``BackendError`` when no usable device exists.

    >>> import grilly
    >>> if grilly.VULKAN_AVAILABLE:
    ...     assert get_vulkan_backend().name == "vulkan"
    """
    return get_backend("vulkan")


__all__ = ["DeviceInfo", "DeviceManager", "get_device_manager", "get_vulkan_backend"]
