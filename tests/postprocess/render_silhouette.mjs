// SPDX-License-Identifier: MIT
// Render two glTF files with three.js in headless Chromium and report silhouette IoU per view.
// Each scene is centred on its bounding box and scaled to unit size, all materials are replaced
// by unlit white (double-sided), and four orthographic views are rendered to 256x256 masks.
// Usage: node render_silhouette.mjs SOURCE.glb OUTPUT.glb   (prints JSON: {views: [...], iou: [...]})
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const here = path.dirname(new URL(import.meta.url).pathname);
const modules = path.join(here, "..", "..", "tools", "node", "node_modules");
const { chromium } = require(path.join(modules, "playwright-core"));
const [sourcePath, outputPath] = process.argv.slice(2);

const page = `<!doctype html><html><body>
<script type="importmap">{"imports": {"three": "/three/build/three.module.js",
  "three/addons/": "/three/examples/jsm/"}}</script>
<script type="module">
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
const size = 256;
const renderer = new THREE.WebGLRenderer({ antialias: false, preserveDrawingBuffer: true });
renderer.setSize(size, size);
const target = new THREE.WebGLRenderTarget(size, size);
const white = new THREE.MeshBasicMaterial({ color: 0xffffff, side: THREE.DoubleSide });
async function masks(url) {
  const gltf = await new GLTFLoader().loadAsync(url);
  const root = gltf.scene;
  root.traverse((o) => { if (o.isMesh) o.material = white; });
  const box = new THREE.Box3().setFromObject(root);
  const centre = box.getCenter(new THREE.Vector3());
  const extent = box.getSize(new THREE.Vector3());
  const s = 1 / Math.max(extent.x, extent.y, extent.z);
  const holder = new THREE.Group();
  root.position.sub(centre);
  holder.add(root);
  holder.scale.setScalar(s);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x000000);
  scene.add(holder);
  const views = [[0, 0, 2], [2, 0, 0], [0, 2, 0.001], [1.2, 1.2, 1.2]];
  const out = [];
  for (const v of views) {
    const cam = new THREE.OrthographicCamera(-0.8, 0.8, 0.8, -0.8, 0.01, 10);
    cam.position.set(...v);
    cam.lookAt(0, 0, 0);
    renderer.setRenderTarget(target);
    renderer.render(scene, cam);
    const buf = new Uint8Array(size * size * 4);
    renderer.readRenderTargetPixels(target, 0, 0, size, size, buf);
    const mask = new Uint8Array(size * size);
    for (let i = 0; i < size * size; i++) mask[i] = buf[4 * i] > 127 ? 1 : 0;
    out.push(mask);
  }
  return out;
}
window.compare = async () => {
  const a = await masks("/source.glb");
  const b = await masks("/output.glb");
  const iou = a.map((m, k) => {
    let inter = 0, uni = 0;
    for (let i = 0; i < m.length; i++) { inter += m[i] & b[k][i]; uni += m[i] | b[k][i]; }
    return uni ? inter / uni : 1;
  });
  const area = a.map((m) => m.reduce((x, y) => x + y, 0) / m.length);
  return { iou, sourceArea: area };
};
window.ready = true;
</script></body></html>`;

const server = createServer(async (req, res) => {
  try {
    const url = decodeURIComponent(req.url.split("?")[0]);
    let body, type = "application/octet-stream";
    if (url === "/") { body = page; type = "text/html"; }
    else if (url === "/source.glb") body = await readFile(sourcePath);
    else if (url === "/output.glb") body = await readFile(outputPath);
    else if (url.startsWith("/three/")) {
      body = await readFile(path.join(modules, "three", url.slice("/three/".length)));
      if (url.endsWith(".js")) type = "text/javascript";
    } else { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { "content-type": type });
    res.end(body);
  } catch (err) { res.writeHead(404); res.end(String(err)); }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader"],
});
try {
  const tab = await browser.newPage();
  const errors = [];
  tab.on("pageerror", (e) => errors.push(String(e)));
  await tab.goto(base, { waitUntil: "load" });
  await tab.waitForFunction(() => window.ready === true, null, { timeout: 30000 });
  const result = await tab.evaluate(() => window.compare());
  result.errors = errors;
  process.stdout.write(JSON.stringify(result));
} finally {
  await browser.close();
  server.close();
}
