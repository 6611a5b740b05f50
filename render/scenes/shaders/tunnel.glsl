// Tunnel: polygonal rings rushing toward the viewer along a bending tube; a beat
// lights the nearest rings and chroma lights the wall segments.
void main() {
    vec2 p = centred();
    vec2 bend = 0.25 * vec2(sin(u_phase * 0.31), cos(u_phase * 0.23));
    p -= bend * (1.0 - smoothstep(0.0, 1.2, length(p)));
    float sides = floor(3.0 + u_params.x * 5.0);
    float a = atan(p.y, p.x) + u_phase * (u_params.y - 0.5) * 0.5;
    float seg = TAU / sides;
    float poly = cos(floor(0.5 + a / seg) * seg - a) * length(p);  // distance to a polygon
    poly = mix(length(p), poly, u_params.w);
    float depth = 0.35 / max(poly, 0.015);
    float z = depth + u_phase * (1.5 + 2.0 * u_params.z);
    float ring = fract(z);
    float px = fwidth(z);
    float rings = 1.0 - smoothstep(0.0, 0.06 + px, min(ring, 1.0 - ring));
    float spokes_n = sides * 2.0;
    float sa = fract(a / TAU * spokes_n);
    float spokes = 1.0 - smoothstep(0.0, 0.04 + fwidth(sa), min(sa, 1.0 - sa));
    float wall = chroma_at(floor(a / TAU * 12.0) / 12.0 + 0.5);
    float near = exp(-depth * 0.15);
    float beat_ring = u_beat * exp(-pow((depth - 1.0 - 4.0 * u_beat_phase) * 0.8, 2.0));
    vec3 col = palette(z * 0.05 + u_phase * 0.02) * (rings * (0.5 + u_bass) + spokes * 0.35 * (0.3 + wall));
    col += palette(z * 0.05 + 0.5) * beat_ring * 1.5;
    col *= near * (0.4 + 1.1 * u_energy);
    col += palette(0.75) * ripples(depth * 0.1, 0.8, 0.05) * 0.4 * near;
    vec3 prev = fade_here(trail_keep(0.55));
    f_color = vec4(max(col, prev), 1.0);
}
