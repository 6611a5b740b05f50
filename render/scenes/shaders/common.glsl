// Shared by every scene family: the music uniforms and small helpers.
// Image convention: v_uv.y = 0 is the first row read back (the top of the picture),
// so centred() flips y to make +y point up on screen.
uniform vec2 u_res;
uniform float u_time;        // seconds on the audio clock (frame index / fps offline)
uniform float u_phase;       // music clock: runs faster when the music is busy
uniform float u_energy;
uniform float u_bass;
uniform float u_mid;
uniform float u_treble;
uniform float u_bright;
uniform float u_beat;        // 1 on the beat, decays
uniform float u_onset;
uniform float u_beat_phase;  // 0..1 inside the beat
uniform float u_bar_phase;   // 0..1 inside the bar
uniform float u_down;        // downbeat pulse, decays over a beat
uniform float u_section;     // section energy (the cue's intensity)
uniform float u_trails;      // 0..1 how long feedback lingers
uniform vec4 u_ripple;       // seconds since each of the last four beats
uniform float u_chroma[12];
uniform vec4 u_params;       // per-scene shape parameters, 0..1, from the cue's scene number
uniform vec3 u_pal[6];       // the cue's palette (u_pal_n colours used)
uniform float u_pal_n;
uniform float u_frame;
uniform sampler2D u_prev;    // the last composite frame (feedback)

in vec2 v_uv;
layout(location = 0) out vec4 f_color;  // the composite: next frame's feedback

const float TAU = 6.2831853;

vec2 centred() {
    vec2 p = v_uv * 2.0 - 1.0;
    return vec2(p.x * u_res.x / u_res.y, -p.y);
}

vec2 to_uv(vec2 p) {
    return vec2(p.x * u_res.y / u_res.x, -p.y) * 0.5 + 0.5;
}

// A cyclic ramp through the palette (uniform array, no texture: on llvmpipe a texture
// fetch costs more than this arithmetic).
vec3 palette(float x) {
    float f = fract(x) * u_pal_n;
    int i = int(f);
    int j = i + 1 >= int(u_pal_n) ? 0 : i + 1;
    return mix(u_pal[i], u_pal[j], fract(f));
}

mat2 rot(float a) {
    float c = cos(a), s = sin(a);
    return mat2(c, s, -s, c);
}

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

vec2 hash22(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * vec3(0.1031, 0.1030, 0.0973));
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.xx + p3.yz) * p3.zy);
}

float noise(vec2 p) {
    vec2 i = floor(p), f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    float a = hash12(i), b = hash12(i + vec2(1, 0));
    float c = hash12(i + vec2(0, 1)), d = hash12(i + vec2(1, 1));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}

float fbm2(vec2 p) {  // two octaves: cheap enough for domain warping
    return 0.67 * noise(p) + 0.33 * noise(p * 2.03 + vec2(1.7, 9.2));
}

float fbm(vec2 p) {
    float v = 0.0, a = 0.5;
    for (int i = 0; i < 4; i++) {
        v += a * noise(p);
        p = p * 2.03 + vec2(1.7, 9.2);
        a *= 0.5;
    }
    return v;
}

// The 12 chroma bins spread smoothly around a circle (x in 0..1).
float chroma_at(float x) {
    float f = fract(x) * 12.0;
    int i = int(f);
    return mix(u_chroma[i], u_chroma[i == 11 ? 0 : i + 1], fract(f));
}

// Rings thrown out by the last four beats: they travel outward and fade.
float ripples(float r, float speed, float width) {
    float v = 0.0;
    for (int k = 0; k < 4; k++) {
        float age = u_ripple[k];
        float front = age * speed;
        float fade = exp(-age * 1.6);
        float s = (r - front) / (width * (1.0 + age));
        v += fade * exp(-s * s);
    }
    return v;
}

// A thin anti-aliased line of half-width w around distance d (in pixels of p-space).
float line(float d, float w) {
    float px = 2.0 / u_res.y;
    return 1.0 - smoothstep(w, w + 1.5 * px, abs(d));
}

float glow(float d, float w) {
    return w / (abs(d) + w);
}

// Feedback: the previous frame, faded; the -1/255 keeps 8-bit trails from sticking.
vec3 fade_prev(vec2 uv, float keep) {
    vec3 c = texture(u_prev, uv).rgb;
    return max(c * keep - 1.0 / 255.0, 0.0);
}

// The same, unmoved: one texel, no filtering (four times cheaper on llvmpipe).
vec3 fade_here(float keep) {
    vec3 c = texelFetch(u_prev, ivec2(gl_FragCoord.xy), 0).rgb;
    return max(c * keep - 1.0 / 255.0, 0.0);
}

float trail_keep(float base) {
    return pow(base, mix(2.5, 0.5, u_trails));  // trails 0.5: a little shorter than base
}
