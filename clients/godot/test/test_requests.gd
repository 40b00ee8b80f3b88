# SPDX-License-Identifier: MIT
extends Trellis2TestCase
## The request builder (requests.gd) against the recorded fixtures the server's CI replays.

const FIXTURES: String = "res://test/fixtures/protocol/"


func _build(entry: Dictionary) -> Trellis2Requests.Request:
	var host: String = entry["host"]
	var key: String = entry.get("api_key", "")
	var args: Dictionary = entry["args"]
	match entry["builder"]:
		"server_info":
			return Trellis2Requests.server_info(host, key)
		"create_job":
			var image: PackedByteArray = FileAccess.get_file_as_bytes(FIXTURES + args["image_file"])
			return Trellis2Requests.create_job(host, key, image, args["options"])
		"watch_job":
			return Trellis2Requests.watch_job(host, key, args["job_name"], int(args["after_seq"]))
		"get_job":
			return Trellis2Requests.get_job(host, key, args["job_name"])
		"cancel_job":
			return Trellis2Requests.cancel_job(host, key, args["job_name"])
		"list_jobs":
			return Trellis2Requests.list_jobs(host, key, int(args["page_size"]))
		"download":
			return Trellis2Requests.download(host, key, args["digest"], int(args["offset"]))
	return null


func test_every_recorded_fixture_is_exactly_what_the_builder_sends() -> void:
	var manifest: Dictionary = JSON.parse_string(
		FileAccess.get_file_as_string(FIXTURES + "manifest.json")
	)
	assert_true(manifest["requests"].size() >= 10, "fixtures listed")
	for entry: Dictionary in manifest["requests"]:
		var request: Trellis2Requests.Request = _build(entry)
		assert_not_null(request, entry["builder"])
		var recorded: PackedByteArray = FileAccess.get_file_as_bytes(FIXTURES + entry["file"])
		assert_eq(request.to_wire(), recorded, entry["file"])


func test_streaming_call_is_one_envelope_with_connect_json_type() -> void:
	var request := Trellis2Requests.watch_job("h:1", "", "jobs/abc", 4)
	assert_true(request.streaming, "streaming")
	assert_has(request.headers, "Content-Type: application/connect+json", "type")
	assert_eq(
		request.body.slice(5).get_string_from_utf8(), '{"afterSeq":"4","name":"jobs/abc"}', "body"
	)


func test_api_key_travels_as_bearer_token() -> void:
	var request := Trellis2Requests.get_job("h", "s3cret", "jobs/x")
	assert_has(request.headers, "Authorization: Bearer s3cret", "auth header")


func test_download_resume_asks_for_the_remaining_range() -> void:
	var request := Trellis2Requests.download("h", "", "ab".repeat(32), 1000)
	assert_eq(request.method_name(), "GET", "method")
	assert_has(request.headers, "Range: bytes=1000-", "range")
	assert_eq(request.path, "/v1/artifacts/" + "ab".repeat(32), "path")


func test_create_job_asks_for_the_godot_profile_with_orm_and_never_draco() -> void:
	var message := Trellis2Requests.create_job_message(PackedByteArray([1, 2, 3]), {"seed": 42})
	var export_options: Dictionary = message["exportOptions"]
	assert_eq(export_options["profile"], "OUTPUT_PROFILE_GODOT", "profile")
	assert_eq(export_options["extraTextures"], ["EXTRA_TEXTURE_ORM"], "orm")
	assert_eq(export_options["textureFormat"], "TEXTURE_FORMAT_WEBP", "webp by default")
	assert_eq(message["seed"], "42", "int64 as a string")
	assert_eq(message["image"], "AQID", "image as base64")
	assert_false(message.has("pipelineType"), "server default pipeline")


func test_unset_seed_lets_the_server_draw_one() -> void:
	var message := Trellis2Requests.create_job_message(PackedByteArray(), {"seed": -1})
	assert_false(message.has("seed"), "no seed")


func test_base_url_parsing_covers_tls_ports_and_prefixes() -> void:
	var plain: Dictionary = Trellis2Requests.parse_base_url("http://gpu-box:8080")
	assert_eq(
		[plain["ok"], plain["tls"], plain["host"], plain["port"]],
		[true, false, "gpu-box", 8080],
		"plain"
	)
	assert_eq(plain["host_header"], "gpu-box:8080", "host header keeps the port")
	var tls: Dictionary = Trellis2Requests.parse_base_url("https://gen.example.com/trellis/")
	assert_eq([tls["tls"], tls["port"], tls["prefix"]], [true, 443, "/trellis"], "https")
	assert_eq(tls["host_header"], "gen.example.com", "default port omitted")
	var ipv6: Dictionary = Trellis2Requests.parse_base_url("http://[::1]:9000")
	assert_eq([ipv6["host"], ipv6["port"]], ["::1", 9000], "ipv6")
	assert_false(Trellis2Requests.parse_base_url("gpu-box:8080")["ok"], "scheme required")
	assert_false(Trellis2Requests.parse_base_url("http://box:99999")["ok"], "port range")
