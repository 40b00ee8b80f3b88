# SPDX-License-Identifier: MIT
@tool
class_name Trellis2Importer
extends RefCounted
## Turns a finished job's files into a Godot scene with StandardMaterial3D materials.
##
## Layout under [code]<target>/<name>/[/code] for the glTF container the addon asks for:
## [br]- [code]<name>.gltf[/code], its [code].bin[/code] and texture images (as delivered), each
## texture with a written [code].import[/code] (VRAM compressed, mipmaps, normal map flagged);
## [br]- [code]<name>_orm.png[/code]: the server's ORM packing (R occlusion, G roughness,
## B metallic);
## [br]- [code]materials/<material>.tres[/code]: StandardMaterial3D using the base colour,
## the ORM texture for AO/roughness/metallic channels, the normal map and the asset's alpha mode;
## [br]- [code]<name>.gltf.import[/code]: scene import settings binding those materials
## ([code]_subresources[/code]), generating LODs and an optional collision shape;
## [br]- [code]<name>.tscn[/code]: a scene inheriting the imported one, which opens when done.
## [br]The planning functions are pure (tested without the editor); [method apply] writes the
## plan, lets [EditorFileSystem] import it and opens the scene.

#region Constants
const TRANSPARENCY_DISABLED: int = 0
const TRANSPARENCY_ALPHA_SCISSOR: int = 2
const TRANSPARENCY_ALPHA_DEPTH_PRE_PASS: int = 4
const CULL_DISABLED: int = 2
const CHANNEL_RED: int = 0
const CHANNEL_GREEN: int = 1
const CHANNEL_BLUE: int = 2
## physics/shape_type values of the scene importer.
const SHAPE_TYPES: Dictionary = {"convex": 1, "trimesh": 2}
const SKIPPED_KINDS: PackedStringArray = ["ARTIFACT_KIND_PREVIEW", "ARTIFACT_KIND_THUMBNAIL"]
#endregion


#region Private Functions
static func _texture_uri(gltf: Dictionary, info: Variant) -> String:
	if not info is Dictionary or not info.has("index"):
		return ""
	var textures: Array = gltf.get("textures", [])
	var index: int = int(info["index"])
	if index < 0 or index >= textures.size():
		return ""
	var texture: Dictionary = textures[index]
	var source: int = int(texture.get("source", -1))
	var extensions: Dictionary = texture.get("extensions", {})
	for ext: String in ["EXT_texture_webp", "KHR_texture_basisu"]:
		if extensions.has(ext):
			source = int(extensions[ext].get("source", source))
	var images: Array = gltf.get("images", [])
	if source < 0 or source >= images.size():
		return ""
	return str(images[source].get("uri", ""))


static func _has_collision(scene_path: String) -> bool:
	var packed := (
		ResourceLoader.load(scene_path, "", ResourceLoader.CACHE_MODE_IGNORE) as PackedScene
	)
	if packed == null:
		return false
	var root: Node = packed.instantiate()
	var found: bool = not root.find_children("*", "CollisionShape3D", true, false).is_empty()
	root.free()
	return found


static func _write_text(path: String, text: String) -> String:
	DirAccess.make_dir_recursive_absolute(ProjectSettings.globalize_path(path.get_base_dir()))
	var file := FileAccess.open(path, FileAccess.WRITE)
	if file == null:
		return (
			"Cannot write %s (%s). Check the target folder in the dock."
			% [path, error_string(FileAccess.get_open_error())]
		)
	file.store_string(text)
	file.close()
	return ""


static func _fmt(value: float) -> String:
	var text: String = "%.6f" % value
	text = text.rstrip("0")
	return text + "0" if text.ends_with(".") else text


static func _color(values: Array) -> String:
	var c: Array = values if values.size() == 4 else [1.0, 1.0, 1.0, 1.0]
	return "Color(%s, %s, %s, %s)" % [_fmt(c[0]), _fmt(c[1]), _fmt(c[2]), _fmt(c[3])]


static func _mesh_node_paths(gltf: Dictionary) -> PackedStringArray:
	var paths := PackedStringArray()
	var nodes: Array = gltf.get("nodes", [])
	var scenes: Array = gltf.get("scenes", [])
	var roots: Array = []
	if not scenes.is_empty():
		roots = scenes[int(gltf.get("scene", 0))].get("nodes", [])
	var stack: Array = []
	for root: Variant in roots:
		stack.append([int(root), ""])
	while not stack.is_empty():
		var item: Array = stack.pop_front()
		if item[0] < 0 or item[0] >= nodes.size():
			continue
		var node: Dictionary = nodes[item[0]]
		var name: String = node_name(str(node.get("name", "")))
		if name.is_empty():
			continue
		var path: String = name if item[1].is_empty() else item[1] + "/" + name
		if node.has("mesh"):
			paths.append(path)
		for child: Variant in node.get("children", []):
			stack.append([int(child), path])
	return paths


#endregion


#region Public Functions
## A file-system-safe asset name from the job's display name (lowercase, [a-z0-9_-]).
static func safe_name(display_name: String) -> String:
	var out: String = ""
	for ch: String in display_name.strip_edges().to_lower():
		if (ch >= "a" and ch <= "z") or (ch >= "0" and ch <= "9") or ch == "-" or ch == "_":
			out += ch
		elif ch == " " or ch == ".":
			out += "_"
	out = out.strip_edges().trim_prefix("_").trim_suffix("_")
	return out.substr(0, 64) if not out.is_empty() else "asset"


## A node name as Godot's glTF importer writes it (characters . : @ / " % removed).
static func node_name(name: String) -> String:
	var out: String = name
	for ch: String in [".", ":", "@", "/", '"', "%"]:
		out = out.replace(ch, "")
	return out


## Where each delivered file goes: [code][{artifact, path, staged}][/code]: [code]path[/code] in
## the project, [code]staged[/code] in the download cache [param cache_dir] (by digest, outside
## res:// so the editor never imports a half-written file). Previews and thumbnails are skipped;
## file names that could escape the folder are replaced by the digest.
static func plan_downloads(
	artifacts: Array, asset_dir: String, cache_dir: String = "user://trellis2_cache"
) -> Array[Dictionary]:
	var out: Array[Dictionary] = []
	for artifact: Trellis2JobModel.Artifact in artifacts:
		if artifact.kind in SKIPPED_KINDS:
			continue
		var filename: String = artifact.filename
		if (
			filename.is_empty()
			or filename != filename.validate_filename()
			or filename.begins_with(".")
		):
			filename = artifact.digest.substr(0, 16) + "." + filename.get_extension()
		(
			out
			. append(
				{
					"artifact": artifact,
					"path": asset_dir.path_join(filename),
					"staged": cache_dir.path_join(artifact.digest),
				}
			)
		)
	return out


## The JSON chunk of a .glb file (an empty Dictionary if it is not one).
static func read_glb_json(glb: PackedByteArray) -> Dictionary:
	if glb.size() < 20 or glb.slice(0, 4).get_string_from_ascii() != "glTF":
		return {}
	var length: int = glb.decode_u32(12)
	if glb.decode_u32(16) != 0x4E4F534A or 20 + length > glb.size():
		return {}
	var parsed: Variant = JSON.parse_string(glb.slice(20, 20 + length).get_string_from_utf8())
	return parsed if parsed is Dictionary else {}


## The [code].import[/code] text of a texture: VRAM compressed with mipmaps; normal maps flagged.
static func texture_import_text(is_normal_map: bool) -> String:
	var config := ConfigFile.new()
	config.set_value("remap", "importer", "texture")
	config.set_value("remap", "type", "CompressedTexture2D")
	config.set_value("params", "compress/mode", 2)
	config.set_value("params", "compress/high_quality", false)
	config.set_value("params", "compress/normal_map", 1 if is_normal_map else 2)
	config.set_value("params", "mipmaps/generate", true)
	config.set_value("params", "process/normal_map_invert_y", false)
	config.set_value("params", "detect_3d/compress_to", 0)
	return config.encode_to_text()


## The properties of one glTF material as a StandardMaterial3D, with textures as res:// paths.
## [param orm_path] is the server's ORM texture (preferred for AO, roughness and metallic).
static func material_properties(
	gltf: Dictionary, material: Dictionary, asset_dir: String, orm_path: String, alpha_mode: String
) -> Dictionary:
	var pbr: Dictionary = material.get("pbrMetallicRoughness", {})
	var props := {}
	var mode: String = str(material.get("alphaMode", alpha_mode))
	if mode == "BLEND":
		props["transparency"] = TRANSPARENCY_ALPHA_DEPTH_PRE_PASS
	elif mode == "MASK":
		props["transparency"] = TRANSPARENCY_ALPHA_SCISSOR
		props["alpha_scissor_threshold"] = float(material.get("alphaCutoff", 0.5))
	else:
		props["transparency"] = TRANSPARENCY_DISABLED
	if bool(material.get("doubleSided", false)):
		props["cull_mode"] = CULL_DISABLED
	props["albedo_color"] = pbr.get("baseColorFactor", [1.0, 1.0, 1.0, 1.0])
	var albedo: String = _texture_uri(gltf, pbr.get("baseColorTexture"))
	if not albedo.is_empty():
		props["albedo_texture"] = asset_dir.path_join(albedo)
	props["metallic"] = float(pbr.get("metallicFactor", 1.0))
	props["roughness"] = float(pbr.get("roughnessFactor", 1.0))
	var packed: String = orm_path
	if packed.is_empty():
		var mr: String = _texture_uri(gltf, pbr.get("metallicRoughnessTexture"))
		packed = "" if mr.is_empty() else asset_dir.path_join(mr)
	if not packed.is_empty():
		props["metallic_texture"] = packed
		props["metallic_texture_channel"] = CHANNEL_BLUE
		props["roughness_texture"] = packed
		props["roughness_texture_channel"] = CHANNEL_GREEN
	if not orm_path.is_empty():
		props["ao_enabled"] = true
		props["ao_texture"] = orm_path
		props["ao_texture_channel"] = CHANNEL_RED
	var normal: String = _texture_uri(gltf, material.get("normalTexture"))
	if not normal.is_empty():
		props["normal_enabled"] = true
		props["normal_texture"] = asset_dir.path_join(normal)
		props["normal_scale"] = float(material.get("normalTexture", {}).get("scale", 1.0))
	return props


## A text resource (.tres) for a StandardMaterial3D with [param props].
static func material_tres_text(resource_name: String, props: Dictionary) -> String:
	var ext_ids := {}
	var ext_lines := PackedStringArray()
	var body := PackedStringArray(['resource_name = "%s"' % resource_name.c_escape()])
	for key: String in props:
		var value: Variant = props[key]
		if key.ends_with("_texture"):
			if not ext_ids.has(value):
				ext_ids[value] = "%d_tex" % (ext_ids.size() + 1)
				ext_lines.append(
					'[ext_resource type="Texture2D" path="%s" id="%s"]' % [value, ext_ids[value]]
				)
			body.append('%s = ExtResource("%s")' % [key, ext_ids[value]])
		elif value is Array:
			body.append("%s = %s" % [key, _color(value)])
		elif value is bool:
			body.append("%s = %s" % [key, "true" if value else "false"])
		elif value is float:
			body.append("%s = %s" % [key, _fmt(value)])
		else:
			body.append("%s = %s" % [key, str(value)])
	var head: String = (
		'[gd_resource type="StandardMaterial3D" load_steps=%d format=3]\n\n'
		% (ext_lines.size() + 1)
	)
	if not ext_lines.is_empty():
		head += "\n".join(ext_lines) + "\n\n"
	return head + "[resource]\n" + "\n".join(body) + "\n"


## The scene [code].import[/code] text: external materials, LODs, optional collision.
static func scene_import_text(
	root_name: String,
	material_paths: Dictionary,
	mesh_paths: PackedStringArray,
	options: Dictionary,
	extract_dir: String
) -> String:
	var config := ConfigFile.new()
	config.set_value("remap", "importer", "scene")
	config.set_value("remap", "importer_version", 1)
	config.set_value("remap", "type", "PackedScene")
	config.set_value("params", "nodes/root_name", root_name)
	config.set_value("params", "meshes/ensure_tangents", true)
	config.set_value("params", "meshes/generate_lods", bool(options.get("generate_lods", true)))
	config.set_value("params", "meshes/create_shadow_meshes", true)
	config.set_value("params", "meshes/light_baking", 1)
	# Without our own .tres files (a .glb with embedded textures), let Godot extract them once.
	config.set_value("params", "materials/extract", 0 if not material_paths.is_empty() else 1)
	config.set_value("params", "materials/extract_format", 0)
	config.set_value("params", "materials/extract_path", extract_dir)
	config.set_value("params", "gltf/embedded_image_handling", 1)
	var subresources := {}
	if not material_paths.is_empty():
		var materials := {}
		for name: String in material_paths:
			materials[name] = {
				"use_external/enabled": true, "use_external/path": material_paths[name]
			}
		subresources["materials"] = materials
	var shape: String = str(options.get("collision", "none"))
	if SHAPE_TYPES.has(shape) and not mesh_paths.is_empty():
		var nodes := {}
		for path: String in mesh_paths:
			nodes["PATH:" + path] = {
				"generate/physics": true, "physics/shape_type": SHAPE_TYPES[shape]
			}
		subresources["nodes"] = nodes
	config.set_value("params", "_subresources", subresources)
	return config.encode_to_text()


## A scene that inherits the imported asset (edit this one; re-imports flow into it).
static func inherited_scene_text(root_name: String, imported_path: String) -> String:
	return (
		(
			'[gd_scene load_steps=2 format=3]\n\n[ext_resource type="PackedScene" path="%s" id="1_asset"]'
			% imported_path
		)
		+ '\n\n[node name="%s" instance=ExtResource("1_asset")]\n' % root_name
	)


## Everything to write for one asset. [param files] is the plan_downloads output (already
## downloaded), [param gltf] the main file's JSON. Returns
## [code]{files: {path: text}, scene_path, open_path, reimport: [paths], warnings: [...]}[/code].
static func plan_import(
	name: String,
	asset_dir: String,
	files: Array[Dictionary],
	gltf: Dictionary,
	alpha_mode: String,
	options: Dictionary
) -> Dictionary:
	var out := {
		"files": {}, "copies": [], "scene_path": "", "open_path": "", "reimport": [], "warnings": []
	}
	var orm_path: String = ""
	for entry: Dictionary in files:
		var artifact: Trellis2JobModel.Artifact = entry["artifact"]
		if artifact.kind == "ARTIFACT_KIND_ASSET" and out["scene_path"] == "":
			out["scene_path"] = entry["path"]
		elif artifact.kind == "ARTIFACT_KIND_EXTRA_TEXTURE":
			if orm_path.is_empty() or "orm" in artifact.filename.to_lower():
				orm_path = entry["path"]
	if out["scene_path"] == "":
		out["warnings"].append("The job delivered no main asset file; regenerate it.")
		return out
	var scene_copy: Dictionary = {}
	for entry: Dictionary in files:
		var copy := {"from": str(entry.get("staged", entry["path"])), "to": entry["path"]}
		if entry["path"] == out["scene_path"]:
			scene_copy = copy
		elif copy["from"] != copy["to"]:
			out["copies"].append(copy)
	if scene_copy["from"] != scene_copy["to"]:
		out["copies"].append(scene_copy)
	var is_gltf: bool = str(out["scene_path"]).get_extension().to_lower() == "gltf"
	var normal_uris := {}
	for material: Dictionary in gltf.get("materials", []):
		var uri: String = _texture_uri(gltf, material.get("normalTexture"))
		if not uri.is_empty():
			normal_uris[uri] = true
	var texture_paths: Array = []
	if is_gltf:
		for image: Dictionary in gltf.get("images", []):
			var uri: String = str(image.get("uri", ""))
			if not uri.is_empty() and not uri.begins_with("data:"):
				texture_paths.append(asset_dir.path_join(uri))
				out["files"][asset_dir.path_join(uri) + ".import"] = texture_import_text(
					normal_uris.has(uri)
				)
	if not orm_path.is_empty():
		texture_paths.append(orm_path)
		out["files"][orm_path + ".import"] = texture_import_text(false)
	var material_paths := {}
	var materials: Array = gltf.get("materials", [])
	for index: int in range(materials.size()):
		var material: Dictionary = materials[index]
		var material_name: String = str(material.get("name", ""))
		if material_name.is_empty():
			material_name = "material_%d" % index
		if not is_gltf:
			continue  # embedded textures: Godot extracts the materials itself
		var path: String = asset_dir.path_join("materials").path_join(
			safe_name(material_name) + ".tres"
		)
		var props: Dictionary = material_properties(gltf, material, asset_dir, orm_path, alpha_mode)
		out["files"][path] = material_tres_text(material_name, props)
		material_paths[material_name] = path
	var mesh_paths: PackedStringArray = _mesh_node_paths(gltf)
	out["expect_collision"] = SHAPE_TYPES.has(str(options.get("collision", "none")))
	if out["expect_collision"] and mesh_paths.is_empty():
		out["warnings"].append("No named mesh node found: the collision shape was not set up.")
		out["expect_collision"] = false
	out["files"][str(out["scene_path"]) + ".import"] = scene_import_text(
		name, material_paths, mesh_paths, options, asset_dir.path_join("materials")
	)
	out["open_path"] = asset_dir.path_join(name + ".tscn")
	out["files"][out["open_path"]] = inherited_scene_text(name, out["scene_path"])
	out["reimport"] = texture_paths + [out["scene_path"]]
	return out


## Writes the plan, has the editor import it and opens the scene. Returns an error message
## ("" on success). Editor only.
func apply(plan: Dictionary) -> String:
	# Sources imported before need an explicit reimport to pick up the new .import settings.
	var existing := PackedStringArray()
	for path: String in plan["reimport"]:
		if FileAccess.file_exists(path + ".import"):
			existing.append(path)
	# Order matters if the editor scans midway: .import settings land before their sources,
	# textures before the materials that use them, the scene source last.
	var texts: Dictionary = plan["files"]
	var first: Array = texts.keys().filter(func(p: String) -> bool: return p.ends_with(".import"))
	var rest: Array = texts.keys().filter(
		func(p: String) -> bool: return not p.ends_with(".import")
	)
	for path: String in first:
		var error: String = _write_text(path, texts[path])
		if not error.is_empty():
			return error
	for copy: Dictionary in plan["copies"]:
		var target: String = ProjectSettings.globalize_path(copy["to"])
		DirAccess.make_dir_recursive_absolute(target.get_base_dir())
		var err: Error = DirAccess.copy_absolute(
			ProjectSettings.globalize_path(copy["from"]), target
		)
		if err != OK:
			return "Cannot copy %s (%s). Check the target folder." % [copy["to"], error_string(err)]
	for path: String in rest:
		var error: String = _write_text(path, texts[path])
		if not error.is_empty():
			return error
	var filesystem: EditorFileSystem = EditorInterface.get_resource_filesystem()
	var tree := Engine.get_main_loop() as SceneTree
	while filesystem.is_scanning():
		await tree.process_frame
	filesystem.scan()
	await tree.process_frame
	while filesystem.is_scanning():
		await tree.process_frame
	if not existing.is_empty():
		filesystem.reimport_files(existing)
	# The scene imports after the scan (textures first, then scenes); give it up to ~20 s.
	var deadline_ms: int = Time.get_ticks_msec() + 20000
	while not ResourceLoader.exists(plan["scene_path"]) and Time.get_ticks_msec() < deadline_ms:
		await tree.process_frame
	if not ResourceLoader.exists(plan["scene_path"]):
		return (
			"Godot could not import %s. Open it in the FileSystem dock to see the import error."
			% plan["scene_path"]
		)
	if plan.get("expect_collision", false) and not _has_collision(plan["scene_path"]):
		plan["warnings"].append(
			(
				"No collision shape was generated; add one in the Advanced Import Settings of %s."
				% plan["scene_path"].get_file()
			)
		)
	EditorInterface.open_scene_from_path(plan["open_path"])
	return ""

#endregion
