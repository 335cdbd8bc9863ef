// grilly shader prelude: buffer device addresses, 8/16-bit storage, the flattened 2-D dispatch grid, bf16.
#ifndef GRILLY_COMMON
#define GRILLY_COMMON
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_buffer_reference2 : require
#extension GL_EXT_scalar_block_layout : require
#extension GL_EXT_shader_explicit_arithmetic_types : require
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_16bit_storage : require

#ifndef WG
layout(local_size_x_id = 0) in;
#endif

// Element index of this invocation in a grid of gl_NumWorkGroups.x * gl_NumWorkGroups.y workgroups.
uint gid() {
    return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
}

uint group_id() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

float bf16_to_f32(uint16_t b) { return uintBitsToFloat(uint(b) << 16); }

uint16_t f32_to_bf16(float f) {  // round to nearest even, NaN stays NaN
    uint u = floatBitsToUint(f);
    if (isnan(f)) return uint16_t((u >> 16) | 0x40u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

#define F_INF uintBitsToFloat(0x7F800000u)
#define F_NAN uintBitsToFloat(0x7FC00000u)
#endif
