// Fractal zoom: an iterated inversion fold (a "Kali set") zooming endlessly inward;
// the fold constant drifts with the mids and snaps a little on each beat.
void main() {
    vec2 p = centred();
    float cycle = fract(u_phase * 0.04 * (0.5 + u_params.x));
    float zoom = exp(-cycle * 2.5);
    p = rot(u_phase * 0.05 * (u_params.y - 0.5)) * p * (0.6 + 0.6 * zoom);
    vec2 c = vec2(0.5 + 0.35 * u_params.z, 0.4 + 0.3 * u_params.w)
        + 0.05 * vec2(sin(u_phase * 0.2), cos(u_phase * 0.17)) + 0.03 * u_mid + 0.02 * u_beat;
    vec2 z = abs(p) + 0.3;
    float acc = 0.0, trap = 10.0;
    for (int i = 0; i < 9; i++) {
        z = abs(z) / dot(z, z) - c;
        acc += exp(-abs(dot(z, z) - 0.5) * 4.0);
        trap = min(trap, abs(z.y));
    }
    float edges = 1.0 - smoothstep(0.0, 0.04 + 0.03 * u_bass, trap);
    vec3 col = palette(acc * 0.12 + u_phase * 0.02) * (0.15 * acc + 0.9 * edges);
    col *= 0.3 + 1.0 * u_energy + 0.5 * u_beat;
    col += palette(0.5) * ripples(length(centred()), 1.3, 0.02) * 0.35;
    vec3 prev = fade_here(trail_keep(0.5));
    f_color = vec4(max(col, prev), 1.0);
}
