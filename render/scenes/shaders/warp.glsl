// MilkDrop-style warp: each pixel pulls the last frame through a zoom/rotate/sine
// warp that depends on its radius, while a chroma-shaped waveform ring is drawn on top.
void main() {
    vec2 p = centred();
    float r = length(p), a = atan(p.y, p.x);
    float zoom = 1.0 + 0.015 + 0.04 * u_bass * (1.0 - 0.5 * r) + 0.03 * u_beat;
    float twist = (u_params.x - 0.5) * 0.06 * (1.0 + u_mid) + 0.02 * sin(r * 4.0 - u_phase);
    vec2 wp = rot(twist) * p / zoom;
    wp += 0.01 * (0.5 + u_mid) * vec2(sin(p.y * (4.0 + 4.0 * u_params.y) + u_phase), cos(p.x * (3.0 + 5.0 * u_params.z) - u_phase * 0.8));
    vec3 prev = texture(u_prev, to_uv(wp)).rgb;
    prev = max(prev * trail_keep(0.94) - 1.5 / 255.0, 0.0);
    prev = mix(prev, prev.gbr, 0.02 + 0.03 * u_params.w);  // colours slowly cycle in the wake
    float shape = chroma_at(a / TAU + 0.5);
    float rr = 0.3 + 0.15 * u_bass + 0.12 * shape * (0.5 + u_energy) + 0.02 * sin(a * 8.0 + u_phase * 3.0) * u_treble * 4.0;
    float wave = line(r - rr, 0.004 + 0.006 * u_onset);
    vec3 col = palette(a / TAU + u_phase * 0.05) * wave * (1.0 + u_energy);
    col += palette(u_phase * 0.05 + 0.5) * (ripples(r, 1.5, 0.012) * 0.7 + u_beat * glow(r - rr, 0.03));
    f_color = vec4(max(prev, col) + col * 0.3, 1.0);
}
