// Geometric grids and lasers: a tilted grid that pulses on the beat, swept by laser
// beams from emitters below the frame; onsets flash the beams, downbeats the grid.
void main() {
    vec2 p = centred();
    float aspect = u_res.x / u_res.y;
    vec2 g = rot((u_params.x - 0.5) * 0.8 + 0.1 * sin(u_phase * 0.1)) * p * (3.0 + 3.0 * u_params.y);
    g.y += u_phase * 0.3;
    vec2 cell = abs(fract(g) - 0.5);
    vec2 fw = fwidth(g);
    float grid = max(1.0 - smoothstep(0.0, fw.x * 1.5, 0.5 - cell.x), 1.0 - smoothstep(0.0, fw.y * 1.5, 0.5 - cell.y));
    float pulse = 0.15 + 0.6 * u_down + 0.3 * u_beat;
    vec3 col = palette(0.15) * grid * pulse * (0.4 + u_energy);
    int beams = 4 + int(u_params.z * 2.5);
    vec3 ca = palette(u_phase * 0.02), cb = palette(u_phase * 0.02 + 0.5);
    for (int i = 0; i < 6; i++) {
        if (i >= beams) break;
        float fi = float(i);
        float side = mod(fi, 2.0) * 2.0 - 1.0;
        float top = step(2.0, mod(fi, 4.0)) * 2.0 - 1.0;  // half the beams from above
        vec2 origin = vec2(side * aspect * (0.2 + 0.6 * u_params.w), -1.05 * top);
        float ang = top * (1.5708 + side * (0.1 + 0.6 * (0.5 + 0.5 * sin(u_phase * (0.4 + 0.13 * fi) + fi * 1.7 + u_bass))));
        vec2 dir = vec2(cos(ang), sin(ang));
        vec2 d = p - origin;
        float dist = abs(d.x * dir.y - d.y * dir.x);
        float ahead = step(0.0, dot(d, dir));
        float power = (0.7 + 0.3 * sin(fi * 2.1 + u_phase)) * (0.7 + u_energy + 1.5 * u_onset);
        vec3 c = mix(ca, cb, fract(fi * 0.37));
        col += c * ahead * power * glow(dist, 0.004 + 0.004 * u_onset) * 1.2;
    }
    vec3 prev = fade_here(trail_keep(0.6));
    f_color = vec4(max(col, prev), 1.0);
}
