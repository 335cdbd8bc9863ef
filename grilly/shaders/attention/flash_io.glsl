// Buffers, sizes and visibility shared by the portable flash-attention kernels (flash_common.glsl's and the
// register-tiled forward). Layout (batch, seq, heads, head_dim), contiguous.
#define WG 1
#include "../include/common.glsl"
const float LOG2E = 1.4426950408889634;
const float LN2 = 0.6931471805599453;
layout(buffer_reference, scalar) readonly buffer InBuf { A_ST d[]; };
layout(buffer_reference, scalar) writeonly buffer OutBuf { A_ST d[]; };
layout(buffer_reference, scalar) buffer FBuf { float d[]; };
layout(buffer_reference, scalar) readonly buffer MBuf { uint8_t d[]; };

// Element (b, s, h, d) of a (B, S, H, D) array.
uint at(uint b, uint s, uint h, uint S, uint H, uint D) { return ((b * S + s) * H + h) * D; }

// Whether query i may attend to key j (a macro: each kernel declares its own push-constant block `pc`).
#define VISIBLE(b, h, i, j)                                                                               \
    ((j) < pc.Sk && (i) < pc.Sq && (pc.causal == 0u || (j) <= (i)) &&                                     \
     (pc.has_mask == 0u || pc.mask.d[(b) * pc.smb + (h) * pc.smh + (i) * pc.Sk + (j)] != uint8_t(0)))
#define ATTN_SIZES uint B; uint H; uint Sq; uint Sk; uint D; uint causal; float scale; uint smb; uint smh; \
    uint has_mask
