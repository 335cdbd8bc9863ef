"""Instance creation, physical-device selection and the logical device.

Order: discrete NVIDIA > AMD > Intel discrete > other discrete > integrated > virtual > CPU. ``VK_GPU_INDEX``
(index in enumeration order) or ``VK_GPU_NAME`` (case-insensitive substring) override the order; a CPU device
(lavapipe) is usable only with ``ALLOW_CPU_VULKAN=1``. ``GRILLY_VK_VALIDATION=1`` enables the Khronos
validation layer and collects its messages (``validation_messages()``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from grilly.core.backend.vulkan._vk import check, ffi, lib, vk
from grilly.core.errors import BackendError

_VENDOR_RANK = {0x10DE: 0, 0x1002: 1, 0x8086: 2}
_messages: list[str] = []


def validation_messages() -> list[str]:
    """Messages collected from the validation layer (only when ``GRILLY_VK_VALIDATION=1``)."""
    return _messages


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class PhysicalInfo:
    handle: object
    index: int
    name: str
    vendor: int
    dtype: int  # VkPhysicalDeviceType
    api: int
    features: dict = field(default_factory=dict)

    @property
    def is_cpu(self) -> bool:
        return self.dtype == vk.VK_PHYSICAL_DEVICE_TYPE_CPU

    def rank(self) -> tuple:
        t = self.dtype
        if t == vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return (0, _VENDOR_RANK.get(self.vendor, 3), self.index)
        order = {vk.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: 1, vk.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: 2}
        return (order.get(t, 3), 0, self.index)


def _debug_callback(severity, types, data, user):
    msg = data.pMessage if hasattr(data, "pMessage") else str(data)
    if isinstance(msg, ffi.CData):  # the raw binding hands over a char*
        msg = ffi.string(msg)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    _messages.append(str(msg))
    return 0


def create_instance(validation: bool):
    app = vk.VkApplicationInfo(
        pApplicationName="grilly",
        applicationVersion=1,
        pEngineName="grilly",
        engineVersion=1,
        apiVersion=vk.VK_MAKE_VERSION(1, 3, 0),
    )
    layers, exts = [], []
    if validation:
        avail = {p.layerName for p in vk.vkEnumerateInstanceLayerProperties()}
        if "VK_LAYER_KHRONOS_validation" not in avail:
            raise BackendError("GRILLY_VK_VALIDATION=1 but VK_LAYER_KHRONOS_validation is not installed")
        layers, exts = ["VK_LAYER_KHRONOS_validation"], ["VK_EXT_debug_utils"]
    info = vk.VkInstanceCreateInfo(
        pApplicationInfo=app,
        enabledLayerCount=len(layers),
        ppEnabledLayerNames=layers,
        enabledExtensionCount=len(exts),
        ppEnabledExtensionNames=exts,
    )
    instance = vk.vkCreateInstance(info, None)
    messenger = None
    if validation:
        sev = (
            vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT
            | vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT
        )
        typ = (
            vk.VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT
            | vk.VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT
            | vk.VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT
        )
        mci = vk.VkDebugUtilsMessengerCreateInfoEXT(
            messageSeverity=sev, messageType=typ, pfnUserCallback=_debug_callback
        )
        create = vk.vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT")
        messenger = create(instance, mci, None)
    return instance, messenger


def _features(pdev) -> dict:
    f12 = ffi.new(
        "VkPhysicalDeviceVulkan12Features*",
        {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES},
    )
    f11 = ffi.new(
        "VkPhysicalDeviceVulkan11Features*",
        {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, "pNext": f12},
    )
    f2 = ffi.new(
        "VkPhysicalDeviceFeatures2*", {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, "pNext": f11}
    )
    lib.vkGetPhysicalDeviceFeatures2(pdev, f2)
    core = f2.features
    return {
        "shaderFloat64": bool(core.shaderFloat64),
        "shaderInt64": bool(core.shaderInt64),
        "shaderInt16": bool(core.shaderInt16),
        "storageBuffer16BitAccess": bool(f11.storageBuffer16BitAccess),
        "storageBuffer8BitAccess": bool(f12.storageBuffer8BitAccess),
        "shaderInt8": bool(f12.shaderInt8),
        "shaderFloat16": bool(f12.shaderFloat16),
        "bufferDeviceAddress": bool(f12.bufferDeviceAddress),
        "timelineSemaphore": bool(f12.timelineSemaphore),
        "scalarBlockLayout": bool(f12.scalarBlockLayout),
        "hostQueryReset": bool(f12.hostQueryReset),
        "shaderBufferInt64Atomics": bool(f12.shaderBufferInt64Atomics),
        "vulkanMemoryModel": bool(f12.vulkanMemoryModel),
        "vulkanMemoryModelDeviceScope": bool(f12.vulkanMemoryModelDeviceScope),
        "cooperativeMatrix": _has_coopmat(pdev),
        **_optional_features(pdev),
        "pushDescriptor": _has_extension(pdev, PUSH_DESCRIPTOR_EXT),
    }


PUSH_DESCRIPTOR_EXT = "VK_KHR_push_descriptor"


def _has_extension(pdev, ext: str) -> bool:
    try:
        names = {e.extensionName for e in vk.vkEnumerateDeviceExtensionProperties(pdev, None)}
    except Exception:
        return False
    return ext in {n if isinstance(n, str) else ffi.string(n).decode() for n in names}


def descriptor_mode(info: PhysicalInfo) -> str:
    """How kernels get their operands: ``"bda"`` (buffer device addresses in push constants), ``"push"``
    (storage-buffer descriptors pushed with VK_KHR_push_descriptor) or ``"pool"`` (descriptor sets from
    per-command-buffer pools). ``GRILLY_VK_DESCRIPTORS=1`` forces descriptors, ``=pool`` the pool path."""
    env = os.environ.get("GRILLY_VK_DESCRIPTORS", "").strip().lower()
    if info.features.get("bufferDeviceAddress") and env in ("", "0", "false", "no", "off"):
        return "bda"
    return "push" if info.features.get("pushDescriptor") and env != "pool" else "pool"


def use_descriptors(info: PhysicalInfo) -> bool:
    return descriptor_mode(info) != "bda"


COOPMAT_EXT = "VK_KHR_cooperative_matrix"


def _has_coopmat(pdev) -> bool:
    """Whether VK_KHR_cooperative_matrix is there with its feature on (the matmul kernels' fast path)."""
    try:
        names = {e.extensionName for e in vk.vkEnumerateDeviceExtensionProperties(pdev, None)}
    except Exception:
        return False
    names = {n if isinstance(n, str) else ffi.string(n).decode() for n in names}
    if COOPMAT_EXT not in names:
        return False
    cm = ffi.new("VkPhysicalDeviceCooperativeMatrixFeaturesKHR*",
                 {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR})
    f2 = ffi.new("VkPhysicalDeviceFeatures2*", {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, "pNext": cm})
    lib.vkGetPhysicalDeviceFeatures2(pdev, f2)
    return bool(cm.cooperativeMatrix)


# Extensions whose feature structs the binding may not know: (extension, sType, feature names in struct order).
# Each is queried and enabled through a raw struct (sType, pNext, then VkBool32 fields), so only the Vulkan
# loader and driver need to know them.
OPTIONAL_EXTENSIONS = (
    ("VK_NV_cooperative_matrix2", 1000593000,
     ("cooperativeMatrixWorkgroupScope", "cooperativeMatrixFlexibleDimensions", "cooperativeMatrixReductions",
      "cooperativeMatrixConversions", "cooperativeMatrixPerElementOperations",
      "cooperativeMatrixTensorAddressing", "cooperativeMatrixBlockLoads")),
    ("VK_KHR_shader_bfloat16", 1000141000,
     ("shaderBFloat16Type", "shaderBFloat16DotProduct", "shaderBFloat16CooperativeMatrix")),
    ("VK_EXT_shader_atomic_float", 1000260000,
     ("shaderBufferFloat32Atomics", "shaderBufferFloat32AtomicAdd", "shaderBufferFloat64Atomics",
      "shaderBufferFloat64AtomicAdd", "shaderSharedFloat32Atomics", "shaderSharedFloat32AtomicAdd",
      "shaderSharedFloat64Atomics", "shaderSharedFloat64AtomicAdd", "shaderImageFloat32Atomics",
      "shaderImageFloat32AtomicAdd", "sparseImageFloat32Atomics", "sparseImageFloat32AtomicAdd")),
)


def _raw_struct(stype: int, n_bools: int, values=None):
    """A feature struct as words: sType, padding, an 8-byte pNext, then the VkBool32 fields."""
    words = ffi.new("uint32_t[]", 4 + n_bools)
    words[0] = stype
    for i, v in enumerate(values or ()):
        words[4 + i] = int(bool(v))
    return words


def _optional_features(pdev) -> dict:
    """The features of OPTIONAL_EXTENSIONS (all False where the extension is missing)."""
    out = {}
    for ext, stype, names in OPTIONAL_EXTENSIONS:
        vals = [False] * len(names)
        if _has_extension(pdev, ext):
            words = _raw_struct(stype, len(names))
            f2 = ffi.new("VkPhysicalDeviceFeatures2*",
                         {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, "pNext": ffi.cast("void*", words)})
            lib.vkGetPhysicalDeviceFeatures2(pdev, f2)
            vals = [bool(words[4 + i]) for i in range(len(names))]
        out.update(zip(names, vals))
    return out


def _chain_optional(f: dict, head, keep: list) -> list:
    """Chains the raw structs of the optional extensions the device has after ``head``; returns their names."""
    exts = []
    for ext, stype, names in OPTIONAL_EXTENSIONS:
        if any(f.get(n) for n in names):
            words = _raw_struct(stype, len(names), [f.get(n) for n in names])
            ffi.cast("void**", ffi.cast("char*", words) + 8)[0] = head.pNext
            head.pNext = ffi.cast("void*", words)
            keep.append(words)
            exts.append(ext)
    return exts


REQUIRED = (
    "timelineSemaphore",
    "storageBuffer8BitAccess",
    "storageBuffer16BitAccess",
    "shaderInt8",
    "shaderInt16",
    "shaderFloat16",
    "scalarBlockLayout",
)


def list_devices(instance) -> list[PhysicalInfo]:
    out = []
    for i, pdev in enumerate(vk.vkEnumeratePhysicalDevices(instance)):
        p = vk.vkGetPhysicalDeviceProperties(pdev)
        name = p.deviceName if isinstance(p.deviceName, str) else ffi.string(p.deviceName).decode()
        out.append(PhysicalInfo(pdev, i, name, p.vendorID, p.deviceType, p.apiVersion, _features(pdev)))
    return out


def usable(info: PhysicalInfo) -> bool:
    """Vulkan 1.2 and the required features (operands go by address, pushed descriptors or descriptor sets)."""
    return info.api >= vk.VK_MAKE_VERSION(1, 2, 0) and all(info.features.get(k) for k in REQUIRED)


def select(devices: list[PhysicalInfo]) -> PhysicalInfo | None:
    """Pick the device per the env overrides and the preference order; None when nothing qualifies."""
    allow_cpu = _env_flag("ALLOW_CPU_VULKAN")
    cands = [d for d in devices if usable(d) and (allow_cpu or not d.is_cpu)]
    idx, name = os.environ.get("VK_GPU_INDEX", "").strip(), os.environ.get("VK_GPU_NAME", "").strip().lower()
    if idx:
        cands = [d for d in cands if str(d.index) == idx]
    if name:
        cands = [d for d in cands if name in d.name.lower()]
    return min(cands, key=PhysicalInfo.rank, default=None)


def _compute_queue_family(pdev) -> int:
    for i, q in enumerate(vk.vkGetPhysicalDeviceQueueFamilyProperties(pdev)):
        if q.queueFlags & vk.VK_QUEUE_COMPUTE_BIT:
            return i
    raise BackendError("the selected Vulkan device has no compute queue")


def create_device(info: PhysicalInfo, descriptors: bool = False, push_descriptors: bool = False):
    """The logical device with the features grilly's shaders use; returns (device, queue, family)."""
    fam = _compute_queue_family(info.handle)
    f = info.features
    f12 = ffi.new(
        "VkPhysicalDeviceVulkan12Features*",
        {
            "sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
            "bufferDeviceAddress": int(not descriptors),
            "timelineSemaphore": 1,
            "storageBuffer8BitAccess": 1,
            "shaderInt8": 1,
            "shaderFloat16": 1,
            "scalarBlockLayout": 1,
            "hostQueryReset": int(f["hostQueryReset"]),
            "shaderBufferInt64Atomics": int(f["shaderBufferInt64Atomics"]),
            # Shaders compiled for the Vulkan memory model (cooperative matrices) use device-scope atomics too.
            "vulkanMemoryModel": int(bool(f.get("vulkanMemoryModel") and f.get("vulkanMemoryModelDeviceScope"))),
            "vulkanMemoryModelDeviceScope": int(bool(f.get("vulkanMemoryModelDeviceScope"))),
        },
    )
    f11 = ffi.new(
        "VkPhysicalDeviceVulkan11Features*",
        {
            "sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
            "pNext": f12,
            "storageBuffer16BitAccess": 1,
        },
    )
    f2 = ffi.new(
        "VkPhysicalDeviceFeatures2*", {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, "pNext": f11}
    )
    f2.features.shaderInt16 = 1
    f2.features.shaderInt64 = int(f["shaderInt64"])
    f2.features.shaderFloat64 = int(f["shaderFloat64"])
    prio = ffi.new("float[1]", [1.0])
    qinfo = ffi.new(
        "VkDeviceQueueCreateInfo*",
        {
            "sType": vk.VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
            "queueFamilyIndex": fam,
            "queueCount": 1,
            "pQueuePriorities": prio,
        },
    )
    exts = []
    if f.get("cooperativeMatrix"):
        cm = ffi.new("VkPhysicalDeviceCooperativeMatrixFeaturesKHR*",
                     {"sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR,
                      "cooperativeMatrix": 1})
        f12.pNext = cm
        exts = [ffi.new("char[]", COOPMAT_EXT.encode())]
    keep: list = []
    exts += [ffi.new("char[]", e.encode()) for e in _chain_optional(f, f12, keep)]
    if push_descriptors:
        exts.append(ffi.new("char[]", PUSH_DESCRIPTOR_EXT.encode()))
    ext_names = ffi.new("char*[]", exts) if exts else ffi.NULL
    dinfo = ffi.new(
        "VkDeviceCreateInfo*",
        {
            "sType": vk.VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
            "pNext": f2,
            "queueCreateInfoCount": 1,
            "pQueueCreateInfos": qinfo,
            "enabledExtensionCount": len(exts),
            "ppEnabledExtensionNames": ext_names,
        },
    )
    pdevice = ffi.new("VkDevice*")
    check(lib.vkCreateDevice(info.handle, dinfo, ffi.NULL, pdevice), "vkCreateDevice")
    device = pdevice[0]
    pqueue = ffi.new("VkQueue*")
    lib.vkGetDeviceQueue(device, fam, 0, pqueue)
    return device, pqueue[0], fam
