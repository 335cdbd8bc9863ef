// Float32 math with NumPy-like accuracy where the GLSL built-ins are loose (small arguments, NaN, overflow).
#ifndef GRILLY_MATH
#define GRILLY_MATH
float expm1_(float x) {  // Kahan: exact cancellation of the rounding error of exp
    float u = exp(x);
    if (u == 1.0) return x;
    float um1 = u - 1.0;
    if (um1 == -1.0) return -1.0;
    if (isinf(u)) return u;
    return um1 * x / log(u);
}
float log1p_(float x) {
    float u = 1.0 + x;
    if (u == 1.0) return x;
    if (isinf(u)) return u;
    return log(u) * x / (u - 1.0);
}
float tanh_(float x) {
    if (isnan(x)) return x;
    float e = expm1_(-2.0 * abs(x));
    return (abs(x) > 20.0 ? 1.0 : -e / (2.0 + e)) * (x < 0.0 ? -1.0 : 1.0);
}
float sinh_(float x) {
    float a = abs(x);
    if (a > 88.0) return x < 0.0 ? -exp(a - 0.6931472) * 2.0 : exp(a - 0.6931472) * 2.0;  // avoid inf too early
    float e = expm1_(a);
    float r = 0.5 * (e + e / (e + 1.0));
    return x < 0.0 ? -r : r;
}
float cosh_(float x) { float a = abs(x); float e = exp(0.5 * a); return 0.5 * e * e + 0.5 / exp(a); }
float asinh_(float x) {
    float a = abs(x);
    float r = a > 1e18 ? log(a) + 0.6931471805599453 : log1p_(a + a * a / (1.0 + sqrt(1.0 + a * a)));
    return x < 0.0 ? -r : r;
}
float acosh_(float x) {
    if (x < 1.0) return F_NAN;
    return x > 1e18 ? log(x) + 0.6931471805599453 : log1p_((x - 1.0) + sqrt((x - 1.0) * (x + 1.0)));
}
float atanh_(float x) {
    float a = abs(x);
    float r = a > 1.0 ? F_NAN : (a == 1.0 ? F_INF : 0.5 * log1p_(2.0 * a / (1.0 - a)));
    return x < 0.0 ? -r : r;
}
float erf_(float x) {
    float a = abs(x);
    float r;
    if (a < 0.5) {
        float t = x * x;
        r = a * (1.1283791670955126 + t * (-0.37612638903183754 + t * (0.11283791670955126 + t * (
            -0.026866170645131252 + t * (0.005223977625442188 + t * -0.0008548327023450852)))));
    } else if (a > 4.0) {
        r = 1.0;
    } else {  // erfc(a) = exp(-a^2) * P(1/(1+p a)), Numerical Recipes erfcc (relative error < 1.2e-7)
        float t = 1.0 / (1.0 + 0.5 * a);
        float y = t * exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
            -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223
            + t * 0.17087277)))))))));
        r = 1.0 - y;
    }
    return x < 0.0 ? -r : r;
}
float erf_inv_(float v) {  // Giles' single-precision approximation
    if (v <= -1.0 || v >= 1.0) return abs(v) == 1.0 ? v * F_INF : F_NAN;
    float w = -log((1.0 - v) * (1.0 + v));
    float p;
    if (w < 5.0) {
        w -= 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w; p = 1.50140941 + p * w;
    } else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w; p = 2.83297682 + p * w;
    }
    return p * v;
}
float sign_(float x) { return isnan(x) ? x : sign(x); }
float cbrt_(float x) {
    if (x == 0.0 || isinf(x) || isnan(x)) return x;
    float r = pow(abs(x), 1.0 / 3.0);
    r = r - (r * r * r - abs(x)) / (3.0 * r * r);  // one Newton step
    return x < 0.0 ? -r : r;
}
float pow_(float x, float y) {
    if (y == 0.0 || x == 1.0) return 1.0;
    if (isnan(x) || isnan(y)) return F_NAN;
    float ay = abs(y);
    bool yint = floor(y) == y;
    bool yodd = yint && ay < 16777216.0 && mod(ay, 2.0) == 1.0;
    if (x == 0.0) {
        if (y < 0.0) return (yodd && floatBitsToUint(x) != 0u) ? -F_INF : F_INF;
        return (yodd && floatBitsToUint(x) != 0u) ? x : 0.0;
    }
    if (x < 0.0 && !yint) return F_NAN;
    float r = exp2(y * log2(abs(x)));
    if (isinf(x)) r = y < 0.0 ? 0.0 : F_INF;
    return (x < 0.0 && yodd) ? -r : r;
}
float rem_(float a, float b) {  // C fmod: the sign of a
    if (b == 0.0 || isinf(a) || isnan(a) || isnan(b)) return F_NAN;
    if (isinf(b)) return a;
    float r = abs(a) - abs(b) * trunc(abs(a) / abs(b));
    if (r < 0.0) r += abs(b);
    if (r >= abs(b)) r -= abs(b);
    return a < 0.0 ? -r : r;
}
float max_(float a, float b) { return isnan(a) || isnan(b) ? F_NAN : max(a, b); }
float min_(float a, float b) { return isnan(a) || isnan(b) ? F_NAN : min(a, b); }
float atan_(float x) {  // Cephes atanf: range reduction + minimax polynomial (some drivers' atan is loose)
    float a = abs(x), r = 0.0, z = a;
    if (a > 2.414213562373095) { r = 1.5707963267948966; z = -1.0 / a; }
    else if (a > 0.41421356237309503) { r = 0.7853981633974483; z = (a - 1.0) / (a + 1.0); }
    float z2 = z * z;
    r += (((8.05374449538e-2 * z2 - 1.38776856032e-1) * z2 + 1.99777106478e-1) * z2 - 3.33329491539e-1) * z2 * z + z;
    return x < 0.0 ? -r : r;
}
float atan2_(float a, float b) {  // NumPy's arctan2(a, b)
    const float PI = 3.14159265358979;
    if (isnan(a) || isnan(b)) return F_NAN;
    bool aneg = (floatBitsToUint(a) >> 31) != 0u, bneg = (floatBitsToUint(b) >> 31) != 0u;
    if (a == 0.0) return bneg ? (aneg ? -PI : PI) : a;
    if (isinf(a) && isinf(b)) { float r = bneg ? 0.75 * PI : 0.25 * PI; return aneg ? -r : r; }
    if (b == 0.0) return aneg ? -0.5 * PI : 0.5 * PI;
    float r = atan_(a / b);
    if (bneg) r += aneg ? -PI : PI;
    return r;
}
float asin_(float x) {
    if (abs(x) > 1.0) return F_NAN;
    precise float s = sqrt((1.0 - x) * (1.0 + x));  // ``precise``: no fused approximations of x / sqrt(.)
    precise float q = x / s;
    return atan_(q);
}
float acos_(float x) {
    if (abs(x) > 1.0) return F_NAN;
    precise float q = (1.0 - x) / (1.0 + x);
    precise float s = sqrt(q);
    return 2.0 * atan_(s);
}
int wrap_(int v, int bits) { return bits >= 32 ? v : (v << (32 - bits)) >> (32 - bits); }
int fdiv_(int a, int b) {  // floor division (Python's //), b != 0
    if (b == -1) return -a;
    int q = a / b;
    return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}
// NumPy's integer division as grilly defines it: sign(a) * sign(b) * (|a| // |b|) with |.| wrapping in the
// dtype's width (so the most negative value keeps its sign), 0 when b == 0.
int idiv_(int a, int b, int bits) {
    if (b == 0) return 0;
    int aa = wrap_(abs(a), bits), ab = wrap_(abs(b), bits);
    return sign(a) * sign(b) * fdiv_(aa, ab);
}
uint udiv_(uint a, uint b) { return b == 0u ? 0u : a / b; }
int irem_(int a, int b) { return b == 0 ? 0 : (b == -1 ? 0 : a - b * (a / b)); }
uint urem_(uint a, uint b) { return b == 0u ? 0u : a % b; }
float ipow_f(float x, int k) {
    float r = 1.0, b = x;
    uint e = uint(abs(k));
    while (e > 0u) { if ((e & 1u) != 0u) r *= b; b *= b; e >>= 1; }
    return k < 0 ? 1.0 / r : r;
}
int ipow_i(int x, int k) {
    if (k < 0) return x == 1 ? 1 : (x == -1 ? ((k & 1) != 0 ? -1 : 1) : 0);
    int r = 1, b = x;
    uint e = uint(k);
    while (e > 0u) { if ((e & 1u) != 0u) r *= b; b *= b; e >>= 1; }
    return r;
}
uint ipow_u(uint x, int k) {
    if (k < 0) return x == 1u ? 1u : 0u;
    uint r = 1u, b = x;
    uint e = uint(k);
    while (e > 0u) { if ((e & 1u) != 0u) r *= b; b *= b; e >>= 1; }
    return r;
}
#endif
