"""Compute pipelines from the committed SPIR-V, cached by (kernel, specialization constants).

All kernels share one pipeline layout: no descriptor sets, a 128-byte push-constant range holding buffer
device addresses followed by sizes and scalars. Specialization constant ids 0, 1, 2 ... take the values of the
``spec`` tuple (id 0 is the workgroup size by convention). A VkPipelineCache is kept on disk under
``~/.cache/grilly`` so later processes skip most of the driver's compilation.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

from grilly.core.backend.vulkan._vk import check, ffi, lib, vk
from grilly.core.backend.vulkan.spirv_info import shared_bytes
from grilly.core.errors import BackendError

SPV_DIR = Path(__file__).resolve().parents[3] / "shaders" / "spv"
PUSH_BYTES = 128


def available_kernels() -> set[str]:
    """Names of the compiled kernels (from the manifest)."""
    try:
        return set(json.loads((SPV_DIR / "manifest.json").read_text())["variants"])
    except (OSError, ValueError, KeyError):
        return {p.stem for p in SPV_DIR.glob("*.spv")}


def _cache_path(props) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "grilly"
    uuid = bytes(ffi.buffer(props.pipelineCacheUUID, 16)).hex()
    return root / f"pipelines-{props.vendorID:04x}-{props.deviceID:04x}-{uuid}.bin"


class Pipelines:
    def __init__(self, rt):
        self.rt, self.dev = rt, rt.device
        rng = ffi.new(
            "VkPushConstantRange*",
            {"stageFlags": vk.VK_SHADER_STAGE_COMPUTE_BIT, "offset": 0, "size": PUSH_BYTES},
        )
        linfo = ffi.new(
            "VkPipelineLayoutCreateInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                "pushConstantRangeCount": 1,
                "pPushConstantRanges": rng,
            },
        )
        play = ffi.new("VkPipelineLayout*")
        check(lib.vkCreatePipelineLayout(self.dev, linfo, ffi.NULL, play), "vkCreatePipelineLayout")
        self.layout = play[0]
        self.path = _cache_path(rt.props)
        data = b""
        try:
            data = self.path.read_bytes()
        except OSError:
            pass
        self._data_hash = hashlib.sha256(data).hexdigest()
        blob = ffi.from_buffer(data) if data else ffi.NULL
        cinfo = ffi.new(
            "VkPipelineCacheCreateInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                "initialDataSize": len(data),
                "pInitialData": blob,
            },
        )
        pcache = ffi.new("VkPipelineCache*")
        check(lib.vkCreatePipelineCache(self.dev, cinfo, ffi.NULL, pcache), "vkCreatePipelineCache")
        self.cache = pcache[0]
        self.modules: dict[str, object] = {}
        self.code: dict[str, bytes] = {}
        self.pipelines: dict[tuple, object] = {}
        self.desc_layouts: dict[str, tuple] = {}
        self.created = 0

    def _module(self, name: str):
        m = self.modules.get(name)
        if m is None:
            try:
                code = (SPV_DIR / f"{name}.spv").read_bytes()
            except OSError:
                raise BackendError(f"no compiled kernel '{name}' (run scripts/compile_shaders.py)") from None
            m = self.add_module(name, code)
        return m

    def add_module(self, name: str, code: bytes):
        """Creates the shader module of kernel ``name`` from its SPIR-V (kept for the shared-memory check)."""
        minfo = ffi.new(
            "VkShaderModuleCreateInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                "codeSize": len(code),
                "pCode": ffi.cast("uint32_t*", ffi.from_buffer(code)),
            },
        )
        pm = ffi.new("VkShaderModule*")
        check(lib.vkCreateShaderModule(self.dev, minfo, ffi.NULL, pm), "vkCreateShaderModule")
        self.modules[name], self.code[name] = pm[0], code
        return pm[0]

    def get(self, name: str, spec: tuple = ()):
        """The pipeline of kernel ``name`` with specialization constants ``spec`` (uint32 / int32 values)."""
        key = (name, spec)
        p = self.pipelines.get(key)
        if p is None:
            p = self.pipelines[key] = self._create(name, spec)
        return p

    def _create(self, name: str, spec: tuple, layout=None):
        module = self._module(name)
        need, limit = shared_bytes(self.code[name], spec), self.rt.limits["maxShared"]
        if need is not None and need > limit:
            raise BackendError(f"kernel '{name}' (specialization {spec}) needs {need} bytes of shared memory; "
                               f"this device allows {limit}")
        keep = []
        sinfo = ffi.NULL
        if spec:
            entries = ffi.new(
                "VkSpecializationMapEntry[]",
                [{"constantID": i, "offset": 4 * i, "size": 4} for i in range(len(spec))],
            )
            raw = b"".join(struct.pack("<i" if v < 0 else "<I", v) for v in spec)
            data = ffi.new("char[]", raw)
            sinfo = ffi.new(
                "VkSpecializationInfo*",
                {"mapEntryCount": len(spec), "pMapEntries": entries, "dataSize": len(raw), "pData": data},
            )
            keep += [entries, data]
        stage = {
            "sType": vk.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            "stage": vk.VK_SHADER_STAGE_COMPUTE_BIT,
            "module": module,
            "pName": ffi.new("char[]", b"main"),
            "pSpecializationInfo": sinfo,
        }
        keep.append(stage["pName"])
        cinfo = ffi.new(
            "VkComputePipelineCreateInfo*",
            {
                "sType": vk.VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                "stage": stage,
                "layout": layout or self.layout,
            },
        )
        pp = ffi.new("VkPipeline*")
        check(
            lib.vkCreateComputePipelines(self.dev, self.cache, 1, cinfo, ffi.NULL, pp),
            f"creating the pipeline of kernel '{name}'",
        )
        self.created += 1
        return pp[0]

    def get_desc(self, name: str, spec: tuple = (), push: bool = True):
        """Descriptor mode: (pipeline, pipeline layout, descriptors per binding, set layout) of ``<name>__desc``;
        ``push``: the set layout is for VK_KHR_push_descriptor (else for sets from a pool)."""
        meta = self.desc_layouts.get(name)
        if meta is None:
            try:
                bindings = json.loads((SPV_DIR / f"{name}__desc.json").read_text())["bindings"]
            except (OSError, ValueError, KeyError):
                raise BackendError(f"kernel '{name}' has no descriptor variant (this device lacks "
                                   "bufferDeviceAddress)") from None
            entries = ffi.new("VkDescriptorSetLayoutBinding[]", [
                {"binding": k, "descriptorType": vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, "descriptorCount": c,
                 "stageFlags": vk.VK_SHADER_STAGE_COMPUTE_BIT} for k, c in enumerate(bindings)])
            sinfo = ffi.new("VkDescriptorSetLayoutCreateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, "flags": int(push),  # PUSH_DESCRIPTOR
                "bindingCount": len(bindings), "pBindings": entries})
            psl = ffi.new("VkDescriptorSetLayout*")
            check(lib.vkCreateDescriptorSetLayout(self.dev, sinfo, ffi.NULL, psl), "vkCreateDescriptorSetLayout")
            rng = ffi.new("VkPushConstantRange*", {"stageFlags": vk.VK_SHADER_STAGE_COMPUTE_BIT, "offset": 0,
                                                   "size": PUSH_BYTES})
            sets = ffi.new("VkDescriptorSetLayout[1]", [psl[0]])
            linfo = ffi.new("VkPipelineLayoutCreateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, "setLayoutCount": 1, "pSetLayouts": sets,
                "pushConstantRangeCount": 1, "pPushConstantRanges": rng})
            play = ffi.new("VkPipelineLayout*")
            check(lib.vkCreatePipelineLayout(self.dev, linfo, ffi.NULL, play), "vkCreatePipelineLayout")
            meta = self.desc_layouts[name] = (psl[0], play[0], tuple(bindings))
        key = (name + "__desc", spec)
        p = self.pipelines.get(key)
        if p is None:
            p = self.pipelines[key] = self._create(name + "__desc", spec, meta[1])
        return p, meta[1], meta[2], meta[0]

    def save(self) -> None:
        """Write the driver's pipeline cache to disk (at exit)."""
        if not self.created:
            return
        n = ffi.new("size_t*")
        if lib.vkGetPipelineCacheData(self.dev, self.cache, n, ffi.NULL) != 0 or not n[0]:
            return
        buf = ffi.new("char[]", n[0])
        if lib.vkGetPipelineCacheData(self.dev, self.cache, n, buf) != 0:
            return
        data = bytes(ffi.buffer(buf, n[0]))
        if hashlib.sha256(data).hexdigest() == self._data_hash:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, self.path)
        except OSError:
            pass

    def destroy(self) -> None:
        for p in self.pipelines.values():
            lib.vkDestroyPipeline(self.dev, p, ffi.NULL)
        for m in self.modules.values():
            lib.vkDestroyShaderModule(self.dev, m, ffi.NULL)
        for sl, pl, _ in self.desc_layouts.values():
            lib.vkDestroyPipelineLayout(self.dev, pl, ffi.NULL)
            lib.vkDestroyDescriptorSetLayout(self.dev, sl, ffi.NULL)
        lib.vkDestroyPipelineCache(self.dev, self.cache, ffi.NULL)
        lib.vkDestroyPipelineLayout(self.dev, self.layout, ffi.NULL)
