// Starfield and nebula: domain-warped clouds drifting behind three layers of stars
// flying toward the viewer; beats speed them into streaks, treble makes them twinkle.
float stars(vec2 p, float layer) {
    float depth = fract(u_phase * (0.05 + 0.05 * u_params.x) + layer / 3.0);  // layers 0, 1.5: half a cycle apart
    float scale = mix(18.0, 1.5, depth);
    vec2 q = p * scale + layer * 17.0;
    vec2 id = floor(q);
    vec2 h = hash22(id);
    vec2 star = id + 0.15 + 0.7 * h;
    vec2 d = q - star;
    float stretch = 1.0 + 6.0 * u_beat * depth;
    vec2 dir = normalize(star / scale + 1e-4);
    float along = dot(d, dir), across = dot(d, vec2(-dir.y, dir.x));
    float dd = length(vec2(along / stretch, across));
    float size = 0.03 + 0.08 * depth;
    float twinkle = 0.6 + 0.4 * sin(u_time * 9.0 * h.x + h.y * 6.0) * u_treble * 2.0;
    return step(0.55, h.x) * smoothstep(size, 0.0, dd) * smoothstep(0.0, 0.3, depth) * smoothstep(1.0, 0.85, depth) * twinkle;
}
void main() {
    vec2 p = centred();
    vec2 q = p * (1.2 + u_params.y) + vec2(u_phase * 0.03, 0.0);
    vec2 w = vec2(fbm2(q + u_phase * 0.02), fbm2(q + vec2(5.2, 1.3)));
    float n = fbm(q + 2.0 * w);
    float cloud = smoothstep(0.42, 0.95, n) * (0.25 + 0.6 * u_energy + 0.3 * u_bass);
    vec3 col = palette(n + w.x * 0.5 + u_params.z) * cloud;
    col += palette(0.5) * pow(cloud, 3.0) * 0.5;
    float s = stars(p, 0.0) + stars(p, 1.5);
    col += vec3(s) * (0.8 + 0.6 * u_energy) + palette(0.9) * ripples(length(p), 1.2, 0.03) * 0.15;
    f_color = vec4(col, 1.0);
}
