// Oscilloscope ribbons: a few glowing waveforms across the screen, shaped by bass, mids
// and treble, with phosphor persistence drifting upward behind them.
void main() {
    vec2 p = centred();
    float aspect = u_res.x / u_res.y;
    float x = p.x / aspect;
    vec3 col = vec3(0.0);
    int n = 3 + int(u_params.x * 2.5);
    float ch = chroma_at(x * 0.5);  // fetched once: texture reads in the loop are costly
    vec3 ca = palette(u_phase * 0.03), cb = palette(u_phase * 0.03 + 0.6);
    for (int i = 0; i < 5; i++) {
        if (i >= n) break;
        float fi = float(i);
        float off = (fi - 0.5 * float(n - 1)) * (0.5 - 0.2 * u_params.y);
        float f1 = 2.0 + fi * 0.7 + u_params.z * 3.0;
        float y = off
            + (0.12 + 0.35 * u_bass) * sin(x * f1 + u_phase * (1.0 + 0.3 * fi))
            + (0.05 + 0.15 * u_mid) * sin(x * f1 * 3.1 - u_phase * 2.0 + fi)
            + 0.06 * u_treble * sin(x * 40.0 + u_time * 11.0 + fi * 2.0)
            + 0.08 * ch * sin(x * 9.0 + fi * 1.3);
        float dy = (0.12 + 0.35 * u_bass) * f1 * cos(x * f1 + u_phase);
        float d = (p.y - y) / sqrt(1.0 + dy * dy / (aspect * aspect));
        float width = 0.004 + 0.008 * u_onset + 0.004 * u_beat;
        vec3 c = mix(ca, cb, fi / float(n - 1));
        col += c * glow(d, width) * (0.8 + 0.6 * u_energy);
    }
    col *= 0.4 + 0.9 * u_energy + 0.4 * u_beat;
    vec2 drift = vec2(0.0, 0.004 + 0.01 * u_bass);
    vec3 prev = fade_prev(to_uv(p * 0.995 - drift), trail_keep(0.86));
    f_color = vec4(max(col, prev), 1.0);
}
