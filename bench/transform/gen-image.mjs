// Writes the benchmark's input: a deterministic, photograph-like W×H JPEG (baseline, 4:2:0, quality Q).
// Smooth light (sky gradient, a horizon of hills, soft out-of-focus discs) plus fractal value noise for
// texture at several scales and a fine sensor-like grain, so that the encoder and the decoders meet the
// mix of flat and busy blocks that a real photo has, not a flat colour. GRAIN (the amplitude of the per-pixel
// grain) sets how much entropy-coded data there is, hence the decode cost: at the default 4 the 4000×3000
// image is ~2 MB and libjpeg-turbo's `djpeg -scale 1/4` decodes it at ~25/s on one core of the rust-svc machine,
// the figure the issue gives for its own 12 MP test image (~26/s), and sharp 0.35 reaches the ~38 JPEG/s it quotes.
// Usage: node gen-image.mjs OUT.jpg [WIDTH=4000] [HEIGHT=3000] [QUALITY=90] [GRAIN=4]
import sharp from "sharp";

const [out, W = 4000, H = 3000, Q = 90, GRAIN = 4] = [process.argv[2], ...process.argv.slice(3).map(Number)];
if (!out) {
  console.error("usage: node gen-image.mjs OUT.jpg [WIDTH] [HEIGHT] [QUALITY] [GRAIN]");
  process.exit(2);
}

let seed = 0x5eed1234; // mulberry32: the same image on every machine
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

// Value noise: a lattice of random values every `cell` pixels, smoothly interpolated.
function valueNoise(cell) {
  const gw = Math.ceil(W / cell) + 2, gh = Math.ceil(H / cell) + 2;
  const grid = new Float32Array(gw * gh).map(() => rand() * 2 - 1);
  const s = (t) => t * t * (3 - 2 * t);
  return (x, y) => {
    const fx = x / cell, fy = y / cell, ix = fx | 0, iy = fy | 0, tx = s(fx - ix), ty = s(fy - iy);
    const a = grid[iy * gw + ix], b = grid[iy * gw + ix + 1];
    const c = grid[(iy + 1) * gw + ix], d = grid[(iy + 1) * gw + ix + 1];
    return a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty;
  };
}
const octaves = [640, 160, 40, 10, 3].map((cell) => valueNoise(cell));
const weights = [0.5, 0.35, 0.3, 0.22, 0.12];
const tint = [valueNoise(900), valueNoise(700), valueNoise(800)];
const discs = Array.from({ length: 60 }, () => ({
  x: rand() * W, y: rand() * H * 0.6, r: 30 + rand() * 220, a: 0.15 + rand() * 0.35,
  c: [200 + rand() * 55, 150 + rand() * 100, 80 + rand() * 120],
}));
const horizon = (x) => H * (0.55 + 0.08 * Math.sin(x / 530) + 0.04 * Math.sin(x / 170 + 1.3) + 0.015 * Math.sin(x / 37));

const px = Buffer.alloc(W * H * 3);
for (let y = 0; y < H; y++) {
  for (let x = 0; x < W; x++) {
    let tex = 0;
    for (let o = 0; o < octaves.length; o++) tex += weights[o] * octaves[o](x, y);
    let r, g, b;
    if (y < horizon(x)) { // sky: blue to warm haze, soft clouds from the coarse octaves
      const t = y / H;
      r = 90 + 150 * t + 40 * tex; g = 140 + 90 * t + 40 * tex; b = 220 - 40 * t + 30 * tex;
    } else { // land: greens and browns, busier texture
      const t = (y - horizon(x)) / H;
      r = 80 + 60 * t + 90 * tex; g = 100 + 30 * t + 80 * tex; b = 50 + 20 * t + 50 * tex;
    }
    r += 25 * tint[0](x, y); g += 25 * tint[1](x, y); b += 25 * tint[2](x, y);
    for (const d of discs) { // out-of-focus highlights
      const dx = x - d.x, dy = y - d.y, q = (dx * dx + dy * dy) / (d.r * d.r);
      if (q < 1) {
        const k = d.a * (1 - q * q);
        r += (d.c[0] - r) * k; g += (d.c[1] - g) * k; b += (d.c[2] - b) * k;
      }
    }
    const grain = (rand() + rand() + rand() - 1.5) * GRAIN; // sensor grain, mostly luma
    const i = (y * W + x) * 3;
    px[i] = Math.max(0, Math.min(255, r + grain + (rand() - 0.5) * 3));
    px[i + 1] = Math.max(0, Math.min(255, g + grain + (rand() - 0.5) * 3));
    px[i + 2] = Math.max(0, Math.min(255, b + grain + (rand() - 0.5) * 3));
  }
}

const info = await sharp(px, { raw: { width: W, height: H, channels: 3 } })
  .jpeg({ quality: Q, chromaSubsampling: "4:2:0", progressive: false, mozjpeg: false, optimiseCoding: true })
  .toFile(out);
console.log(JSON.stringify({ file: out, width: info.width, height: info.height, bytes: info.size, quality: Q, grain: GRAIN }));
