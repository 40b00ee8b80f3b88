# SPDX-License-Identifier: MIT
@tool
class_name Trellis2JobRunner
extends Node
## Runs jobs end to end for the dock: create → watch → download → import, persisting each step
## in the [Trellis2JobStore] so an editor restart reattaches with [code]after_seq[/code].
##
## The dock calls [method generate], [method cancel], [method reimport], [method regenerate] and
## [method reattach_all], and listens to the signals below; it never talks to the network.

#region Constants
const IMAGE_EXTENSIONS: PackedStringArray = ["png", "jpg", "jpeg", "webp"]
## Preview models larger than this are not downloaded for the dock's 3D view, in bytes.
const MAX_PREVIEW_MODEL_BYTES: int = 16 * 1024 * 1024
## Verified downloads by digest (per project, outside res://); copied into the project on import.
const DOWNLOAD_CACHE: String = "user://trellis2_cache"
#endregion

#region Signals
## A one-line state for the job's row ("Queued (3rd)", "shape_slat 40%", "Importing ...").
signal status_changed(job_name: String, text: String)
## Progress in [0, 1] with the pipeline stage; [param eta_seconds] < 0 when unknown.
signal progress_changed(job_name: String, stage: String, fraction: float, eta_seconds: float)
## The coarse preview's thumbnail.
signal preview_ready(job_name: String, texture: Texture2D)
## A preview model (.glb bytes: coarse voxels first, then the untextured mesh).
signal preview_model_ready(job_name: String, glb: PackedByteArray)
## The job ended: imported ([param ok]) or not, with a message that says what to do.
signal job_finished(job_name: String, ok: bool, message: String)
## A job was accepted by the server (follow its progress under this name).
signal job_submitted(job_name: String)
## The local job list changed.
signal history_changed
#endregion

#region Private Variables
var _client: Trellis2Client
var _store: Trellis2JobStore
var _importer := Trellis2Importer.new()
var _busy_imports: Dictionary = {}
var _downloading_job: String = ""
#endregion


#region Private Functions
func _ready() -> void:
	if _store == null:
		_store = Trellis2JobStore.new(default_store_path())
		_store.load_records()
	_client = Trellis2Client.new()
	_client.name = "Trellis2Client"
	add_child(_client)
	_client.job_progressed.connect(_on_progress)
	_client.job_queued.connect(
		func(job: String, position: int) -> void:
			status_changed.emit(job, "Queued (#%d)" % position)
	)
	_client.job_preview_ready.connect(_on_preview)
	_client.job_event_received.connect(_on_event)
	_client.watch_interrupted.connect(
		func(job: String, why: String, wait_s: float) -> void:
			status_changed.emit(job, "Connection lost (%s); retrying in %d s" % [why, int(wait_s)])
	)
	_client.download_progressed.connect(
		func(_digest: String, received: int, total: int) -> void:
			if total > 0:
				var percent: int = int(100.0 * received / total)
				status_changed.emit(_downloading_job, "Downloading %d%%" % percent)
	)


func _configure() -> void:
	_client.server_url = Trellis2Settings.server_url()
	_client.api_key = Trellis2Settings.api_key()
	_client.trusted_ca_path = Trellis2Settings.trusted_ca_path()


func _on_event(event: Trellis2JobModel.JobEvent) -> void:
	_store.note_event(event.job, event)
	if event.kind in ["completed", "failed", "canceled", "started"]:
		_store.save()
		history_changed.emit()


func _on_progress(job_name: String, stage: String, fraction: float, eta: float) -> void:
	progress_changed.emit(job_name, stage, fraction, eta)


func _on_preview(job_name: String, event: Trellis2JobModel.JobEvent) -> void:
	var model: Trellis2JobModel.Artifact = event.preview
	if model != null and not model.digest.is_empty():
		if model.size_bytes <= MAX_PREVIEW_MODEL_BYTES:
			var glb: Trellis2Client.Result = await _client.download_bytes(model)
			if glb.ok:
				preview_model_ready.emit(job_name, glb.value)
	if event.thumbnail == null or event.thumbnail.digest.is_empty():
		return
	var result: Trellis2Client.Result = await _client.download_bytes(event.thumbnail)
	if not result.ok:
		return
	var image := Image.new()
	if image.load_png_from_buffer(result.value) == OK:
		preview_ready.emit(job_name, ImageTexture.create_from_image(image))


## Watches until the end, then imports a success.
func _follow(job_name: String, after_seq: int) -> void:
	_configure()
	status_changed.emit(job_name, "Waiting for the server ...")
	var result: Trellis2Client.Result = await _client.watch_job(job_name, after_seq)
	if not result.ok:
		if result.error == null:
			return  # stopped by the user; the job keeps running on the server
		_store.update(job_name, "message", result.message())
		_store.save()
		job_finished.emit(job_name, false, result.message())
		return
	var event: Trellis2JobModel.JobEvent = result.value
	match event.kind:
		"completed":
			await _import(job_name)
		"failed":
			job_finished.emit(job_name, false, Trellis2Client.explain(event.error))
		"canceled":
			job_finished.emit(job_name, false, "Canceled.")


func _import(job_name: String) -> void:
	if _busy_imports.has(job_name):
		return
	_busy_imports[job_name] = true
	var notes: PackedStringArray = PackedStringArray()
	var message: String = await _import_steps(job_name, notes)
	_busy_imports.erase(job_name)
	var ok: bool = message.is_empty()
	if ok:
		message = "Imported." if notes.is_empty() else "Imported. Note: " + " ".join(notes)
	_store.update(job_name, "message", message)
	_store.save()
	history_changed.emit()
	job_finished.emit(job_name, ok, message)


## Downloads and imports; returns "" or what went wrong, and adds remarks to [param notes].
func _import_steps(job_name: String, notes: PackedStringArray) -> String:
	_configure()
	var record: Dictionary = _store.find(job_name)
	var artifacts: Array[Trellis2JobModel.Artifact] = Trellis2JobStore.artifacts_of(record)
	if artifacts.is_empty():
		var job: Trellis2Client.Result = await _client.get_job(job_name)
		if not job.ok:
			return job.message()
		artifacts = job.value.artifacts
		if job.value.stats != null:
			_store.update(job_name, "alpha_mode", job.value.stats.alpha_mode)
	var options: Dictionary = record.get("options", {})
	var asset_name: String = Trellis2Importer.safe_name(str(record.get("display_name", "asset")))
	var folder: String = str(options.get("target_folder", Trellis2Settings.target_folder()))
	var asset_dir: String = folder.path_join(asset_name)
	var files: Array[Dictionary] = Trellis2Importer.plan_downloads(
		artifacts, asset_dir, DOWNLOAD_CACHE
	)
	for entry: Dictionary in files:
		_downloading_job = job_name
		status_changed.emit(job_name, "Downloading %s" % entry["artifact"].filename)
		var got: Trellis2Client.Result = await _client.download(entry["artifact"], entry["staged"])
		if not got.ok:
			return got.message()
	var main_path: String = ""
	for entry: Dictionary in files:
		if entry["artifact"].kind == "ARTIFACT_KIND_ASSET":
			main_path = entry["staged"]
			break
	var gltf: Dictionary = {}
	if FileAccess.get_file_as_bytes(main_path).slice(0, 4).get_string_from_ascii() == "glTF":
		gltf = Trellis2Importer.read_glb_json(FileAccess.get_file_as_bytes(main_path))
	else:
		var parsed: Variant = JSON.parse_string(FileAccess.get_file_as_string(main_path))
		gltf = parsed if parsed is Dictionary else {}
	var plan: Dictionary = Trellis2Importer.plan_import(
		asset_name, asset_dir, files, gltf, str(record.get("alpha_mode", "OPAQUE")), options
	)
	if plan["scene_path"] == "":
		return " ".join(plan["warnings"])
	status_changed.emit(job_name, "Importing into %s ..." % asset_dir)
	var error: String = await _importer.apply(plan)
	if error.is_empty():
		_store.update(job_name, "imported_scene", plan["open_path"])
	for warning: String in plan["warnings"]:
		push_warning("TRELLIS.2: " + warning)
		notes.append(warning)
	return error


#endregion


#region Public Functions
## The job file of this project and user: .godot/editor/trellis2_jobs.json (not committed).
static func default_store_path() -> String:
	var folder: String = EditorInterface.get_editor_paths().get_project_settings_dir()
	return folder.path_join("trellis2_jobs.json")


## Uses [param store] instead of the default file (call before adding the node to the tree).
func set_store(store: Trellis2JobStore) -> void:
	_store = store


## Starts a job from the image at [param image_path] (res:// or absolute). Returns "" or an error
## message for the dock; progress arrives through the signals.
func generate(image_path: String, options: Dictionary) -> String:
	if image_path.get_extension().to_lower() not in IMAGE_EXTENSIONS:
		return "Pick a PNG, JPEG or WebP image (drag one from the FileSystem dock)."
	var image: PackedByteArray = FileAccess.get_file_as_bytes(image_path)
	if image.is_empty():
		return "Cannot read %s. Does the file still exist?" % image_path
	_configure()
	var request := options.duplicate(true)
	request["request_id"] = "godot-" + Crypto.new().generate_random_bytes(12).hex_encode()
	if str(request.get("display_name", "")).is_empty():
		request["display_name"] = Trellis2Importer.safe_name(image_path.get_file().get_basename())
	var result: Trellis2Client.Result = await _client.create_job(image, request)
	if not result.ok and result.error.code_name == "unavailable":
		result = await _client.create_job(image, request)  # same request_id: no duplicate job
	if not result.ok:
		return result.message()
	var job: Trellis2JobModel.Job = result.value
	_store.add(job.name, str(request["display_name"]), image_path, request)
	_store.save()
	history_changed.emit()
	job_submitted.emit(job.name)
	_follow(job.name, 0)
	return ""


## Asks the server to cancel; the watch then ends with a canceled event.
func cancel(job_name: String) -> String:
	_configure()
	var result: Trellis2Client.Result = await _client.cancel_job(job_name)
	return "" if result.ok else result.message()


## Reattaches to jobs that were running (or finished but not imported) when the editor closed.
func reattach_all() -> void:
	for record: Dictionary in _store.unfinished():
		if record["state"] == "JOB_STATE_SUCCEEDED":
			_import(record["job_name"])
		else:
			_follow(record["job_name"], int(record["last_seq"]))


## Adds a team job (from ListJobs) to the local history so it can be re-imported here.
func adopt(job: Trellis2JobModel.Job, options: Dictionary) -> void:
	if not _store.find(job.name).is_empty():
		return
	var display_name: String = job.display_name if not job.display_name.is_empty() else "asset"
	_store.add(job.name, display_name, "", options)
	_store.update(job.name, "state", job.state)
	_store.update(job.name, "last_seq", job.last_seq)
	var artifacts: Array = []
	for artifact: Trellis2JobModel.Artifact in job.artifacts:
		artifacts.append(artifact.to_dict())
	_store.update(job.name, "artifacts", artifacts)
	if job.stats != null:
		_store.update(job.name, "alpha_mode", job.stats.alpha_mode)
	_store.save()


## Downloads (if needed) and imports a finished job again, with fresh .import settings.
func reimport(job_name: String) -> void:
	if _store.find(job_name).is_empty():
		job_finished.emit(job_name, false, "This job is not in the local history.")
		return
	await _import(job_name)


## Starts a new job with the same image and options (a new seed unless [param keep_seed]).
func regenerate(job_name: String, keep_seed: bool = false) -> String:
	var record: Dictionary = _store.find(job_name)
	if record.is_empty():
		return "This job is not in the local history."
	if str(record["image_path"]).is_empty():
		return "This job came from the team history; drop its image here and press Generate."
	var options: Dictionary = record.get("options", {}).duplicate(true)
	if not keep_seed:
		options["seed"] = -1
	options.erase("request_id")
	return await generate(str(record["image_path"]), options)


## The team's recent jobs from the server (value: Array of [Trellis2JobModel.Job]).
func fetch_team_history() -> Trellis2Client.Result:
	_configure()
	return await _client.list_jobs(50)


## The server's ServerInfo ([member Trellis2Client.Result.value]: a Dictionary).
func fetch_server_info() -> Trellis2Client.Result:
	_configure()
	return await _client.get_server_info()


## The local job records, newest first.
func records() -> Array[Dictionary]:
	return _store.records()

#endregion
