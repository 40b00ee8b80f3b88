# SPDX-License-Identifier: MIT
extends Trellis2TestCase
## Persisted jobs (job_store.gd): survive a reload, know what to reattach.

const PATH: String = "user://trellis2_test_jobs.json"


func before_each() -> void:
	if FileAccess.file_exists(PATH):
		DirAccess.remove_absolute(ProjectSettings.globalize_path(PATH))


func _event(json: String) -> Trellis2JobModel.JobEvent:
	return Trellis2JobModel.parse_event(JSON.parse_string(json))


func test_records_survive_a_save_and_reload() -> void:
	var store := Trellis2JobStore.new(PATH)
	store.add("jobs/a1", "disc", "res://disc.png", {"seed": 3})
	store.note_event("jobs/a1", _event('{"job":"jobs/a1","seq":"4","progress":{"fraction":0.5}}'))
	assert_eq(store.save(), OK, "saved")
	var again := Trellis2JobStore.new(PATH)
	again.load_records()
	var record: Dictionary = again.find("jobs/a1")
	assert_eq(int(record["last_seq"]), 4, "last seq kept for after_seq")
	assert_eq(record["state"], "JOB_STATE_RUNNING", "state")
	assert_eq(int(record["options"]["seed"]), 3, "options kept for regenerate")


func test_running_and_unimported_jobs_are_reattached_but_imported_ones_are_not() -> void:
	var store := Trellis2JobStore.new(PATH)
	store.add("jobs/run", "a", "", {})
	store.add("jobs/done", "b", "", {})
	store.add("jobs/imported", "c", "", {})
	store.add("jobs/failed", "d", "", {})
	var completed: String = (
		'{"job":"%s","seq":"9","completed":'
		+ '{"artifacts":[{"digest":"aa","kind":"ARTIFACT_KIND_ASSET"}]}}'
	)
	store.note_event("jobs/done", _event(completed % "jobs/done"))
	store.note_event("jobs/imported", _event(completed % "jobs/imported"))
	store.update("jobs/imported", "imported_scene", "res://generated/c/c.tscn")
	store.note_event(
		"jobs/failed", _event('{"job":"jobs/failed","seq":"2","failed":{"error":{"code":13}}}')
	)
	var names: Array = store.unfinished().map(func(r: Dictionary) -> String: return r["job_name"])
	names.sort()
	assert_eq(names, ["jobs/done", "jobs/run"], "reattach set")
	assert_eq(
		Trellis2JobStore.artifacts_of(store.find("jobs/done"))[0].digest, "aa", "artifacts kept"
	)


func test_old_events_do_not_move_last_seq_backwards() -> void:
	var store := Trellis2JobStore.new(PATH)
	store.add("jobs/a1", "disc", "", {})
	store.note_event("jobs/a1", _event('{"job":"jobs/a1","seq":"5","progress":{}}'))
	store.note_event("jobs/a1", _event('{"job":"jobs/a1","seq":"3","progress":{}}'))
	assert_eq(int(store.find("jobs/a1")["last_seq"]), 5, "monotonic")


func test_a_broken_file_gives_an_empty_store() -> void:
	var file := FileAccess.open(PATH, FileAccess.WRITE)
	file.store_string("{not json")
	file.close()
	var store := Trellis2JobStore.new(PATH)
	store.load_records()
	assert_eq(store.records().size(), 0, "empty")
