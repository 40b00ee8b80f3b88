# SPDX-License-Identifier: MIT
@tool
class_name Trellis2JobStore
extends RefCounted
## The jobs this editor started, saved to a JSON file so they survive editor restarts.
##
## Each record keeps what is needed to reattach ([code]WatchJob(after_seq = last_seq)[/code]),
## re-import (artifacts) and regenerate (the options and image path). The file lives in the
## project's editor folder ([code].godot/editor/trellis2_jobs.json[/code]), which is per user and
## not committed; the team's shared history comes from the server's ListJobs. Pure logic apart
## from file reads and writes.

#region Constants
const FORMAT_VERSION: int = 1
## Records kept; the oldest finished ones are dropped first.
const MAX_RECORDS: int = 200
#endregion

#region Private Variables
var _path: String = ""
var _records: Array[Dictionary] = []
#endregion


#region Private Functions
func _trim() -> void:
	var index: int = _records.size() - 1
	while _records.size() > MAX_RECORDS and index >= 0:
		if Trellis2JobModel.is_terminal_state(str(_records[index]["state"])):
			_records.remove_at(index)
		index -= 1


#endregion


#region Public Functions
## A store backed by [param path] (any path FileAccess can write). Call [method load_records].
func _init(path: String) -> void:
	_path = path


## Reads the file; a missing or broken file gives an empty store.
func load_records() -> void:
	_records.clear()
	if not FileAccess.file_exists(_path):
		return
	var parsed: Variant = JSON.parse_string(FileAccess.get_file_as_string(_path))
	if not parsed is Dictionary or int(parsed.get("version", 0)) != FORMAT_VERSION:
		return
	for item: Variant in parsed.get("jobs", []):
		if item is Dictionary and str(item.get("job_name", "")).begins_with("jobs/"):
			_records.append(item)


## Writes the file atomically (temp file, then rename).
func save() -> Error:
	DirAccess.make_dir_recursive_absolute(ProjectSettings.globalize_path(_path).get_base_dir())
	var temp: String = _path + ".tmp"
	var file := FileAccess.open(temp, FileAccess.WRITE)
	if file == null:
		return FileAccess.get_open_error()
	file.store_string(JSON.stringify({"version": FORMAT_VERSION, "jobs": _records}, "\t"))
	file.close()
	return DirAccess.rename_absolute(
		ProjectSettings.globalize_path(temp), ProjectSettings.globalize_path(_path)
	)


## Adds a job just created on the server, newest first.
func add(job_name: String, display_name: String, image_path: String, options: Dictionary) -> void:
	(
		_records
		. push_front(
			{
				"job_name": job_name,
				"display_name": display_name,
				"image_path": image_path,
				"options": options.duplicate(true),
				"state": "JOB_STATE_QUEUED",
				"last_seq": 0,
				"created_unix": int(Time.get_unix_time_from_system()),
				"artifacts": [],
				"alpha_mode": "OPAQUE",
				"imported_scene": "",
				"message": "",
			}
		)
	)
	_trim()


## Records the seq of the last event seen (reattach resumes after it) and the state it implies.
func note_event(job_name: String, event: Trellis2JobModel.JobEvent) -> void:
	var record: Dictionary = find(job_name)
	if record.is_empty() or event.seq <= int(record["last_seq"]):
		return
	record["last_seq"] = event.seq
	match event.kind:
		"started", "progress", "preview":
			record["state"] = "JOB_STATE_RUNNING"
		"completed":
			record["state"] = "JOB_STATE_SUCCEEDED"
			var artifacts: Array = []
			for artifact: Trellis2JobModel.Artifact in event.artifacts:
				artifacts.append(artifact.to_dict())
			record["artifacts"] = artifacts
			if event.stats != null:
				record["alpha_mode"] = event.stats.alpha_mode
		"failed":
			record["state"] = "JOB_STATE_FAILED"
			record["message"] = event.error.message if event.error != null else ""
		"canceled":
			record["state"] = "JOB_STATE_CANCELED"


## Sets any field of a record (e.g. "imported_scene", "message").
func update(job_name: String, key: String, value: Variant) -> void:
	var record: Dictionary = find(job_name)
	if not record.is_empty():
		record[key] = value


## The record of [param job_name], or an empty Dictionary.
func find(job_name: String) -> Dictionary:
	for record: Dictionary in _records:
		if record["job_name"] == job_name:
			return record
	return {}


## Every record, newest first.
func records() -> Array[Dictionary]:
	return _records


## Jobs to reattach after a restart: not finished, or finished but never imported.
func unfinished() -> Array[Dictionary]:
	var out: Array[Dictionary] = []
	for record: Dictionary in _records:
		var done: bool = Trellis2JobModel.is_terminal_state(str(record["state"]))
		var imported: bool = not str(record["imported_scene"]).is_empty()
		if not done or (record["state"] == "JOB_STATE_SUCCEEDED" and not imported):
			out.append(record)
	return out


## The artifacts of a finished record, typed.
static func artifacts_of(record: Dictionary) -> Array[Trellis2JobModel.Artifact]:
	return Trellis2JobModel.parse_artifacts(record.get("artifacts", []))

#endregion
