# SPDX-License-Identifier: MIT
@tool
extends VBoxContainer
## The TRELLIS.2 dock (UI only): pick an image, set options, Generate/Cancel, watch progress
## and the coarse preview, browse the job history and re-import or regenerate.
##
## All work happens in [Trellis2JobRunner]; this script turns its signals into labels and
## the user's clicks into runner calls. [method start] is called by the plugin, so opening
## dock.tscn in the editor does not start anything.

#region Constants
const RESOLUTIONS: Array = [
	["Server default", "PIPELINE_TYPE_UNSPECIFIED"],
	["512", "PIPELINE_TYPE_512"],
	["1024", "PIPELINE_TYPE_1024"],
	["1024 cascade", "PIPELINE_TYPE_1024_CASCADE"],
	["1536 cascade", "PIPELINE_TYPE_1536_CASCADE"],
]
const TEXTURE_SIZES: Array[int] = [512, 1024, 2048, 4096]
const TEXTURE_FORMATS: PackedStringArray = ["webp", "png"]
const ERROR_COLOR: Color = Color(1.0, 0.45, 0.4)
#endregion

#region Private Variables
var _runner: Trellis2JobRunner = null
var _dialog: EditorFileDialog = null
var _current_job: String = ""
var _team_jobs: Dictionary = {}
var _preview_3d: Trellis2PreviewView = null

@onready var _image_path: LineEdit = %ImagePath
@onready var _asset_name: LineEdit = %AssetName
@onready var _resolution: OptionButton = %Resolution
@onready var _seed: SpinBox = %Seed
@onready var _texture_size: OptionButton = %TextureSize
@onready var _decimation: SpinBox = %Decimation
@onready var _texture_format: OptionButton = %TextureFormat
@onready var _collision: OptionButton = %Collision
@onready var _target_folder: LineEdit = %TargetFolder
@onready var _generate: Button = %Generate
@onready var _cancel: Button = %Cancel
@onready var _progress: ProgressBar = %Progress
@onready var _status: Label = %Status
@onready var _preview: TextureRect = %Preview
@onready var _history: ItemList = %History
#endregion


#region Private Functions
func _can_drop_data(_at_position: Vector2, data: Variant) -> bool:
	return not _first_image(data).is_empty()


func _drop_data(_at_position: Vector2, data: Variant) -> void:
	_image_path.text = _first_image(data)


func _first_image(data: Variant) -> String:
	if not data is Dictionary or data.get("type", "") != "files":
		return ""
	for path: String in data.get("files", []):
		if path.get_extension().to_lower() in Trellis2JobRunner.IMAGE_EXTENSIONS:
			return path
	return ""


func _fill_options() -> void:
	var defaults: Dictionary = Trellis2Settings.defaults()
	_resolution.clear()
	for entry: Array in RESOLUTIONS:
		_resolution.add_item(entry[0])
		if entry[1] == defaults["pipeline_type"]:
			_resolution.select(_resolution.item_count - 1)
	_texture_size.clear()
	for edge: int in TEXTURE_SIZES:
		_texture_size.add_item(str(edge))
		if edge == defaults["texture_size"]:
			_texture_size.select(_texture_size.item_count - 1)
	_texture_format.clear()
	for format: String in TEXTURE_FORMATS:
		_texture_format.add_item(format.to_upper())
		if format == defaults["texture_format"]:
			_texture_format.select(_texture_format.item_count - 1)
	_collision.clear()
	for mode: String in Trellis2Settings.COLLISION_MODES:
		_collision.add_item(mode.capitalize())
		if mode == defaults["collision"]:
			_collision.select(_collision.item_count - 1)
	_decimation.value = defaults["decimation_target"]
	_target_folder.text = Trellis2Settings.target_folder()


## Greys out the pipeline types the server did not load (it refuses them); a selection that
## became unavailable falls back to "Server default".
func _offer_server_pipeline_types() -> void:
	var result: Trellis2Client.Result = await _runner.fetch_server_info()
	if not result.ok or not result.value is Dictionary:
		return  # unreachable server: keep every type; Generate reports the connection error
	var accepted: PackedStringArray = Trellis2JobModel.accepted_pipeline_types(result.value)
	if accepted.is_empty():
		return
	for index: int in RESOLUTIONS.size():
		var type_name: String = RESOLUTIONS[index][1]
		var unavailable: bool = (
			type_name != "PIPELINE_TYPE_UNSPECIFIED" and not type_name in accepted
		)
		_resolution.set_item_disabled(index, unavailable)
	if _resolution.is_item_disabled(maxi(_resolution.selected, 0)):
		_resolution.select(0)


func _options() -> Dictionary:
	var folder: String = _target_folder.text.strip_edges()
	return {
		"display_name": Trellis2Importer.safe_name(_asset_name.text) if _asset_name.text else "",
		"pipeline_type": RESOLUTIONS[maxi(_resolution.selected, 0)][1],
		"seed": int(_seed.value),
		"texture_size": TEXTURE_SIZES[maxi(_texture_size.selected, 0)],
		"decimation_target": int(_decimation.value),
		"texture_format": TEXTURE_FORMATS[maxi(_texture_format.selected, 0)],
		"collision": Trellis2Settings.COLLISION_MODES[maxi(_collision.selected, 0)],
		"generate_lods": Trellis2Settings.defaults()["generate_lods"],
		"target_folder": folder if folder.begins_with("res://") else "res://generated",
		"container": "gltf",
		"normal_map": true,
	}


func _set_status(text: String, is_error: bool = false) -> void:
	_status.text = text
	if is_error:
		_status.add_theme_color_override("font_color", ERROR_COLOR)
	else:
		_status.remove_theme_color_override("font_color")


func _set_running(job_name: String) -> void:
	_current_job = job_name
	_generate.disabled = not job_name.is_empty()
	_cancel.disabled = job_name.is_empty()


func _refresh_history() -> void:
	_history.clear()
	_team_jobs.clear()
	for record: Dictionary in _runner.records():
		var state: String = str(record["state"]).trim_prefix("JOB_STATE_").to_lower()
		var line: String = "%s — %s" % [record["display_name"], state]
		if not str(record.get("message", "")).is_empty() and record["message"] != "Imported.":
			line += " — " + str(record["message"])
		_history.add_item(line)
		_history.set_item_metadata(_history.item_count - 1, record["job_name"])
		_history.set_item_tooltip(_history.item_count - 1, str(record["job_name"]))


func _selected_job() -> String:
	var selected: PackedInt32Array = _history.get_selected_items()
	return "" if selected.is_empty() else str(_history.get_item_metadata(selected[0]))


func _on_browse() -> void:
	if _dialog == null:
		_dialog = EditorFileDialog.new()
		_dialog.file_mode = EditorFileDialog.FILE_MODE_OPEN_FILE
		_dialog.access = EditorFileDialog.ACCESS_FILESYSTEM
		_dialog.filters = PackedStringArray(["*.png, *.jpg, *.jpeg, *.webp ; Images"])
		_dialog.file_selected.connect(func(path: String) -> void: _image_path.text = path)
		add_child(_dialog)
	_dialog.popup_centered_ratio(0.6)


func _on_generate() -> void:
	_set_running("pending")
	_preview.texture = null
	_preview_3d.clear()
	_preview_3d.visible = false
	_preview.visible = true
	_progress.value = 0.0
	_set_status("Sending the image ...")
	var error: String = await _runner.generate(_image_path.text.strip_edges(), _options())
	if not error.is_empty():
		_set_running("")
		_set_status(error, true)


func _on_cancel() -> void:
	if _current_job.is_empty() or _current_job == "pending":
		return
	_set_status("Canceling ...")
	var error: String = await _runner.cancel(_current_job)
	if not error.is_empty():
		_set_status(error, true)


func _on_status(job_name: String, text: String) -> void:
	if job_name.is_empty() or job_name == _current_job or _current_job == "pending":
		_set_status(text)


func _on_progress(job_name: String, stage: String, fraction: float, eta: float) -> void:
	if _current_job.is_empty() or _current_job == "pending":
		_set_running(job_name)  # a reattached job, or the one just submitted
	if job_name != _current_job:
		return
	_progress.value = fraction
	var text: String = "%s — %d%%" % [stage.replace("_", " "), int(fraction * 100.0)]
	if eta >= 0.0:
		text += " — about %d s left" % int(ceil(eta))
	_set_status(text)


func _on_preview(job_name: String, texture: Texture2D) -> void:
	if job_name == _current_job or _current_job == "pending":
		_preview.texture = texture
		_preview.visible = not _preview_3d.visible


func _on_preview_model(job_name: String, glb: PackedByteArray) -> void:
	if job_name == _current_job or _current_job == "pending":
		_preview_3d.visible = _preview_3d.show_glb(glb)
		_preview.visible = not _preview_3d.visible


func _on_finished(job_name: String, ok: bool, message: String) -> void:
	if job_name == _current_job or _current_job == "pending":
		_set_running("")
		_progress.value = 1.0 if ok else _progress.value
	_set_status(message, not ok)
	_refresh_history()


func _on_reimport() -> void:
	var job_name: String = _selected_job()
	if job_name.is_empty():
		_set_status("Select a job in the history first.", true)
		return
	if _team_jobs.has(job_name):
		_runner.adopt(_team_jobs[job_name], _options())
	_set_status("Re-importing ...")
	await _runner.reimport(job_name)


func _on_regenerate() -> void:
	var job_name: String = _selected_job()
	if job_name.is_empty():
		_set_status("Select a job in the history first.", true)
		return
	_set_running("pending")
	var error: String = await _runner.regenerate(job_name)
	if not error.is_empty():
		_set_running("")
		_set_status(error, true)


func _on_team_history() -> void:
	_set_status("Fetching the team's jobs ...")
	var result: Trellis2Client.Result = await _runner.fetch_team_history()
	if not result.ok:
		_set_status(result.message(), true)
		return
	_history.clear()
	_team_jobs.clear()
	for job: Trellis2JobModel.Job in result.value:
		var state: String = job.state.trim_prefix("JOB_STATE_").to_lower()
		_history.add_item("[%s] %s — %s" % [job.team, job.display_name, state])
		_history.set_item_metadata(_history.item_count - 1, job.name)
		_team_jobs[job.name] = job
	_set_status("%d team jobs. Select one and press Re-import to bring it in." % _team_jobs.size())


#endregion


#region Public Functions
## Creates the runner, wires the UI and reattaches to unfinished jobs (called by the plugin).
func start() -> void:
	_runner = Trellis2JobRunner.new()
	_runner.name = "Trellis2JobRunner"
	add_child(_runner)
	_fill_options()
	_preview_3d = Trellis2PreviewView.new()
	_preview_3d.visible = false
	add_child(_preview_3d)
	move_child(_preview_3d, _preview.get_index() + 1)
	# Children that stop the mouse (the path field, the preview) forward FileSystem drops here.
	for target: Control in [_image_path, _preview]:
		target.set_drag_forwarding(Callable(), _can_drop_data, _drop_data)
	%Browse.pressed.connect(_on_browse)
	_generate.pressed.connect(_on_generate)
	_cancel.pressed.connect(_on_cancel)
	%Reimport.pressed.connect(_on_reimport)
	%Regenerate.pressed.connect(_on_regenerate)
	%TeamHistory.pressed.connect(_on_team_history)
	_runner.job_submitted.connect(_set_running)
	_runner.status_changed.connect(_on_status)
	_runner.progress_changed.connect(_on_progress)
	_runner.preview_ready.connect(_on_preview)
	_runner.preview_model_ready.connect(_on_preview_model)
	_runner.job_finished.connect(_on_finished)
	_runner.history_changed.connect(_refresh_history)
	_refresh_history()
	_offer_server_pipeline_types()
	_runner.reattach_all()

#endregion
