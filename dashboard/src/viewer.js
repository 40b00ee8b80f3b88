// SPDX-License-Identifier: MIT
// The 3D preview: three.js with image-based lighting (RoomEnvironment) so PBR materials read as
// they will in an engine. Renders on demand (orbit, resize, load), not every frame.

import {
  ACESFilmicToneMapping,
  Box3,
  Color,
  LoadingManager,
  PMREMGenerator,
  PerspectiveCamera,
  SRGBColorSpace,
  Scene,
  Vector3,
  WebGLRenderer,
} from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { RoomEnvironment } from "three/addons/environments/RoomEnvironment.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";

/**
 * Creates a viewer inside `container`. Its `data-state` attribute tells what it shows:
 * "empty", "loading", "loaded" or "error" (the page's styles and tests read it).
 */
export function createViewer(container, status) {
  container.dataset.state = "empty";
  let renderer;
  try {
    renderer = new WebGLRenderer({ antialias: true });
  } catch (error) {
    container.dataset.state = "error";
    status.textContent = "3D preview needs WebGL, which this browser has turned off.";
    return { load: async () => {}, clear() {}, setWireframe() {}, resetView() {} };
  }
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  renderer.toneMapping = ACESFilmicToneMapping;
  renderer.outputColorSpace = SRGBColorSpace;
  container.prepend(renderer.domElement);

  const scene = new Scene();
  scene.background = new Color(0x2b2f36);
  // Image-based lighting is built on the first load: prefiltering the environment is quick on
  // a GPU but takes seconds in a software renderer, and the page should not wait for it.
  function ensureEnvironment() {
    if (scene.environment) return;
    const pmrem = new PMREMGenerator(renderer);
    scene.environment = pmrem.fromScene(new RoomEnvironment(), 0.04).texture;
    pmrem.dispose();
  }
  const camera = new PerspectiveCamera(40, 1, 0.01, 100);
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.addEventListener("change", render);

  let model = null;
  let home = null;
  let wireframe = false;
  let generation = 0;

  function render() {
    renderer.render(scene, camera);
  }

  function resize() {
    const { clientWidth: w, clientHeight: h } = container;
    if (!w || !h) return;
    renderer.setSize(w, h, false);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
    render();
  }
  new ResizeObserver(resize).observe(container);

  function dispose(object) {
    object.traverse((node) => {
      node.geometry?.dispose();
      for (const material of [node.material].flat()) {
        if (!material) continue;
        for (const value of Object.values(material)) if (value?.isTexture) value.dispose();
        material.dispose();
      }
    });
  }

  function frame() {
    // Center the model at the origin and back the camera off until its bounding sphere fits.
    const box = new Box3().setFromObject(model);
    const center = box.getCenter(new Vector3());
    const radius = Math.max(box.getSize(new Vector3()).length() / 2, 1e-3);
    model.position.sub(center);
    const distance = (radius / Math.sin((camera.fov * Math.PI) / 360)) * 1.05;
    home = new Vector3(0.55, 0.35, 1).normalize().multiplyScalar(distance);
    camera.near = distance / 100;
    camera.far = distance * 100;
    camera.updateProjectionMatrix();
    resetView();
  }

  function resetView() {
    if (!home) return;
    camera.position.copy(home);
    controls.target.set(0, 0, 0);
    controls.update();
    render();
  }

  function applyWireframe() {
    model?.traverse((node) => {
      for (const material of [node.material].flat()) if (material) material.wireframe = wireframe;
    });
    render();
  }

  /**
   * Shows the glTF/GLB at `url`. `files` maps the relative URIs a .gltf refers to onto URLs;
   * `headers` go with every request (the API key).
   */
  async function load(url, { files = {}, headers = {}, label = "" } = {}) {
    const mine = ++generation;
    container.dataset.state = "loading";
    status.textContent = label ? `Loading ${label}…` : "Loading…";
    const manager = new LoadingManager();
    manager.setURLModifier((requested) => {
      const name = decodeURIComponent(requested.split("/").pop());
      return files[name] || requested;
    });
    const loader = new GLTFLoader(manager).setRequestHeader(headers);
    try {
      const gltf = await loader.loadAsync(url);
      if (mine !== generation) return; // A newer load started meanwhile.
      clear(false);
      ensureEnvironment();
      model = gltf.scene;
      scene.add(model);
      frame();
      applyWireframe();
      container.dataset.state = "loaded";
      status.textContent = label;
    } catch (error) {
      if (mine !== generation) return;
      container.dataset.state = "error";
      status.textContent = `Could not load the model: ${error.message || error}`;
    }
  }

  function clear(reset = true) {
    if (model) {
      scene.remove(model);
      dispose(model);
      model = null;
    }
    if (reset) {
      generation++;
      home = null;
      container.dataset.state = "empty";
      status.textContent = "";
    }
    render();
  }

  function setWireframe(on) {
    wireframe = on;
    applyWireframe();
  }

  resize();
  return { load, clear, setWireframe, resetView };
}
