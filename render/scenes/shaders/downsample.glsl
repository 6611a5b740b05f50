// A 4x smaller copy of a texture: four bilinear taps average a 4x4 block.
uniform sampler2D u_src;
uniform vec2 u_texel;      // one source texel in uv
in vec2 v_uv;
out vec4 f_color;
void main() {
    vec2 o = u_texel;
    vec3 a = texture(u_src, v_uv + vec2(-o.x, -o.y)).rgb + texture(u_src, v_uv + vec2(o.x, -o.y)).rgb
           + texture(u_src, v_uv + vec2(-o.x, o.y)).rgb + texture(u_src, v_uv + vec2(o.x, o.y)).rgb;
    f_color = vec4(a * 0.25, 1.0);
}
