// A transition frame at the scene size: the outgoing family blended into the new one.
uniform sampler2D u_scene;
uniform sampler2D u_old;
uniform float u_mix;  // 0 = old, 1 = new
in vec2 v_uv;
out vec4 f_color;
void main() {
    ivec2 at = ivec2(gl_FragCoord.xy);
    f_color = vec4(mix(texelFetch(u_old, at, 0).rgb, texelFetch(u_scene, at, 0).rgb, u_mix), 1.0);
}
