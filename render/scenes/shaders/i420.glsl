// The finished frame as I420 (yuv420p) planes for the video encoder, so the CPU neither
// converts colours nor reads back the 4:4:4 frame. The target is a one-channel texture
// W wide and 1.5 H tall, read back as bytes: the Y plane (W x H), then U and V
// (W/2 x H/2 each) packed row after row, exactly FFmpeg's yuv420p layout. BT.601
// limited range, as FFmpeg's swscale converts rgb24 by default; chroma is the mean of
// each 2x2 block. Row r of the output is GL row r of the source, as the RGB read-back.
uniform sampler2D u_src;
uniform ivec2 u_size;      // the frame's width and height (both even)
out vec4 f_color;
void main() {
    int w = u_size.x;
    int h = u_size.y;
    int k = int(gl_FragCoord.y) * w + int(gl_FragCoord.x);  // byte index in the buffer
    int cw = w / 2;
    int chroma = cw * (h / 2);
    float value;
    if (k < w * h) {
        vec3 c = texelFetch(u_src, ivec2(k % w, k / w), 0).rgb;
        value = 16.0 + 65.481 * c.r + 128.553 * c.g + 24.966 * c.b;
    } else {
        int j = k - w * h;
        bool is_v = j >= chroma;
        j -= is_v ? chroma : 0;
        ivec2 p = 2 * ivec2(j % cw, j / cw);
        vec3 c = 0.25 * (texelFetch(u_src, p, 0).rgb + texelFetch(u_src, p + ivec2(1, 0), 0).rgb
                       + texelFetch(u_src, p + ivec2(0, 1), 0).rgb + texelFetch(u_src, p + ivec2(1, 1), 0).rgb);
        value = is_v ? 128.0 + 112.0 * c.r - 93.786 * c.g - 18.214 * c.b
                     : 128.0 - 37.797 * c.r - 74.203 * c.g + 112.0 * c.b;
    }
    f_color = vec4(value / 255.0, 0.0, 0.0, 1.0);
}
