// Test pictures for the Media Area's browser tests: landscapes drawn on a canvas in Chromium
// and encoded as JPEG there, so that the screenshots show real-looking images (the repository's
// fixtures are a few dozen pixels wide). Drawing is deterministic: the same name gives the same
// bytes in one browser build.

/** Palettes: sky top, sky bottom, sun, three hill layers. */
export const SCENES = {
  'mountain-sunrise': ['#2b4a8b', '#f7b267', '#fff1c1', '#5b4b8a', '#3c3a6b', '#1f2142'],
  'harbour-boats': ['#4ea8de', '#caf0f8', '#ffffff', '#48cae4', '#0096c7', '#023e8a'],
  'alpine-lake': ['#89c2d9', '#e0fbfc', '#ffffff', '#74a892', '#3a6351', '#1b3a2f'],
  'desert-dunes': ['#f4a261', '#ffe8cc', '#fff3b0', '#e9c46a', '#d4a373', '#a0522d'],
  'forest-morning': ['#a8dadc', '#f1faee', '#fefae0', '#52796f', '#354f52', '#2f3e46'],
  'city-night': ['#0b132b', '#3a506b', '#f8f9fa', '#1c2541', '#5bc0be', '#0b132b'],
  'lavender-field': ['#cdb4db', '#ffc8dd', '#fff0f3', '#a2d2ff', '#9d4edd', '#5a189a'],
  'mountain-noon': ['#1e6091', '#d9ed92', '#ffffff', '#99d98c', '#52b69a', '#184e77'],
  'ocean-sunset': ['#ff7b54', '#ffd56f', '#fff5d6', '#ef476f', '#118ab2', '#073b4c'],
};

/** JPEG bytes (a Buffer) of scene `name`, `width` × `height`, drawn in `page`. */
export async function drawScene(page, name, width = 1200, height = 800) {
  const palette = SCENES[name];
  if (!palette) throw new Error(`no scene ${name}`);
  const b64 = await page.evaluate(
    async ({ palette, width, height, seed }) => {
      const [skyTop, skyBottom, sun, ...hills] = palette;
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const g = canvas.getContext('2d');
      const sky = g.createLinearGradient(0, 0, 0, height);
      sky.addColorStop(0, skyTop);
      sky.addColorStop(1, skyBottom);
      g.fillStyle = sky;
      g.fillRect(0, 0, width, height);
      let s = seed;
      const random = () => ((s = (s * 16807) % 2147483647) / 2147483647);
      const sunX = width * (0.2 + 0.6 * random());
      const glow = g.createRadialGradient(sunX, height * 0.35, 0, sunX, height * 0.35, height * 0.45);
      glow.addColorStop(0, sun);
      glow.addColorStop(0.18, sun);
      glow.addColorStop(0.19, `${sun}55`);
      glow.addColorStop(1, `${sun}00`);
      g.fillStyle = glow;
      g.fillRect(0, 0, width, height);
      hills.forEach((colour, layer) => {
        const base = height * (0.5 + layer * 0.15);
        g.fillStyle = colour;
        g.beginPath();
        g.moveTo(0, height);
        const peaks = 3 + layer * 2;
        for (let i = 0; i <= peaks * 8; i += 1) {
          const x = (i / (peaks * 8)) * width;
          const y = base - Math.abs(Math.sin((i / 8) * Math.PI + random() * 0.3)) * height * (0.22 - layer * 0.05);
          g.lineTo(x, y);
        }
        g.lineTo(width, height);
        g.closePath();
        g.fill();
      });
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(binary);
    },
    { palette, width, height, seed: [...name].reduce((a, c) => a + c.charCodeAt(0), 7) },
  );
  return Buffer.from(b64, 'base64');
}
