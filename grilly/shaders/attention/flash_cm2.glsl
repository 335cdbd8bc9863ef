// Shared by the float16 flash-attention kernels on VK_NV_cooperative_matrix2 (see flash_fwd_cm2.comp): 16 x 16
// blocks, NW subgroups of 32 (4 unless defined), tiles of (B, S, H, HD) float16 arrays staged in the shared array TILES (16-byte
// vectors, rows padded to SK vectors), and the next pair of tiles fetched into registers ahead of its use.
// The including kernel defines HD, then declares `pc` (with H), `shared uvec4 TILES[]` and NPRE and includes
// flash_cm2_tiles.glsl.
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_control_flow_attributes : enable
#define WG 1
#include "../include/common.glsl"
#ifndef NW
#define NW 4u
#endif
const uint WGS = 32u * NW, T = 16u;  // NW subgroups of 32
layout(local_size_x = WGS) in;
const uint SK = (HD + 8u) / 8u;  // row stride of a staged tile, in 16-byte vectors
const uint ND = HD / T;          // 16-wide chunks of the head dim
const float LOG2E = 1.4426950408889634, LN2 = 0.6931471805599453;
layout(buffer_reference, scalar) readonly buffer InV { uvec4 d[]; };
layout(buffer_reference, scalar) writeonly buffer OutV { uvec4 d[]; };
layout(buffer_reference, scalar) buffer FBuf { float d[]; };
layout(buffer_reference, scalar) readonly buffer MBuf { uint8_t d[]; };

#define ACC coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>
#define ACC_H coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>
#define MAT_A coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA>
#define MAT_B coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB>

float max_op(const in float a, const in float b) { return max(a, b); }
float add_op(const in float a, const in float b) { return a + b; }
