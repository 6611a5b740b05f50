// Kaleidoscope feedback: mirrored wedges of thin interference lines, the last frame
// zoomed and turned underneath so every shape leaves a spiral wake.
void main() {
    vec2 p = centred();
    float r = length(p), a = atan(p.y, p.x);
    float sym = floor(3.0 + u_params.x * 6.0);
    float wedge = TAU / sym;
    float spin = (u_params.y - 0.5) * 0.6;
    float fa = abs(mod(a + u_phase * spin, wedge) - 0.5 * wedge);
    vec2 q = vec2(cos(fa), sin(fa)) * r;
    float wa = 3.0 + u_params.z * 5.0, wb = 2.0 + u_params.w * 4.0;
    float v = sin(q.x * wa * 3.0 - u_phase * 2.0 + 2.0 * sin(q.y * wb * 4.0 + u_phase));
    float w = sin(q.y * wb * 5.0 + u_phase * 1.3 + r * 3.0 * (1.0 + u_mid));
    float lines = line(v, 0.06 + 0.05 * u_bass) + 0.7 * line(w, 0.04);
    float fill = 0.12 * (0.5 + 0.5 * v * w);
    vec3 col = palette(r * 0.4 + fa * 0.8 + u_phase * 0.05) * (lines + fill);
    col *= 0.35 + 0.9 * u_energy;
    float shape = chroma_at(a / TAU + 0.5);
    float ring_r = 0.35 + 0.25 * u_bass + 0.1 * shape;
    col += palette(0.5 + u_phase * 0.03) * (ripples(r, 1.4, 0.02) + u_beat * line(r - ring_r, 0.01)) * (0.4 + u_energy);
    col *= smoothstep(1.9, 0.3, r);
    float zoom = 1.0 + 0.01 + 0.05 * u_bass + 0.04 * u_beat;
    vec2 fp = rot(0.01 * spin + 0.02 * u_onset) * p / zoom;
    vec3 prev = fade_prev(to_uv(fp), trail_keep(0.9 - 0.06 * u_energy));
    f_color = vec4(max(prev, col), 1.0);
}
