# SPDX-License-Identifier: MIT
extends Trellis2TestCase
## Proto JSON → typed objects (job_model.gd): names, int64 strings, defaults left out.


func _event(json: String) -> Trellis2JobModel.JobEvent:
	return Trellis2JobModel.parse_event(JSON.parse_string(json))


func test_progress_event_reads_stage_fraction_eta_and_int64_seq() -> void:
	var event := _event(
		(
			'{"job":"jobs/a1","seq":"7","time":"2026-01-01T00:00:00Z",'
			+ '"progress":{"stage":"shape_slat","step":3,"total":12,"fraction":0.4,"etaSeconds":12.5}}'
		)
	)
	assert_eq(event.kind, "progress", "kind")
	assert_eq(event.seq, 7, "seq from a JSON string")
	assert_eq(event.stage, "shape_slat", "stage")
	assert_eq([event.step, event.total], [3, 12], "step/total")
	assert_almost_eq(event.fraction, 0.4, 1e-6, "fraction")
	assert_almost_eq(event.eta_seconds, 12.5, 1e-6, "eta")
	assert_false(event.is_terminal(), "not terminal")


func test_fields_at_their_default_are_omitted_and_read_as_defaults() -> void:
	var event := _event('{"job":"jobs/a1","seq":"1","queued":{}}')
	assert_eq(event.kind, "queued", "empty message still names the kind")
	assert_eq(event.queue_position, 0, "position default")


func test_completed_event_carries_typed_artifacts_and_stats() -> void:
	var event := _event(
		(
			'{"job":"jobs/a1","seq":"9","completed":{"artifacts":['
			+ '{"digest":"aa","sizeBytes":"1234","mediaType":"model/gltf+json",'
			+ '"filename":"disc.gltf","kind":"ARTIFACT_KIND_ASSET"},'
			+ '{"digest":"bb","sizeBytes":"99","filename":"disc_orm.png",'
			+ '"kind":"ARTIFACT_KIND_EXTRA_TEXTURE"}],'
			+ '"stats":{"triangleCount":"20000","alphaMode":"BLEND","extent":[1,2,0.5]}}}'
		)
	)
	assert_true(event.is_terminal(), "terminal")
	assert_eq(event.artifacts.size(), 2, "two artifacts")
	assert_eq(event.artifacts[0].size_bytes, 1234, "int64 size")
	assert_eq(event.artifacts[1].kind, "ARTIFACT_KIND_EXTRA_TEXTURE", "enum name")
	assert_eq(event.stats.triangle_count, 20000, "triangles")
	assert_eq(event.stats.alpha_mode, "BLEND", "alpha")
	assert_eq(event.stats.extent.size(), 3, "extent")


func test_failed_event_maps_the_grpc_code_to_its_connect_name() -> void:
	var event := _event(
		'{"job":"jobs/a1","seq":"3","failed":{"error":{"code":3,"message":"image too small"}}}'
	)
	assert_eq(event.error.code, 3, "code")
	assert_eq(event.error.code_name, "invalid_argument", "name")
	assert_true(Trellis2Client.explain(event.error).contains("image too small"), "explained")


func test_preview_event_has_model_and_thumbnail() -> void:
	var event := _event(
		(
			'{"job":"jobs/a1","seq":"4","preview":{"kind":"PREVIEW_KIND_VOXELS",'
			+ '"artifact":{"digest":"cc","kind":"ARTIFACT_KIND_PREVIEW"},'
			+ '"thumbnail":{"digest":"dd","mediaType":"image/png","kind":"ARTIFACT_KIND_THUMBNAIL"}}}'
		)
	)
	assert_eq(event.preview_kind, "PREVIEW_KIND_VOXELS", "preview kind")
	assert_eq(event.thumbnail.digest, "dd", "thumbnail")


func test_unknown_event_kind_from_a_newer_server_is_tolerated() -> void:
	var event := _event('{"job":"jobs/a1","seq":"5","somethingNew":{"x":1}}')
	assert_eq(event.kind, "", "unknown kind")
	assert_false(event.is_terminal(), "not terminal")


func test_job_reads_state_spec_and_last_seq() -> void:
	var job := Trellis2JobModel.parse_job(
		JSON.parse_string(
			(
				'{"name":"jobs/a1","jobId":"a1","state":"JOB_STATE_RUNNING","lastSeq":"12",'
				+ '"spec":{"seed":"123456789012","displayName":"disc"},"team":"art"}'
			)
		)
	)
	assert_eq(job.state, "JOB_STATE_RUNNING", "state")
	assert_eq(job.last_seq, 12, "last seq")
	assert_eq(job.seed, 123456789012, "int64 seed beyond 32 bits")
	assert_eq(job.display_name, "disc", "display name")
	assert_false(job.is_terminal(), "running")


func test_connect_error_body_and_http_fallback() -> void:
	var error := Trellis2JobModel.parse_connect_error(
		{"code": "unauthenticated", "message": "missing key"}, 401
	)
	assert_eq([error.code, error.code_name], [16, "unauthenticated"], "from body")
	assert_true(Trellis2Client.explain(error).contains("trellis2/api_key"), "says where to set it")
	var bare := Trellis2JobModel.parse_connect_error({}, 503)
	assert_eq(bare.code_name, "unavailable", "from HTTP status")


func test_accepted_pipeline_types_are_the_default_backends_list() -> void:
	var info: Dictionary = JSON.parse_string(
		(
			'{"defaultBackend":"trellis2","backends":[{"name":"preview","loaded":true},'
			+ '{"name":"trellis2","loaded":true,"pipelineTypes":'
			+ '["PIPELINE_TYPE_512","PIPELINE_TYPE_1024_CASCADE"]}]}'
		)
	)
	assert_eq(
		Trellis2JobModel.accepted_pipeline_types(info),
		PackedStringArray(["PIPELINE_TYPE_512", "PIPELINE_TYPE_1024_CASCADE"])
	)
	assert_eq(Trellis2JobModel.accepted_pipeline_types(info, "preview"), PackedStringArray())
	assert_eq(Trellis2JobModel.accepted_pipeline_types(info, "missing"), PackedStringArray())
	assert_eq(Trellis2JobModel.accepted_pipeline_types({}), PackedStringArray())
