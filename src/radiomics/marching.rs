//! The marching cubes and marching squares tables behind the shape classes, and the geometry both
//! shape classes share: the mesh-vertex diameter search and the eigenvalues of the voxel
//! coordinates' covariance.
//!
//! Grid conventions are PyRadiomics' (`cshape.c`), so meshes match it triangle for triangle:
//! a cube at `(z, y, x)` has corners `p0..p7` at offsets `(0,0,0) (0,0,1) (0,1,1) (0,1,0)
//! (1,0,0) (1,0,1) (1,1,1) (1,1,0)`, and its twelve edges run `p0p1 p1p2 p2p3 p3p0 p4p5 p5p6 p6p7
//! p7p4 p0p4 p1p5 p2p6 p3p7`. Every mesh vertex sits at an edge midpoint (the iso-level is halfway
//! between a voxel in the mask and one outside). Configurations with corner 7 inside are folded
//! onto their complement (same triangles, volume sign flipped), so the table has 128 entries.
//!
//! The triangle table was derived, not copied: the script above `CUBE_TRIANGLES` traces the
//! iso-contour on the six faces of each configuration, chains it into polygons oriented from
//! the inside corners outwards, and of all resolutions of ambiguous faces and all triangulations
//! of non-planar polygons keeps the first whose area and signed volume equal PyRadiomics 3.1.4's
//! for that single cube (`cShape.calculate_coefficients` on a 2×2×2 mask, two anisotropic
//! spacings). So it splits ambiguous faces and non-planar polygons exactly as PyRadiomics'
//! (Lorensen/Bourke) table does; where several triangulations match (a planar polygon split
//! along another diagonal), they give the same area and volume at both spacings.

use rayon::prelude::*;

use super::types::Roi;

/// The mask's bounding box: `(first, past_last)` voxel along `[z, y, x]`, `None` if empty.
///
/// PyRadiomics computes shape on the mask cropped to its bounding box, then padded; cropping
/// here makes the result independent of any margin the caller's box has. That matters beyond
/// rounding: PyRadiomics' mesh is not always closed (its table splits an ambiguous face one way in
/// a cube and the other way in the complemented neighbour), so its MeshVolume changes when the
/// mask moves inside the grid.
#[must_use]
pub(super) fn inside_bounding_box(roi: &Roi) -> Option<([usize; 3], [usize; 3])> {
    let [nz, ny, nx] = roi.dims;
    let mut lo = [usize::MAX; 3];
    let mut hi = [0; 3];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                if roi.inside.get(roi.index(z, y, x)).copied().unwrap_or(false) {
                    for (d, c) in [z, y, x].into_iter().enumerate() {
                        lo[d] = lo[d].min(c);
                        hi[d] = hi[d].max(c + 1);
                    }
                }
            }
        }
    }
    (lo[0] != usize::MAX).then_some((lo, hi))
}

/// Corner offsets `(z, y, x)` of the marching cube, in PyRadiomics' order.
pub(super) const CUBE_CORNERS: [[usize; 3]; 8] = [
    [0, 0, 0],
    [0, 0, 1],
    [0, 1, 1],
    [0, 1, 0],
    [1, 0, 0],
    [1, 0, 1],
    [1, 1, 1],
    [1, 1, 0],
];

/// Edge midpoints `(z, y, x)` relative to the cube's origin, edges numbered as above.
pub(super) const CUBE_EDGE_MIDPOINTS: [[f64; 3]; 12] = [
    [0.0, 0.0, 0.5],
    [0.0, 0.5, 1.0],
    [0.0, 1.0, 0.5],
    [0.0, 0.5, 0.0],
    [1.0, 0.0, 0.5],
    [1.0, 0.5, 1.0],
    [1.0, 1.0, 0.5],
    [1.0, 0.5, 0.0],
    [0.5, 0.0, 0.0],
    [0.5, 0.0, 1.0],
    [0.5, 1.0, 1.0],
    [0.5, 1.0, 0.0],
];

// Made by this script (`/work/pyref/bin/python gen.py`, PyRadiomics 3.1.4, numpy 2.4.6; a few
// minutes; it prints the table below, case numbers added here as comments):
//
//     import itertools
//     import numpy as np
//     from radiomics import cShape
//
//     P = [(0,0,0), (0,0,1), (0,1,1), (0,1,0), (1,0,0), (1,0,1), (1,1,1), (1,1,0)]  # z, y, x
//     E = [(0,1), (1,2), (2,3), (3,0), (4,5), (5,6), (6,7), (7,4), (0,4), (1,5), (2,6), (3,7)]
//     MID = [np.add(P[a], P[b]) / 2 for a, b in E]
//     FACES = [[0,1,2,3], [4,5,6,7], [0,1,5,4], [3,2,6,7], [0,3,7,4], [1,2,6,5]]  # corners in cycle
//     SPACINGS = [np.array([1.0, 1.3, 1.7]), np.array([1.9, 0.8, 1.1])]
//     edge = lambda a, b: next(k for k, e in enumerate(E) if set(e) == {a, b})
//
//     def face_options(c, f):  # contour segments on one face; both splits of an ambiguous face
//         ins = [c >> k & 1 for k in f]
//         es = [edge(f[i], f[(i + 1) % 4]) for i in range(4)]
//         cut = [es[i] for i in range(4) if ins[i] != ins[(i + 1) % 4]]
//         if len(cut) < 4: return [[tuple(cut)]] if cut else [[]]
//         return [[(es[3], es[0]), (es[1], es[2])], [(es[0], es[1]), (es[2], es[3])]]
//
//     def loops(segs):  # chain segments into closed polygons
//         adj = {}
//         for a, b in segs: adj.setdefault(a, []).append(b); adj.setdefault(b, []).append(a)
//         seen, out = set(), []
//         for s in adj:
//             if s in seen: continue
//             loop, cur = [s], s; seen.add(s)
//             while nxt := [n for n in adj[cur] if n not in seen]:
//                 cur = nxt[0]; loop.append(cur); seen.add(cur)
//             out.append(loop)
//         return out
//
//     def triangulations(p):
//         if len(p) == 3: return [[tuple(p)]]
//         return [l + r + [(p[0], p[k], p[-1])] for k in range(1, len(p) - 1)
//                 for l in (triangulations(p[:k + 1]) if k > 1 else [[]])
//                 for r in (triangulations(p[k:]) if len(p) - k > 2 else [[]])]
//
//     def orient(c, poly):  # normal from the inside corners of its edges towards the outside ones
//         n = sum(np.cross(MID[poly[i]] - MID[poly[0]], MID[poly[i + 1]] - MID[poly[0]])
//                 for i in range(1, len(poly) - 1))
//         s = sum(np.dot(np.subtract(P[b], P[a]) * (1 if c >> a & 1 else -1), n)
//                 for a, b in (E[e] for e in poly))
//         return poly if s > 0 else poly[::-1]
//
//     def measure(tris, sp):
//         area = vol = 0.0
//         for t in tris:
//             a, b, c = (MID[e] * sp for e in t)
//             vol += np.dot(np.cross(a, b), c); area += np.linalg.norm(np.cross(a - c, b - c)) / 2
//         return area, vol / 6
//
//     print("pub(super) const CUBE_TRIANGLES: [&[[u8; 3]]; 128] = [")
//     for c in range(128):
//         m = np.zeros((2, 2, 2), bool)
//         for k in range(8): m[P[k]] = c >> k & 1
//         want = [cShape.calculate_coefficients(m, sp)[:2] for sp in SPACINGS]
//         for opt in itertools.product(*(face_options(c, f) for f in FACES)):
//             polys = [orient(c, l) for l in loops([s for o in opt for s in o])]
//             for combo in itertools.product(*(triangulations(p) for p in polys)):
//                 tris = [t for tr in combo for t in tr]
//                 got = [measure(tris, sp) for sp in SPACINGS]
//                 if np.allclose(got, want, rtol=0, atol=1e-9): break
//             else: continue
//             break
//         else: raise SystemExit(f"no triangulation matches configuration {c}")
//         print(f"    &[{', '.join('[%d, %d, %d]' % t for t in tris)}],")
//     print("];")

/// Triangles (edge numbers) per cube configuration `0..128` (bit `k` = corner `k` inside), each
/// wound so that `(b - a) × (c - a)` points out of the region.
pub(super) const CUBE_TRIANGLES: [&[[u8; 3]]; 128] = [
    /*   0 */ &[],
    /*   1 */ &[[8, 3, 0]],
    /*   2 */ &[[0, 1, 9]],
    /*   3 */ &[[8, 3, 1], [9, 8, 1]],
    /*   4 */ &[[1, 2, 10]],
    /*   5 */ &[[3, 0, 8], [1, 2, 10]],
    /*   6 */ &[[2, 10, 9], [0, 2, 9]],
    /*   7 */ &[[10, 9, 8], [8, 3, 2], [10, 8, 2]],
    /*   8 */ &[[2, 3, 11]],
    /*   9 */ &[[11, 2, 0], [8, 11, 0]],
    /*  10 */ &[[0, 1, 9], [2, 3, 11]],
    /*  11 */ &[[9, 8, 11], [11, 2, 1], [9, 11, 1]],
    /*  12 */ &[[3, 11, 10], [1, 3, 10]],
    /*  13 */ &[[8, 11, 10], [10, 1, 0], [8, 10, 0]],
    /*  14 */ &[[11, 10, 9], [3, 11, 9], [0, 3, 9]],
    /*  15 */ &[[8, 11, 10], [9, 8, 10]],
    /*  16 */ &[[4, 7, 8]],
    /*  17 */ &[[7, 3, 0], [4, 7, 0]],
    /*  18 */ &[[0, 1, 9], [4, 7, 8]],
    /*  19 */ &[[7, 3, 1], [4, 7, 1], [9, 4, 1]],
    /*  20 */ &[[1, 2, 10], [4, 7, 8]],
    /*  21 */ &[[0, 4, 7], [3, 0, 7], [1, 2, 10]],
    /*  22 */ &[[2, 10, 9], [0, 2, 9], [4, 7, 8]],
    /*  23 */ &[[7, 3, 2], [4, 7, 2], [9, 4, 2], [10, 9, 2]],
    /*  24 */ &[[2, 3, 11], [4, 7, 8]],
    /*  25 */ &[[7, 11, 2], [4, 7, 2], [4, 2, 0]],
    /*  26 */ &[[0, 1, 9], [2, 3, 11], [4, 7, 8]],
    /*  27 */ &[[11, 2, 1], [7, 11, 1], [4, 7, 1], [9, 4, 1]],
    /*  28 */ &[[3, 11, 10], [1, 3, 10], [4, 7, 8]],
    /*  29 */ &[[7, 11, 10], [10, 1, 0], [7, 10, 0], [4, 7, 0]],
    /*  30 */ &[[11, 10, 9], [3, 11, 9], [0, 3, 9], [4, 7, 8]],
    /*  31 */ &[[11, 10, 9], [7, 11, 9], [4, 7, 9]],
    /*  32 */ &[[9, 5, 4]],
    /*  33 */ &[[8, 3, 0], [9, 5, 4]],
    /*  34 */ &[[1, 5, 4], [0, 1, 4]],
    /*  35 */ &[[4, 8, 3], [5, 4, 3], [5, 3, 1]],
    /*  36 */ &[[1, 2, 10], [9, 5, 4]],
    /*  37 */ &[[3, 0, 8], [1, 2, 10], [9, 5, 4]],
    /*  38 */ &[[10, 5, 4], [2, 10, 4], [0, 2, 4]],
    /*  39 */ &[[8, 3, 2], [4, 8, 2], [5, 4, 2], [10, 5, 2]],
    /*  40 */ &[[2, 3, 11], [9, 5, 4]],
    /*  41 */ &[[11, 2, 0], [8, 11, 0], [9, 5, 4]],
    /*  42 */ &[[1, 5, 4], [0, 1, 4], [2, 3, 11]],
    /*  43 */ &[[4, 8, 11], [11, 2, 1], [4, 11, 1], [5, 4, 1]],
    /*  44 */ &[[3, 11, 10], [1, 3, 10], [9, 5, 4]],
    /*  45 */ &[[8, 11, 10], [10, 1, 0], [8, 10, 0], [9, 5, 4]],
    /*  46 */ &[[3, 11, 10], [10, 5, 4], [3, 10, 4], [0, 3, 4]],
    /*  47 */ &[[8, 11, 10], [10, 5, 4], [8, 10, 4]],
    /*  48 */ &[[7, 8, 9], [5, 7, 9]],
    /*  49 */ &[[5, 7, 3], [5, 3, 0], [9, 5, 0]],
    /*  50 */ &[[1, 5, 7], [1, 7, 8], [0, 1, 8]],
    /*  51 */ &[[7, 3, 1], [5, 7, 1]],
    /*  52 */ &[[1, 2, 10], [7, 8, 9], [5, 7, 9]],
    /*  53 */ &[[0, 9, 5], [3, 0, 5], [3, 5, 7], [1, 2, 10]],
    /*  54 */ &[[5, 7, 8], [10, 5, 8], [2, 10, 8], [0, 2, 8]],
    /*  55 */ &[[5, 7, 3], [5, 3, 2], [10, 5, 2]],
    /*  56 */ &[[2, 3, 11], [7, 8, 9], [5, 7, 9]],
    /*  57 */ &[[5, 7, 11], [11, 2, 0], [5, 11, 0], [9, 5, 0]],
    /*  58 */ &[[1, 5, 7], [1, 7, 8], [0, 1, 8], [2, 3, 11]],
    /*  59 */ &[[11, 2, 1], [7, 11, 1], [5, 7, 1]],
    /*  60 */ &[[3, 11, 10], [1, 3, 10], [7, 8, 9], [5, 7, 9]],
    /*  61 */ &[[10, 1, 0], [11, 10, 0], [7, 11, 0], [5, 7, 0], [9, 5, 0]],
    /*  62 */ &[[0, 3, 11], [0, 11, 10], [0, 10, 5], [0, 5, 7], [0, 7, 8]],
    /*  63 */ &[[7, 11, 10], [5, 7, 10]],
    /*  64 */ &[[10, 6, 5]],
    /*  65 */ &[[8, 3, 0], [10, 6, 5]],
    /*  66 */ &[[0, 1, 9], [10, 6, 5]],
    /*  67 */ &[[8, 3, 1], [9, 8, 1], [10, 6, 5]],
    /*  68 */ &[[2, 6, 5], [1, 2, 5]],
    /*  69 */ &[[3, 0, 8], [2, 6, 5], [1, 2, 5]],
    /*  70 */ &[[0, 2, 6], [6, 5, 9], [0, 6, 9]],
    /*  71 */ &[[5, 9, 8], [8, 3, 2], [5, 8, 2], [6, 5, 2]],
    /*  72 */ &[[2, 3, 11], [10, 6, 5]],
    /*  73 */ &[[11, 2, 0], [8, 11, 0], [10, 6, 5]],
    /*  74 */ &[[0, 1, 9], [2, 3, 11], [10, 6, 5]],
    /*  75 */ &[[9, 8, 11], [11, 2, 1], [9, 11, 1], [10, 6, 5]],
    /*  76 */ &[[11, 6, 5], [3, 11, 5], [1, 3, 5]],
    /*  77 */ &[[5, 1, 0], [6, 5, 0], [11, 6, 0], [8, 11, 0]],
    /*  78 */ &[[6, 5, 9], [11, 6, 9], [3, 11, 9], [0, 3, 9]],
    /*  79 */ &[[9, 8, 11], [11, 6, 5], [9, 11, 5]],
    /*  80 */ &[[8, 4, 7], [10, 6, 5]],
    /*  81 */ &[[7, 3, 0], [4, 7, 0], [10, 6, 5]],
    /*  82 */ &[[0, 1, 9], [8, 4, 7], [10, 6, 5]],
    /*  83 */ &[[7, 3, 1], [4, 7, 1], [9, 4, 1], [10, 6, 5]],
    /*  84 */ &[[2, 6, 5], [1, 2, 5], [8, 4, 7]],
    /*  85 */ &[[0, 4, 7], [3, 0, 7], [2, 6, 5], [1, 2, 5]],
    /*  86 */ &[[0, 2, 6], [6, 5, 9], [0, 6, 9], [8, 4, 7]],
    /*  87 */ &[[6, 5, 9], [9, 4, 7], [9, 7, 3], [9, 3, 2], [6, 9, 2]],
    /*  88 */ &[[2, 3, 11], [8, 4, 7], [10, 6, 5]],
    /*  89 */ &[[7, 11, 2], [4, 7, 2], [4, 2, 0], [10, 6, 5]],
    /*  90 */ &[[0, 1, 9], [2, 3, 11], [8, 4, 7], [10, 6, 5]],
    /*  91 */ &[[11, 2, 1], [7, 11, 1], [4, 7, 1], [9, 4, 1], [10, 6, 5]],
    /*  92 */ &[[11, 6, 5], [3, 11, 5], [1, 3, 5], [8, 4, 7]],
    /*  93 */ &[[4, 7, 11], [11, 6, 5], [11, 5, 1], [11, 1, 0], [4, 11, 0]],
    /*  94 */ &[[6, 5, 9], [11, 6, 9], [3, 11, 9], [0, 3, 9], [8, 4, 7]],
    /*  95 */ &[[6, 5, 9], [11, 6, 9], [9, 4, 7], [11, 9, 7]],
    /*  96 */ &[[10, 6, 4], [9, 10, 4]],
    /*  97 */ &[[8, 3, 0], [10, 6, 4], [9, 10, 4]],
    /*  98 */ &[[1, 10, 6], [0, 1, 6], [0, 6, 4]],
    /*  99 */ &[[6, 4, 8], [8, 3, 1], [6, 8, 1], [10, 6, 1]],
    /* 100 */ &[[2, 6, 4], [2, 4, 9], [1, 2, 9]],
    /* 101 */ &[[3, 0, 8], [2, 6, 4], [2, 4, 9], [1, 2, 9]],
    /* 102 */ &[[2, 6, 4], [0, 2, 4]],
    /* 103 */ &[[8, 3, 2], [4, 8, 2], [6, 4, 2]],
    /* 104 */ &[[2, 3, 11], [10, 6, 4], [9, 10, 4]],
    /* 105 */ &[[11, 2, 0], [8, 11, 0], [10, 6, 4], [9, 10, 4]],
    /* 106 */ &[[1, 10, 6], [0, 1, 6], [0, 6, 4], [2, 3, 11]],
    /* 107 */ &[[11, 2, 1], [8, 11, 1], [4, 8, 1], [6, 4, 1], [10, 6, 1]],
    /* 108 */ &[[6, 4, 9], [11, 6, 9], [3, 11, 9], [1, 3, 9]],
    /* 109 */ &[[4, 9, 1], [6, 4, 1], [11, 6, 1], [8, 11, 1], [8, 1, 0]],
    /* 110 */ &[[3, 11, 6], [0, 3, 6], [0, 6, 4]],
    /* 111 */ &[[11, 6, 4], [8, 11, 4]],
    /* 112 */ &[[8, 9, 10], [7, 8, 10], [6, 7, 10]],
    /* 113 */ &[[7, 3, 0], [6, 7, 0], [10, 6, 0], [9, 10, 0]],
    /* 114 */ &[[6, 7, 8], [10, 6, 8], [1, 10, 8], [0, 1, 8]],
    /* 115 */ &[[7, 3, 1], [6, 7, 1], [10, 6, 1]],
    /* 116 */ &[[2, 6, 7], [7, 8, 9], [2, 7, 9], [1, 2, 9]],
    /* 117 */ &[[3, 0, 9], [9, 1, 2], [9, 2, 6], [9, 6, 7], [3, 9, 7]],
    /* 118 */ &[[0, 2, 6], [6, 7, 8], [0, 6, 8]],
    /* 119 */ &[[7, 3, 2], [6, 7, 2]],
    /* 120 */ &[[2, 3, 11], [8, 9, 10], [7, 8, 10], [6, 7, 10]],
    /* 121 */ &[[10, 6, 7], [9, 10, 7], [7, 11, 2], [7, 2, 0], [9, 7, 0]],
    /* 122 */ &[[6, 7, 8], [10, 6, 8], [1, 10, 8], [0, 1, 8], [2, 3, 11]],
    /* 123 */ &[[11, 2, 1], [7, 11, 1], [6, 7, 1], [10, 6, 1]],
    /* 124 */ &[[3, 11, 6], [1, 3, 6], [6, 7, 8], [6, 8, 9], [1, 6, 9]],
    /* 125 */ &[[9, 1, 0], [6, 7, 11]],
    /* 126 */ &[[3, 11, 6], [0, 3, 6], [6, 7, 8], [0, 6, 8]],
    /* 127 */ &[[6, 7, 11]],
];

/// Corner offsets `(y, x)` of the marching square, in PyRadiomics' order (`p0 p1 p2 p3` clockwise
/// from the origin).
pub(super) const SQUARE_CORNERS: [[usize; 2]; 4] = [[0, 0], [0, 1], [1, 1], [1, 0]];

/// Edge midpoints `(y, x)` of the square's edges `p0p1 p1p2 p2p3 p3p0`.
pub(super) const SQUARE_EDGE_MIDPOINTS: [[f64; 2]; 4] =
    [[0.0, 0.5], [0.5, 1.0], [1.0, 0.5], [0.5, 0.0]];

/// Contour segments (edge numbers `from, to`) per square configuration (bit `k` = corner `k`
/// inside), wound so the inside lies to the left in `(y, x)` (the cross product
/// `(to - from) × (corner - from)` is positive for an inside corner). The two ambiguous
/// configurations (diagonal corners 0+2 or 1+3 inside) cut each inside corner off separately, as
/// PyRadiomics does.
pub(super) const SQUARE_SEGMENTS: [&[[u8; 2]]; 16] = [
    &[],
    &[[3, 0]],
    &[[0, 1]],
    &[[3, 1]],
    &[[1, 2]],
    &[[1, 2], [3, 0]],
    &[[0, 2]],
    &[[3, 2]],
    &[[2, 3]],
    &[[2, 0]],
    &[[0, 1], [2, 3]],
    &[[2, 1]],
    &[[1, 3]],
    &[[1, 0]],
    &[[0, 3]],
    &[],
];

/// A mesh vertex in doubled grid units (`2 × index`, so edge midpoints are integers) of the padded
/// mask. Grouping by exact coordinate is then integer work, and the physical coordinate
/// `(h / 2) × spacing` is the very `f64` PyRadiomics computes (`(i + 0.5) × spacing`).
pub(super) type HalfPoint<const D: usize> = [i64; D];

/// Physical coordinates of doubled-grid points.
#[must_use]
pub(super) fn to_physical<const D: usize>(
    pts: &[HalfPoint<D>],
    spacing: [f64; D],
) -> Vec<[f64; D]> {
    pts.iter()
        .map(|p| std::array::from_fn(|d| (p[d] as f64 * 0.5) * spacing[d]))
        .collect()
}

/// Points per leaf of the diameter search's box tree.
const LEAF: usize = 64;

/// A run of points (in the search's reordered copy) and their bounding box.
struct Leaf<const D: usize> {
    start: usize,
    end: usize,
    lo: [f64; D],
    hi: [f64; D],
}

/// Squared distance summed in axis order, as PyRadiomics sums it (so maxima are the same `f64`).
fn sq_distance<const D: usize>(a: &[f64; D], b: &[f64; D]) -> f64 {
    let mut dist = 0.0;
    for d in 0..D {
        let diff = a[d] - b[d];
        dist += diff * diff;
    }
    dist
}

/// Largest squared distance between two points of `a` and `b` (or within `a` when `b` is `None`).
fn brute_max<const D: usize>(a: &[[f64; D]], b: Option<&[[f64; D]]>) -> f64 {
    let mut best = 0.0_f64;
    for (i, p) in a.iter().enumerate() {
        let others = b.unwrap_or(&a[i + 1..]);
        for q in others {
            best = best.max(sq_distance(p, q));
        }
    }
    best
}

/// Splits `pts` (positions `offset..`) at the median of its widest axis until runs of at most
/// [`LEAF`] points remain.
fn build_leaves<const D: usize>(pts: &mut [[f64; D]], offset: usize, leaves: &mut Vec<Leaf<D>>) {
    let mut lo = [f64::INFINITY; D];
    let mut hi = [f64::NEG_INFINITY; D];
    for p in pts.iter() {
        for d in 0..D {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    if pts.len() <= LEAF {
        leaves.push(Leaf {
            start: offset,
            end: offset + pts.len(),
            lo,
            hi,
        });
        return;
    }
    let axis = (0..D)
        .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])))
        .unwrap_or(0);
    let mid = pts.len() / 2;
    pts.select_nth_unstable_by(mid, |a, b| a[axis].total_cmp(&b[axis]));
    let (left, right) = pts.split_at_mut(mid);
    build_leaves(left, offset, leaves);
    build_leaves(right, offset + mid, leaves);
}

/// An upper bound on the squared distance between any point of box `a` and any of box `b`.
///
/// Exact in floating point, not just in real arithmetic: every step (subtraction, max, square,
/// sum) is monotone under rounding, so no computed point-pair distance can exceed it.
fn box_bound<const D: usize>(a: &Leaf<D>, b: &Leaf<D>) -> f64 {
    let mut bound = 0.0;
    for d in 0..D {
        let span = (a.hi[d] - b.lo[d]).max(b.hi[d] - a.lo[d]);
        bound += span * span;
    }
    bound
}

/// A lower bound on the maximum: the largest distance among the extreme points along the 13
/// axis and diagonal directions of the grid (for compact shapes this is already the maximum or
/// close to it, so the bound prunes almost every box pair).
fn extremes_lower_bound<const D: usize>(pts: &[[f64; D]]) -> f64 {
    // Directions with components in {-1, 0, 1}, one of each ± pair (first non-zero is +1).
    let dirs: Vec<[f64; D]> = (1..3_usize.pow(D as u32))
        .map(|code| std::array::from_fn(|d| (code / 3_usize.pow(d as u32) % 3) as f64 - 1.0))
        .filter(|dir: &[f64; D]| dir.iter().find(|&&c| c != 0.0).is_some_and(|&c| c > 0.0))
        .collect();
    // (min projection, its point, max projection, its point) per direction, in one pass.
    let mut ext: Vec<(f64, usize, f64, usize)> =
        vec![(f64::INFINITY, 0, f64::NEG_INFINITY, 0); dirs.len()];
    for (i, p) in pts.iter().enumerate() {
        for (dir, e) in dirs.iter().zip(ext.iter_mut()) {
            let along: f64 = (0..D).map(|d| dir[d] * p[d]).sum();
            if along < e.0 {
                (e.0, e.1) = (along, i);
            }
            if along > e.2 {
                (e.2, e.3) = (along, i);
            }
        }
    }
    let extremes: Vec<[f64; D]> = ext.iter().flat_map(|e| [pts[e.1], pts[e.3]]).collect();
    brute_max(&extremes, None)
}

/// Largest squared distance between any two points (0 for fewer than two).
///
/// PyRadiomics compares all pairs (O(n²)). The same maximum comes out of a branch and bound:
/// points are cut into boxes of at most [`LEAF`], and the points of two boxes are compared only
/// if the boxes' distance bound beats the best distance found so far (seeded with the extreme
/// points along the grid directions). Compared pairs use PyRadiomics' own arithmetic and the
/// bound is exact in floating point, so the result is bit-identical. Worst case (a bound that
/// prunes nothing) it is PyRadiomics' O(n²) plus the box pairs.
#[must_use]
pub(super) fn max_sq_distance<const D: usize>(pts: &[[f64; D]]) -> f64 {
    if pts.len() <= 4 * LEAF {
        return brute_max(pts, None);
    }
    let mut pts = pts.to_vec();
    let mut leaves = Vec::with_capacity(2 * pts.len() / LEAF + 1);
    build_leaves(&mut pts, 0, &mut leaves);
    // Only box pairs whose bound beats the seed can hold the maximum; visiting them by
    // decreasing bound finds it early and stops as soon as no bound can beat it.
    let seed = extremes_lower_bound(&pts);
    let mut pairs: Vec<(f64, usize, usize)> = (0..leaves.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let leaves = &leaves;
            (i..leaves.len()).filter_map(move |j| {
                let bound = box_bound(&leaves[i], &leaves[j]);
                (bound > seed).then_some((bound, i, j))
            })
        })
        .collect();
    pairs.par_sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let mut best = seed;
    for &(bound, i, j) in &pairs {
        if bound <= best {
            break;
        }
        let a = &pts[leaves[i].start..leaves[i].end];
        let found = if i == j {
            brute_max(a, None)
        } else {
            brute_max(a, Some(&pts[leaves[j].start..leaves[j].end]))
        };
        best = best.max(found);
    }
    best
}

/// Largest squared distance between points that share coordinate `axis` (PyRadiomics'
/// per-slice, per-column and per-row diameters): the points are grouped by that coordinate and
/// each group searched.
#[must_use]
pub(super) fn max_sq_distance_in_planes<const D: usize>(
    pts: &[HalfPoint<D>],
    axis: usize,
    spacing: [f64; D],
) -> f64 {
    let mut sorted = pts.to_vec();
    sorted.sort_unstable_by_key(|p| p[axis]);
    let groups: Vec<&[HalfPoint<D>]> = sorted.chunk_by(|a, b| a[axis] == b[axis]).collect();
    groups
        .into_par_iter()
        .map(|group| max_sq_distance(&to_physical(group, spacing)))
        .reduce(|| 0.0, f64::max)
}

/// Largest squared distance between any two points.
#[must_use]
pub(super) fn max_sq_distance_all<const D: usize>(pts: &[HalfPoint<D>], spacing: [f64; D]) -> f64 {
    max_sq_distance(&to_physical(pts, spacing))
}

/// Eigenvalues, ascending, of the covariance of the physical coordinates of the mask's voxels
/// (PyRadiomics: coordinates × spacing, centred, divided by `sqrt(Np)`, `Xᵀ X`; tiny negative
/// eigenvalues in `(-1e-10, 0)` are machine error and become 0). `NaN`s for an empty mask.
#[must_use]
pub(super) fn coordinate_eigenvalues<const D: usize>(
    voxels: &[[usize; D]],
    spacing: [f64; D],
) -> [f64; D] {
    if voxels.is_empty() {
        return [f64::NAN; D];
    }
    let n = voxels.len() as f64;
    let phys = |v: &[usize; D]| -> [f64; D] { std::array::from_fn(|d| v[d] as f64 * spacing[d]) };
    let mut mean = [0.0; D];
    for v in voxels {
        for (m, p) in mean.iter_mut().zip(phys(v)) {
            *m += p;
        }
    }
    for m in &mut mean {
        *m /= n;
    }
    let mut cov = [[0.0; D]; D];
    for v in voxels {
        let p = phys(v);
        let c: [f64; D] = std::array::from_fn(|d| p[d] - mean[d]);
        for (row, ci) in cov.iter_mut().zip(c) {
            for (cell, cj) in row.iter_mut().zip(c) {
                *cell += ci * cj;
            }
        }
    }
    for cell in cov.iter_mut().flatten() {
        *cell /= n;
    }
    let mut eig = symmetric_eigenvalues(cov);
    for e in &mut eig {
        if *e < 0.0 && *e > -1e-10 {
            *e = 0.0;
        }
    }
    eig.sort_by(f64::total_cmp);
    eig
}

/// Eigenvalues of a small symmetric matrix by cyclic Jacobi rotations (accurate to rounding even
/// for zero or nearly equal eigenvalues; a zero row stays exactly zero, as for a one-slice mask).
#[must_use]
pub(super) fn symmetric_eigenvalues<const N: usize>(mut a: [[f64; N]; N]) -> [f64; N] {
    for _sweep in 0..64 {
        let off: f64 = (0..N)
            .flat_map(|i| (i + 1..N).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j].abs())
            .sum();
        if off == 0.0 || !off.is_finite() {
            break;
        }
        for p in 0..N {
            for q in p + 1..N {
                rotate(&mut a, p, q);
            }
        }
    }
    std::array::from_fn(|i| a[i][i])
}

/// One Jacobi rotation zeroing `m[p][q]` (Numerical Recipes' formulation).
fn rotate<const N: usize>(m: &mut [[f64; N]; N], p: usize, q: usize) {
    let off = m[p][q];
    if off == 0.0 {
        return;
    }
    let theta = (m[q][q] - m[p][p]) / (2.0 * off);
    // tan of the rotation angle, the smaller root; 1/(2θ) once θ² would overflow.
    let tan = if theta.abs() > 1e150 {
        0.5 / theta
    } else {
        theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
    };
    let cos = 1.0 / (tan * tan + 1.0).sqrt();
    let sin = tan * cos;
    m[p][p] -= tan * off;
    m[q][q] += tan * off;
    m[p][q] = 0.0;
    m[q][p] = 0.0;
    for r in (0..N).filter(|&r| r != p && r != q) {
        let (rp, rq) = (m[r][p], m[r][q]);
        m[r][p] = cos * rp - sin * rq;
        m[p][r] = m[r][p];
        m[r][q] = sin * rp + cos * rq;
        m[q][r] = m[r][q];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Corners joined by each cube edge (numbering as in the module docs).
    const CUBE_EDGES: [[usize; 2]; 12] = [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 0],
        [4, 5],
        [5, 6],
        [6, 7],
        [7, 4],
        [0, 4],
        [1, 5],
        [2, 6],
        [3, 7],
    ];

    /// Every configuration's triangles use exactly the edges whose two corners differ, and each
    /// triangle is wound outwards: its normal points away from the inside corners of its edges.
    #[test]
    fn cube_table_cuts_exactly_the_crossing_edges() {
        for (case, tris) in CUBE_TRIANGLES.iter().enumerate() {
            let inside = |corner: usize| case & (1 << corner) != 0;
            let crossing: Vec<usize> = (0..12)
                .filter(|&e| inside(CUBE_EDGES[e][0]) != inside(CUBE_EDGES[e][1]))
                .collect();
            let mut used: Vec<usize> = tris.iter().flatten().map(|&e| usize::from(e)).collect();
            used.sort_unstable();
            used.dedup();
            assert_eq!(used, crossing, "case {case}");
            for tri in *tris {
                let [p0, p1, p2] = tri.map(|e| CUBE_EDGE_MIDPOINTS[usize::from(e)]);
                let u: [f64; 3] = std::array::from_fn(|d| p1[d] - p0[d]);
                let v: [f64; 3] = std::array::from_fn(|d| p2[d] - p0[d]);
                let normal = [
                    u[1] * v[2] - u[2] * v[1],
                    u[2] * v[0] - u[0] * v[2],
                    u[0] * v[1] - u[1] * v[0],
                ];
                let outward: f64 = tri
                    .iter()
                    .map(|&e| {
                        let [p, q] = CUBE_EDGES[usize::from(e)];
                        let (from, to) = if inside(p) { (p, q) } else { (q, p) };
                        (0..3)
                            .map(|d| {
                                (CUBE_CORNERS[to][d] as f64 - CUBE_CORNERS[from][d] as f64)
                                    * normal[d]
                            })
                            .sum::<f64>()
                    })
                    .sum();
                assert!(outward > 0.0, "case {case} triangle {tri:?}");
            }
        }
    }

    /// Each square configuration's segments keep the inside corners on their left.
    #[test]
    fn square_table_is_wound_inside_left() {
        let edges = [[0, 1], [1, 2], [2, 3], [3, 0]];
        for (case, segs) in SQUARE_SEGMENTS.iter().enumerate() {
            let inside = |corner: usize| case & (1 << corner) != 0;
            let crossing = (0..4)
                .filter(|&e: &usize| inside(edges[e][0]) != inside(edges[e][1]))
                .count();
            assert_eq!(segs.len() * 2, crossing, "case {case}");
            for seg in *segs {
                let [p, q] = seg.map(|e| SQUARE_EDGE_MIDPOINTS[usize::from(e)]);
                for (corner, c) in SQUARE_CORNERS.iter().enumerate() {
                    let (cy, cx) = (c[0] as f64 - p[0], c[1] as f64 - p[1]);
                    let side = (q[0] - p[0]) * cx - (q[1] - p[1]) * cy;
                    // Corners the segment cuts off (adjacent to both its edges) decide the side.
                    let adjacent = seg.iter().all(|&e| edges[usize::from(e)].contains(&corner));
                    if adjacent {
                        assert_eq!(side > 0.0, inside(corner), "case {case} segment {seg:?}");
                    }
                }
            }
        }
    }

    /// A deterministic scatter of doubled-grid points (a small LCG; no test-time randomness).
    fn scatter(n: usize) -> Vec<HalfPoint<3>> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % 23) as i64
        };
        (0..n).map(|_| [next(), next(), next()]).collect()
    }

    fn brute(pts: &[HalfPoint<3>], spacing: [f64; 3], same: Option<usize>) -> f64 {
        let phys = to_physical(pts, spacing);
        let mut best = 0.0_f64;
        for i in 0..pts.len() {
            for j in 0..i {
                if same.is_none_or(|axis| pts[i][axis] == pts[j][axis]) {
                    let d: f64 = (0..3).map(|d| (phys[i][d] - phys[j][d]).powi(2)).sum();
                    best = best.max(d);
                }
            }
        }
        best
    }

    /// The bounded search finds the very maxima of the all-pairs comparison (bit for bit).
    #[test]
    fn bounded_diameter_search_equals_brute_force() {
        let pts = scatter(2000);
        let spacing = [2.5, 0.7, 0.8];
        assert_eq!(
            max_sq_distance_all(&pts, spacing).to_bits(),
            brute(&pts, spacing, None).to_bits()
        );
        for axis in 0..3 {
            assert_eq!(
                max_sq_distance_in_planes(&pts, axis, spacing).to_bits(),
                brute(&pts, spacing, Some(axis)).to_bits(),
                "axis {axis}"
            );
        }
        assert_eq!(
            max_sq_distance_all::<3>(&[], spacing).to_bits(),
            0.0_f64.to_bits()
        );
        assert_eq!(
            max_sq_distance_all(&pts[..1], spacing).to_bits(),
            0.0_f64.to_bits()
        );
    }

    #[test]
    fn jacobi_eigenvalues() {
        let mut e = symmetric_eigenvalues([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]);
        e.sort_by(f64::total_cmp);
        for (got, want) in e.into_iter().zip([1.0, 3.0, 5.0]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        // A zero row (a one-slice mask) keeps an exact zero eigenvalue.
        let e = symmetric_eigenvalues([[0.0, 0.0, 0.0], [0.0, 4.0, 1.5], [0.0, 1.5, 1.0]]);
        assert_eq!(e[0].to_bits(), 0.0_f64.to_bits());
        let e = coordinate_eigenvalues(&[[0, 0], [0, 1], [1, 0], [1, 1]], [2.0, 1.0]);
        assert!(
            (e[0] - 0.25).abs() < 1e-12 && (e[1] - 1.0).abs() < 1e-12,
            "{e:?}"
        );
        assert!(coordinate_eigenvalues::<3>(&[], [1.0; 3])[0].is_nan());
    }
}
