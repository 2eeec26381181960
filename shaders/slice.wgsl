// One slice with its overlays, drawn as a quad over the image's screen rectangle.
// The CPU reference of every step is src/imaging/shade.rs; keep the two in step.

struct Params {
    // Clip-space corners of the image: top-left, bottom-right.
    rect_min: vec2<f32>,
    rect_max: vec2<f32>,
    window_center: f32,
    window_width: f32,
    heat_low: f32,
    heat_high: f32,
    heat_threshold: f32,
    heat_opacity: f32,
    flags: u32,
    _pad: u32,
};

const FLAG_INVERT: u32 = 1u;
const FLAG_BILINEAR: u32 = 2u;
const FLAG_RGB: u32 = 4u;
const FLAG_HEAT: u32 = 8u;
const FLAG_SIGNED: u32 = 16u;
const FLAG_MASK: u32 = 32u;
const OUTLINE: vec3<f32> = vec3<f32>(1.0, 220.0 / 255.0, 0.0);

@group(0) @binding(0) var<uniform> params: Params;
// Modality values (R32Float: not filterable, so bilinear is done here with textureLoad).
@group(0) @binding(1) var slice_grey: texture_2d<f32>;
@group(0) @binding(2) var slice_rgb: texture_2d<f32>;
@group(0) @binding(3) var heat: texture_2d<f32>;
@group(0) @binding(4) var mask: texture_2d<f32>;
// 256×1 colormap.
@group(0) @binding(5) var lut: texture_2d<f32>;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VsOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let uv = corners[index];
    var out: VsOut;
    out.position = vec4<f32>(mix(params.rect_min, params.rect_max, uv), 0.0, 1.0);
    out.uv = uv;
    return out;
}

fn has(flag: u32) -> bool {
    return (params.flags & flag) != 0u;
}

fn load_r(t: texture_2d<f32>, p: vec2<i32>) -> f32 {
    let size = vec2<i32>(textureDimensions(t));
    return textureLoad(t, clamp(p, vec2<i32>(0), size - 1), 0).r;
}

// Nearest: the texel containing uv. Bilinear: between the four nearest texel centres.
fn sample_r(t: texture_2d<f32>, uv: vec2<f32>) -> f32 {
    let size = vec2<f32>(textureDimensions(t));
    if !has(FLAG_BILINEAR) {
        return load_r(t, vec2<i32>(floor(uv * size)));
    }
    let p = uv * size - 0.5;
    let i = vec2<i32>(floor(p));
    let f = p - floor(p);
    let top = mix(load_r(t, i), load_r(t, i + vec2<i32>(1, 0)), f.x);
    let bottom = mix(load_r(t, i + vec2<i32>(0, 1)), load_r(t, i + vec2<i32>(1, 1)), f.x);
    return mix(top, bottom, f.y);
}

fn window_grey(value: f32) -> f32 {
    let width = max(params.window_width, 1e-6);
    return clamp((value - (params.window_center - width / 2.0)) / width, 0.0, 1.0);
}

// Position in the colormap, or a negative number where the overlay is transparent.
fn heat_position(raw: f32) -> f32 {
    if has(FLAG_SIGNED) {
        let magnitude = max(abs(params.heat_high), 1e-12);
        let level = min(abs(raw) / magnitude, 1.0);
        if level < params.heat_threshold || level <= 0.0 {
            return -1.0;
        }
        return clamp(0.5 + 0.5 * raw / magnitude, 0.0, 1.0);
    }
    let span = max(params.heat_high - params.heat_low, 1e-12);
    let t = clamp((raw - params.heat_low) / span, 0.0, 1.0);
    if t < params.heat_threshold || t <= 0.0 {
        return -1.0;
    }
    return t;
}

fn is_outline(uv: vec2<f32>) -> bool {
    let size = vec2<i32>(textureDimensions(mask));
    let p = clamp(vec2<i32>(floor(uv * vec2<f32>(size))), vec2<i32>(0), size - 1);
    if load_r(mask, p) < 0.5 {
        return false;
    }
    if p.x == 0 || p.y == 0 || p.x == size.x - 1 || p.y == size.y - 1 {
        return true;
    }
    return load_r(mask, p + vec2<i32>(-1, 0)) < 0.5 || load_r(mask, p + vec2<i32>(1, 0)) < 0.5
        || load_r(mask, p + vec2<i32>(0, -1)) < 0.5 || load_r(mask, p + vec2<i32>(0, 1)) < 0.5;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    var rgb: vec3<f32>;
    if has(FLAG_RGB) {
        let size = vec2<i32>(textureDimensions(slice_rgb));
        let p = clamp(vec2<i32>(floor(in.uv * vec2<f32>(size))), vec2<i32>(0), size - 1);
        rgb = textureLoad(slice_rgb, p, 0).rgb;
        if has(FLAG_INVERT) {
            rgb = vec3<f32>(1.0) - rgb;
        }
    } else {
        var g = window_grey(sample_r(slice_grey, in.uv));
        if has(FLAG_INVERT) {
            g = 1.0 - g;
        }
        rgb = vec3<f32>(g);
    }
    if has(FLAG_HEAT) {
        let t = heat_position(sample_r(heat, in.uv));
        if t >= 0.0 {
            let index = u32(clamp(t, 0.0, 1.0) * 255.0 + 0.5);
            let colour = textureLoad(lut, vec2<i32>(i32(index), 0), 0).rgb;
            let a = clamp(params.heat_opacity, 0.0, 1.0);
            rgb = rgb * (1.0 - a) + colour * a;
        }
    }
    if has(FLAG_MASK) && is_outline(in.uv) {
        rgb = OUTLINE;
    }
    return vec4<f32>(rgb, 1.0);
}
