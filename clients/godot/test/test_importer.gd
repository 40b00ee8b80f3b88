# SPDX-License-Identifier: MIT
extends Trellis2TestCase
## Import planning (importer.gd): file layout, materials, .import settings. Pure logic.

const DIR: String = "res://generated/disc"
const GLTF_JSON: String = """{
"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
"nodes": [{"name": "geometry.0", "mesh": 0}],
"materials": [{"name": "material_0", "alphaMode": "BLEND", "doubleSided": true,
	"pbrMetallicRoughness": {"baseColorTexture": {"index": 0},
		"metallicRoughnessTexture": {"index": 1}, "metallicFactor": 1, "roughnessFactor": 0.8},
	"normalTexture": {"index": 2, "scale": 1}}],
"textures": [{"extensions": {"EXT_texture_webp": {"source": 0}}},
	{"extensions": {"EXT_texture_webp": {"source": 1}}},
	{"extensions": {"EXT_texture_webp": {"source": 2}}}],
"images": [{"uri": "disc_basecolor.webp"}, {"uri": "disc_mr.webp"}, {"uri": "disc_normal.webp"}],
"buffers": [{"uri": "disc.bin"}]
}"""


func _artifact(filename: String, kind: String) -> Trellis2JobModel.Artifact:
	var artifact := Trellis2JobModel.Artifact.new()
	artifact.filename = filename
	artifact.kind = kind
	artifact.digest = filename.sha256_text()
	return artifact


func _artifacts() -> Array:
	return [
		_artifact("disc.gltf", "ARTIFACT_KIND_ASSET"),
		_artifact("disc.bin", "ARTIFACT_KIND_ASSET_PART"),
		_artifact("disc_basecolor.webp", "ARTIFACT_KIND_ASSET_PART"),
		_artifact("disc_mr.webp", "ARTIFACT_KIND_ASSET_PART"),
		_artifact("disc_normal.webp", "ARTIFACT_KIND_ASSET_PART"),
		_artifact("disc_orm.png", "ARTIFACT_KIND_EXTRA_TEXTURE"),
		_artifact("preview.glb", "ARTIFACT_KIND_PREVIEW"),
		_artifact("thumb.png", "ARTIFACT_KIND_THUMBNAIL"),
	]


func _plan(options: Dictionary) -> Dictionary:
	var files: Array[Dictionary] = Trellis2Importer.plan_downloads(_artifacts(), DIR)
	return Trellis2Importer.plan_import(
		"disc", DIR, files, JSON.parse_string(GLTF_JSON), "BLEND", options
	)


func test_safe_name_keeps_file_system_friendly_characters() -> void:
	assert_eq(Trellis2Importer.safe_name("My Robot.v2!"), "my_robot_v2", "cleaned")
	assert_eq(Trellis2Importer.safe_name("???"), "asset", "fallback")


func test_downloads_skip_previews_and_neutralise_unsafe_names() -> void:
	var unsafe := _artifact("../../project.godot", "ARTIFACT_KIND_ASSET_PART")
	var files: Array[Dictionary] = Trellis2Importer.plan_downloads(_artifacts() + [unsafe], DIR)
	var paths: Array = files.map(func(f: Dictionary) -> String: return f["path"])
	assert_eq(paths.size(), 7, "previews and thumbnails skipped")
	assert_has(paths, DIR + "/disc_orm.png", "orm kept")
	for path: String in paths:
		assert_true(path.begins_with(DIR + "/") and not ".." in path, "inside the folder: " + path)


func test_plan_writes_texture_imports_materials_scene_import_and_inherited_scene() -> void:
	var plan: Dictionary = _plan({"collision": "convex", "generate_lods": true})
	var files: Dictionary = plan["files"]
	assert_eq(plan["scene_path"], DIR + "/disc.gltf", "scene")
	assert_eq(plan["open_path"], DIR + "/disc.tscn", "opens the inherited scene")
	for name: String in ["disc_basecolor.webp", "disc_mr.webp", "disc_normal.webp", "disc_orm.png"]:
		assert_true(files.has(DIR + "/" + name + ".import"), name + " gets an .import")
	assert_true(files.has(DIR + "/materials/material_0.tres"), "material file")
	assert_true(files.has(DIR + "/disc.gltf.import"), "scene import")
	assert_eq(plan["warnings"], [], "no warnings")
	assert_has(plan["reimport"], DIR + "/disc.gltf", "scene reimported on repeat imports")
	assert_eq(plan["copies"].size(), 6, "every delivered file is copied in from the cache")
	assert_eq(plan["copies"].back()["to"], DIR + "/disc.gltf", "the scene source lands last")
	assert_true(str(plan["copies"][0]["from"]).begins_with("user://"), "staged outside res://")


func test_normal_map_texture_is_imported_as_a_normal_map() -> void:
	var files: Dictionary = _plan({})["files"]
	var normal := ConfigFile.new()
	normal.parse(files[DIR + "/disc_normal.webp.import"])
	assert_eq(normal.get_value("params", "compress/normal_map"), 1, "normal map enabled")
	var color := ConfigFile.new()
	color.parse(files[DIR + "/disc_basecolor.webp.import"])
	assert_eq(color.get_value("params", "compress/normal_map"), 2, "colour is not a normal map")
	assert_eq(color.get_value("params", "compress/mode"), 2, "VRAM compressed")
	assert_eq(color.get_value("remap", "importer"), "texture", "texture importer")


func test_material_uses_orm_channels_normal_map_and_alpha_mode() -> void:
	var props: Dictionary = Trellis2Importer.material_properties(
		JSON.parse_string(GLTF_JSON),
		JSON.parse_string(GLTF_JSON)["materials"][0],
		DIR,
		DIR + "/disc_orm.png",
		"OPAQUE"
	)
	assert_eq(props["albedo_texture"], DIR + "/disc_basecolor.webp", "albedo")
	assert_eq(props["metallic_texture"], DIR + "/disc_orm.png", "metallic from ORM")
	assert_eq(props["metallic_texture_channel"], 2, "metallic in blue")
	assert_eq(props["roughness_texture_channel"], 1, "roughness in green")
	assert_eq(props["ao_texture_channel"], 0, "occlusion in red")
	assert_true(props["ao_enabled"] and props["normal_enabled"], "AO and normal map on")
	assert_eq(props["transparency"], 4, "BLEND → alpha with depth pre-pass")
	assert_eq(props["cull_mode"], 2, "double sided")
	assert_almost_eq(props["roughness"], 0.8, 1e-6, "roughness factor")


func test_mask_alpha_uses_scissor_with_the_cutoff() -> void:
	var material := {"alphaMode": "MASK", "alphaCutoff": 0.3}
	var props: Dictionary = Trellis2Importer.material_properties({}, material, DIR, "", "OPAQUE")
	assert_eq(props["transparency"], 2, "alpha scissor")
	assert_almost_eq(props["alpha_scissor_threshold"], 0.3, 1e-6, "cutoff")
	assert_false(props.has("metallic_texture"), "no packed texture without ORM or MR")


func test_material_tres_is_a_standard_material_with_shared_orm_resource() -> void:
	var text: String = _plan({})["files"][DIR + "/materials/material_0.tres"]
	assert_true(text.begins_with('[gd_resource type="StandardMaterial3D"'), "resource type")
	assert_eq(text.count('path="%s/disc_orm.png"' % DIR), 1, "ORM referenced once")
	assert_true(text.contains("metallic_texture_channel = 2"), "channel written")
	assert_true(text.contains("transparency = 4"), "alpha mode written")
	assert_true(text.contains("albedo_color = Color(1.0, 1.0, 1.0, 1.0)"), "colour factor")


func test_scene_import_binds_materials_lods_and_collision_on_the_mesh_node() -> void:
	var config := ConfigFile.new()
	config.parse(
		_plan({"collision": "trimesh", "generate_lods": false})["files"][DIR + "/disc.gltf.import"]
	)
	assert_eq(config.get_value("remap", "importer"), "scene", "scene importer")
	assert_eq(config.get_value("params", "meshes/generate_lods"), false, "LODs off on request")
	var sub: Dictionary = config.get_value("params", "_subresources")
	var material: Dictionary = sub["materials"]["material_0"]
	assert_eq(material["use_external/enabled"], true, "external material")
	assert_eq(material["use_external/path"], DIR + "/materials/material_0.tres", "its path")
	var node: Dictionary = sub["nodes"]["PATH:geometry0"]
	assert_eq([node["generate/physics"], node["physics/shape_type"]], [true, 2], "trimesh body")


func test_no_collision_requested_means_no_node_settings() -> void:
	var config := ConfigFile.new()
	config.parse(_plan({"collision": "none"})["files"][DIR + "/disc.gltf.import"])
	assert_false(config.get_value("params", "_subresources").has("nodes"), "no physics")


func test_glb_json_chunk_is_read_from_the_binary_container() -> void:
	var json: PackedByteArray = '{"asset":{"version":"2.0"}}  '.to_utf8_buffer()
	var glb := PackedByteArray()
	glb.resize(20)
	glb.encode_u32(0, 0x46546C67)
	glb.encode_u32(4, 2)
	glb.encode_u32(8, 20 + json.size())
	glb.encode_u32(12, json.size())
	glb.encode_u32(16, 0x4E4F534A)
	glb.append_array(json)
	assert_eq(Trellis2Importer.read_glb_json(glb)["asset"]["version"], "2.0", "parsed")
	assert_eq(Trellis2Importer.read_glb_json(PackedByteArray([1, 2, 3])), {}, "not a glb")


func test_glb_without_external_textures_lets_godot_extract_materials() -> void:
	var files: Array[Dictionary] = Trellis2Importer.plan_downloads(
		[_artifact("disc.glb", "ARTIFACT_KIND_ASSET")], DIR
	)
	var plan: Dictionary = Trellis2Importer.plan_import(
		"disc", DIR, files, JSON.parse_string(GLTF_JSON), "OPAQUE", {}
	)
	var config := ConfigFile.new()
	config.parse(plan["files"][DIR + "/disc.glb.import"])
	assert_eq(config.get_value("params", "materials/extract"), 1, "extract once")
	assert_eq(
		config.get_value("params", "materials/extract_path"), DIR + "/materials", "into materials/"
	)
	assert_false(plan["files"].has(DIR + "/materials/material_0.tres"), "no hand-made material")


func test_plan_for_a_real_server_answer_uses_its_orm_and_names() -> void:
	var folder: String = "res://test/fixtures/server_preview/"
	var event := Trellis2JobModel.parse_event(
		JSON.parse_string(FileAccess.get_file_as_string(folder + "completed_event.json"))
	)
	var gltf: Dictionary = JSON.parse_string(
		FileAccess.get_file_as_string(folder + "fixture_disc.gltf.json")
	)
	var files: Array[Dictionary] = Trellis2Importer.plan_downloads(event.artifacts, DIR)
	var plan: Dictionary = Trellis2Importer.plan_import(
		"fixture_disc", DIR, files, gltf, event.stats.alpha_mode, {"collision": "convex"}
	)
	assert_eq(plan["scene_path"], DIR + "/fixture_disc.gltf", "main asset")
	assert_eq(plan["warnings"], [], "no warnings")
	var tres: String = plan["files"][DIR + "/materials/material.tres"]
	assert_true(tres.contains('path="%s/fixture_disc_orm.png"' % DIR), "ORM bound")
	assert_true(tres.contains('path="%s/fixture_disc_basecolor.webp"' % DIR), "albedo bound")
	assert_true(tres.contains("transparency = 0"), "opaque")
	var config := ConfigFile.new()
	config.parse(plan["files"][DIR + "/fixture_disc.gltf.import"])
	var sub: Dictionary = config.get_value("params", "_subresources")
	assert_true(sub["nodes"].has("PATH:fixture_disc"), "collision on the mesh node")
	assert_true(plan["files"].has(DIR + "/fixture_disc_orm.png.import"), "ORM texture import")


func test_collision_is_checked_after_import_only_when_it_could_be_set_up() -> void:
	assert_true(_plan({"collision": "convex"})["expect_collision"], "convex requested")
	assert_false(_plan({"collision": "none"})["expect_collision"], "none requested")
	var gltf: Dictionary = JSON.parse_string(GLTF_JSON)
	gltf["nodes"][0].erase("name")
	var files: Array[Dictionary] = Trellis2Importer.plan_downloads(_artifacts(), DIR)
	var plan: Dictionary = Trellis2Importer.plan_import(
		"disc", DIR, files, gltf, "OPAQUE", {"collision": "trimesh"}
	)
	assert_false(plan["expect_collision"], "no named node: nothing to check")
	assert_eq(plan["warnings"].size(), 1, "the dock is told why")
