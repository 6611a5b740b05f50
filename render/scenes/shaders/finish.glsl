// The finish as its own pass: watercolour (it samples its own frame around each pixel),
// transition frames (they mix the outgoing family into the new one first), and scenes
// drawn below the output size on software GL (upscaled here, finished at full size).
uniform vec2 u_res;
uniform float u_frame;
uniform float u_energy;
uniform float u_beat;
uniform sampler2D u_scene;     // the new family's frame
uniform sampler2D u_old;       // the outgoing family's frame (u_scene when not blending)
uniform float u_mix;           // 0 = old, 1 = new
in vec2 v_uv;
#ifdef SCALED
#define FINAL_LOCATION 0
#else
layout(location = 0) out vec4 f_color;
#endif

vec3 scene_at(vec2 uv) {
    return mix(texture(u_old, uv).rgb, texture(u_scene, uv).rgb, u_mix);
}

#include_finish

void main() {
#ifdef SCALED  // the scene was drawn smaller (software GL): bilinear up to the output
    vec3 c = scene_at(v_uv);
#else
    ivec2 at = ivec2(gl_FragCoord.xy);
    vec3 c = mix(texelFetch(u_old, at, 0).rgb, texelFetch(u_scene, at, 0).rgb, u_mix);
    f_color = vec4(c, 1.0);
#endif
    f_final = vec4(finish(c), 1.0);
}
