// SPDX-License-Identifier: MIT
// The submit form: image picking (click or drop), options -> a CreateJobRequest (JSON mapping).

import { $, base64 } from "./util.js";

/**
 * Wires the form. `submit(request)` creates the job (and may throw a ConnectError, which
 * `showError(error, element)` displays under the form).
 */
export function initForm(submit, showError) {
  $("image").addEventListener("change", (e) => takeImage(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    takeImage(e.dataTransfer.files[0]);
  });

  $("job-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("form-error").textContent = "";
    if (!imageFile) {
      $("form-error").textContent = "Choose an image first.";
      return;
    }
    const button = $("submit");
    button.disabled = true;
    try {
      await submit(buildRequest(base64(await imageFile.arrayBuffer())));
    } catch (error) {
      showError(error, $("form-error"));
    } finally {
      button.disabled = false;
    }
  });
}

let imageFile = null;

function takeImage(file) {
  if (!file) return;
  imageFile = file;
  const preview = $("image-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $("drop-text").hidden = true;
  if (!$("display-name").value) $("display-name").placeholder = file.name.replace(/\.[^.]+$/, "");
}

function buildRequest(image) {
  const request = { image, displayName: $("display-name").value.trim() || $("display-name").placeholder || "asset" };
  const exportOptions = { container: $("container").value };
  const put = (object, key, value) => {
    if (value !== "" && value != null) object[key] = value;
  };
  put(request, "backend", $("backend").value);
  put(request, "pipelineType", $("pipeline").value);
  put(request, "seed", $("seed").value);
  put(request, "priority", Number($("priority").value || 0));
  put(exportOptions, "textureSize", $("texture-size").value && Number($("texture-size").value));
  put(exportOptions, "textureFormat", $("texture-format").value);
  put(exportOptions, "profile", $("profile").value);
  put(exportOptions, "decimationTarget", $("decimation").value && Number($("decimation").value));
  if ($("normal-map").checked) exportOptions.normalMap = true;
  request.exportOptions = exportOptions;
  for (const [prefix, key] of [["ss", "sparseStructureSampler"], ["shape", "shapeSlatSampler"], ["tex", "texSlatSampler"]]) {
    const sampler = {};
    put(sampler, "steps", $(`${prefix}-steps`).value && Number($(`${prefix}-steps`).value));
    put(sampler, "guidanceStrength", $(`${prefix}-guidance`).value && Number($(`${prefix}-guidance`).value));
    if (Object.keys(sampler).length) request[key] = sampler;
  }
  return request;
}
