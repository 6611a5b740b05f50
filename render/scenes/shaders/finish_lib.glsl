// The style finishes: tone mapping plus a look (noir, watercolour, neon, cosmic).
// Fused into each family program as a second output where it can be (FINISH != 2);
// watercolour needs the whole frame first and runs as its own pass (finish.glsl).
// Blurred copies are the last frame's (one frame late: nobody sees that in a bloom).
uniform sampler2D u_blur;      // the composite at 1/4 size
uniform sampler2D u_blur2;     // ... and at 1/16 size
uniform float u_exposure;
#ifndef FINAL_LOCATION
#define FINAL_LOCATION 1
#endif
layout(location = FINAL_LOCATION) out vec4 f_final;

float fhash(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float fnoise(vec2 p) {
    vec2 i = floor(p), f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(fhash(i), fhash(i + vec2(1, 0)), u.x),
               mix(fhash(i + vec2(0, 1)), fhash(i + vec2(1, 1)), u.x), u.y);
}

vec3 scene_blur(vec2 uv, float lod) {  // lod: 2 = quarter size, 4 = sixteenth
    vec3 a = texture(u_blur, uv).rgb, b = texture(u_blur2, uv).rgb;
    return mix(a, b, clamp((lod - 2.0) / 2.0, 0.0, 1.0));
}

// Soft highlights on the brightest channel, so colours keep their hue.
vec3 tone(vec3 c, float exposure) {  // Reinhard on the peak: cheaper than 1 - exp(-x)
    float peak = max(max(c.r, c.g), c.b);
    return c * (exposure * 1.3 / (1.0 + peak * exposure * 1.3));
}

vec3 finish(vec3 c) {
    vec2 px = v_uv * u_res;
    vec2 q = v_uv * 2.0 - 1.0;
    float vignette = 1.0 - 0.35 * dot(q, q);
    vec3 outc;
    #if FINISH == 1
    {  // noir: luminance only, hard contrast, moving film grain
        float l = dot(tone(c, u_exposure), vec3(0.299, 0.587, 0.114));
        l = smoothstep(0.04, 0.85, l);
        float grain = fhash(px + fract(u_frame * 0.618) * 913.0) - 0.5;
        l = clamp(l * vignette + grain * 0.09, 0.0, 1.0);
        outc = vec3(l);
    }
#elif FINISH == 2
    {  // watercolour: pigment on grainy paper, bleeding edges
        vec2 wob = (vec2(fnoise(px * 0.02), fnoise(px * 0.02 + 7.0)) - 0.5) * 0.012;
        vec3 sharp = tone(scene_at(v_uv + wob), u_exposure);  // the finish pass's own frame
        vec3 soft = tone(scene_blur(v_uv + wob * 2.0, 3.5), u_exposure);
        vec3 pig = max(sharp, soft * 1.1);  // colour bleeds past the drawn edge
        float cover = smoothstep(0.02, 0.5, max(max(pig.r, pig.g), pig.b));
        float edge = smoothstep(0.05, 0.3, abs(length(sharp) - length(soft)));  // pooled pigment
        float fibre = fnoise(px * 0.35) * 0.6 + fnoise(px * 0.08) * 0.4;
        vec3 paper = vec3(0.96, 0.93, 0.86) * (0.92 + 0.08 * fibre);
        vec3 wash = paper * mix(vec3(1.0), mix(vec3(1.0), pig / max(max(max(pig.r, pig.g), pig.b), 0.05), 0.75), cover);
        wash *= 1.0 - 0.25 * edge * cover;
        wash *= 0.93 + 0.07 * smoothstep(0.3, 0.7, fibre);
        outc = wash;
    }
#elif FINISH == 3
    {  // neon: lines on black with a halo (the last frame's blurred copies, bright parts only)
        vec3 bloom = max(scene_blur(v_uv, 2.0) - 0.08, 0.0) * 0.8 + max(scene_blur(v_uv, 4.0) - 0.05, 0.0) * 0.6;
        vec3 lines = c * smoothstep(0.04, 0.25, max(max(c.r, c.g), c.b));  // dim fills go black
        outc = tone(lines * 1.3 + bloom * (0.7 + 0.6 * u_beat), u_exposure) * vignette;
    }
#elif FINISH == 4
    {  // cosmic: deep blacks, soft halo, star dust
        vec3 halo = scene_blur(v_uv, 4.0);
        float dust = step(0.9985, fhash(floor(px))) * (0.4 + 0.6 * fhash(floor(px) + 3.0));
        outc = tone(c * c * 1.4 + halo * 0.6, u_exposure) + vec3(dust) * 0.7;
        outc *= vignette;
    }
#else
    outc = tone(c, u_exposure) * (0.85 + 0.15 * vignette);
#endif
    return clamp(outc, 0.0, 1.0);
}
