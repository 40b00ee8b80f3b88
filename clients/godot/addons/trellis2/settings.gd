# SPDX-License-Identifier: MIT
@tool
class_name Trellis2Settings
extends RefCounted
## The addon's settings: team values in ProjectSettings (saved in project.godot, shared through
## version control) and per-user values in EditorSettings (never in the project).
##
## Project: [code]trellis2/server/url[/code], [code]trellis2/server/trusted_ca_path[/code],
## [code]trellis2/import/target_folder[/code] and the generation defaults under
## [code]trellis2/defaults/...[/code]. User: [code]trellis2/api_key[/code] (the team server's
## API key; EditorSettings live in the user's editor config folder, so the key is never
## committed).

#region Constants
const SERVER_URL: String = "trellis2/server/url"
const TRUSTED_CA_PATH: String = "trellis2/server/trusted_ca_path"
const TARGET_FOLDER: String = "trellis2/import/target_folder"
const GENERATE_LODS: String = "trellis2/import/generate_lods"
const COLLISION: String = "trellis2/import/collision"
const TEXTURE_SIZE: String = "trellis2/defaults/texture_size"
const DECIMATION_TARGET: String = "trellis2/defaults/decimation_target"
const TEXTURE_FORMAT: String = "trellis2/defaults/texture_format"
const PIPELINE_TYPE: String = "trellis2/defaults/pipeline_type"
## Per user, in EditorSettings.
const API_KEY: String = "trellis2/api_key"

const COLLISION_MODES: PackedStringArray = ["none", "convex", "trimesh"]
const PIPELINE_TYPES: PackedStringArray = [
	"PIPELINE_TYPE_UNSPECIFIED",
	"PIPELINE_TYPE_512",
	"PIPELINE_TYPE_1024",
	"PIPELINE_TYPE_1024_CASCADE",
	"PIPELINE_TYPE_1536_CASCADE",
]
#endregion


#region Private Functions
static func _project_specs() -> Array[Dictionary]:
	var specs: Array[Dictionary] = [
		{
			"name": SERVER_URL,
			"type": TYPE_STRING,
			"value": "http://127.0.0.1:8080",
			"hint": PROPERTY_HINT_PLACEHOLDER_TEXT,
			"hint_string": "http(s)://host:port of the team's TRELLIS.2 server",
		},
		{
			"name": TRUSTED_CA_PATH,
			"type": TYPE_STRING,
			"value": "",
			"hint": PROPERTY_HINT_GLOBAL_FILE,
			"hint_string": "*.pem,*.crt",
		},
		{
			"name": TARGET_FOLDER,
			"type": TYPE_STRING,
			"value": "res://generated",
			"hint": PROPERTY_HINT_DIR,
			"hint_string": "",
		},
		{
			"name": GENERATE_LODS,
			"type": TYPE_BOOL,
			"value": true,
			"hint": PROPERTY_HINT_NONE,
			"hint_string": "",
		},
		{
			"name": COLLISION,
			"type": TYPE_STRING,
			"value": "none",
			"hint": PROPERTY_HINT_ENUM,
			"hint_string": ",".join(COLLISION_MODES),
		},
		{
			"name": TEXTURE_SIZE,
			"type": TYPE_INT,
			"value": 2048,
			"hint": PROPERTY_HINT_ENUM,
			"hint_string": "512:512,1024:1024,2048:2048,4096:4096",
		},
		{
			"name": DECIMATION_TARGET,
			"type": TYPE_INT,
			"value": 200000,
			"hint": PROPERTY_HINT_RANGE,
			"hint_string": "1000,2000000,1000",
		},
		{
			"name": TEXTURE_FORMAT,
			"type": TYPE_STRING,
			"value": "webp",
			"hint": PROPERTY_HINT_ENUM,
			"hint_string": "webp,png",
		},
		{
			"name": PIPELINE_TYPE,
			"type": TYPE_STRING,
			"value": "PIPELINE_TYPE_UNSPECIFIED",
			"hint": PROPERTY_HINT_ENUM,
			"hint_string": ",".join(PIPELINE_TYPES),
		},
	]
	return specs


#endregion


#region Public Functions
## Registers every setting with its type, hint and initial value. Writes project.godot only
## when a project setting was missing (first enable).
static func register() -> void:
	var changed: bool = false
	for spec: Dictionary in _project_specs():
		var name: String = spec["name"]
		if not ProjectSettings.has_setting(name):
			ProjectSettings.set_setting(name, spec["value"])
			changed = true
		ProjectSettings.set_initial_value(name, spec["value"])
		(
			ProjectSettings
			. add_property_info(
				{
					"name": name,
					"type": spec["type"],
					"hint": spec["hint"],
					"hint_string": spec["hint_string"],
				}
			)
		)
		ProjectSettings.set_as_basic(name, true)
	if changed:
		ProjectSettings.save()
	var editor: EditorSettings = EditorInterface.get_editor_settings()
	if not editor.has_setting(API_KEY):
		editor.set_setting(API_KEY, "")
	editor.set_initial_value(API_KEY, "", false)
	editor.add_property_info(
		{"name": API_KEY, "type": TYPE_STRING, "hint": PROPERTY_HINT_PASSWORD, "hint_string": ""}
	)


## The project's server URL.
static func server_url() -> String:
	return str(ProjectSettings.get_setting(SERVER_URL, "http://127.0.0.1:8080"))


static func trusted_ca_path() -> String:
	return str(ProjectSettings.get_setting(TRUSTED_CA_PATH, ""))


## The user's API key (EditorSettings; empty when the server needs none).
static func api_key() -> String:
	var editor: EditorSettings = EditorInterface.get_editor_settings()
	return str(editor.get_setting(API_KEY)) if editor.has_setting(API_KEY) else ""


## Where generated assets go (a res:// folder).
static func target_folder() -> String:
	return str(ProjectSettings.get_setting(TARGET_FOLDER, "res://generated"))


## Project defaults for the dock's fields.
static func defaults() -> Dictionary:
	return {
		"texture_size": int(ProjectSettings.get_setting(TEXTURE_SIZE, 2048)),
		"decimation_target": int(ProjectSettings.get_setting(DECIMATION_TARGET, 200000)),
		"texture_format": str(ProjectSettings.get_setting(TEXTURE_FORMAT, "webp")),
		"pipeline_type": str(ProjectSettings.get_setting(PIPELINE_TYPE, "")),
		"generate_lods": bool(ProjectSettings.get_setting(GENERATE_LODS, true)),
		"collision": str(ProjectSettings.get_setting(COLLISION, "none")),
	}

#endregion
