// Particle flow field: sparks seeded on a hashed grid (more on onsets) are carried
// along a curl-noise field by feedback advection, so they draw flowing streaks.
vec2 field(vec2 p) {
    float s = 1.2 + 2.0 * u_params.x;
    float e = 0.05;
    vec2 q = p * s + vec2(u_phase * 0.1, -u_phase * 0.07);
    float n0 = noise(q), nx = noise(q + vec2(e, 0.0)), ny = noise(q + vec2(0.0, e));
    return vec2(ny - n0, -(nx - n0)) / e;  // curl: divergence-free swirls
}
void main() {
    vec2 p = centred();
    vec2 v = field(p);
    float speed = 0.006 + 0.014 * u_energy + 0.012 * u_bass;
    vec2 src = p - v * speed;
    vec3 prev = fade_prev(to_uv(src), trail_keep(0.975));
    float cells = 24.0 + 24.0 * u_params.y;
    vec2 gp = (p + 2.0) * cells * 0.5;
    vec2 id = floor(gp);
    vec2 h = hash22(id + floor(u_frame) * vec2(0.37, 0.71));
    float density = 0.006 + 0.02 * u_onset + 0.01 * u_beat + 0.01 * u_energy;
    float alive = step(1.0 - density, h.x);
    vec2 spot = id + 0.35 + 0.3 * hash22(id + h);  // well inside its cell: round, not clipped
    float d = length(gp - spot);
    float radius = (0.8 + 0.8 * u_bass) * cells / u_res.y;  // a pixel or two at any size
    float dot_ = alive * (1.0 - smoothstep(radius, radius * 2.0, d));
    float hue = atan(v.y, v.x) / TAU + u_params.z;
    vec3 col = palette(hue) * dot_ * (0.8 + u_energy) * 1.5;
    col += palette(hue + 0.5) * ripples(length(p), 1.2, 0.015) * 0.25;
    f_color = vec4(max(prev, col), 1.0);
}
