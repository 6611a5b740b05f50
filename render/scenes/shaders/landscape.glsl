// Spectrum landscape: a perspective grid racing toward the viewer under a striped sun,
// with mountains along the horizon whose height is the chroma spectrum.
void main() {
    vec2 p = centred();
    float horizon = 0.05 + 0.2 * (u_params.y - 0.5);
    vec3 col;
    if (p.y < horizon) {
        float h = horizon - p.y;
        float z = 0.6 / h;
        float speed = 1.5 + 2.5 * u_params.z;
        vec2 g = vec2(p.x * z * 0.8, z + u_phase * speed);
        vec2 fw = fwidth(g);
        vec2 cell = abs(fract(g) - 0.5);
        vec2 l = 1.0 - smoothstep(vec2(0.0), fw * 1.5 + 0.02, 0.5 - cell);
        float gridv = max(l.x, l.y);
        float fog = exp(-z * 0.08);
        float pulse = 1.0 + 1.5 * u_beat * exp(-abs(fract(g.y * 0.25 - u_beat_phase) - 0.5) * 8.0);
        col = palette(0.1 + g.y * 0.01) * gridv * fog * pulse * (0.5 + u_energy);
        col += palette(0.6) * 0.08 * fog;
    } else {
        float sy = p.y - horizon;
        vec3 sky = mix(palette(0.55) * 0.5, palette(0.0) * 0.1, smoothstep(0.0, 1.0, sy));
        vec2 sun_c = vec2(0.0, horizon + 0.35);
        float sd = length(p - sun_c);
        float stripes = step(0.5, fract((p.y - horizon) * (14.0 + 10.0 * u_params.x) - u_phase * 0.5)) + step(horizon + 0.32, p.y);
        float sun = (1.0 - smoothstep(0.3 + 0.05 * u_bass, 0.305 + 0.05 * u_bass, sd)) * min(1.0, stripes);
        col = sky + palette(0.3 + 0.2 * u_bright) * sun * (0.7 + 0.8 * u_energy);
        col += palette(0.3) * glow(sd - 0.3, 0.03) * 0.3 * (0.5 + u_beat);
        float xm = p.x * 0.35 + 0.5;
        float m = 0.05 + 0.25 * chroma_at(xm) * (0.4 + u_mid) + 0.06 * noise(vec2(p.x * 6.0 + u_phase * 0.2, 1.0));
        float ridge = sy - m;
        col = mix(col, palette(0.8) * 0.06, step(ridge, 0.0));
        col += palette(0.85) * line(ridge, 0.003) * (0.8 + u_treble);
    }
    f_color = vec4(col, 1.0);
}
