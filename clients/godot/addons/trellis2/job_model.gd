# SPDX-License-Identifier: MIT
@tool
class_name Trellis2JobModel
extends RefCounted
## Typed views of the API's messages, parsed from protobuf's canonical JSON mapping.
##
## The proto ([code]proto/trellis2/v1/asset_generation.proto[/code]) is the schema: fields are
## lowerCamelCase, enums arrive as their names ([code]"JOB_STATE_RUNNING"[/code]), int64 values
## as strings ([code]"seq": "12"[/code]) and fields equal to their default are left out, so every
## reader below falls back to the proto default. Pure logic: no networking, no editor API.

#region Constants
## Event kinds: the name of the JobEvent oneof field that is set.
const EVENT_KINDS: PackedStringArray = [
	"queued", "started", "progress", "preview", "completed", "failed", "canceled", "heartbeat"
]
const TERMINAL_STATES: PackedStringArray = [
	"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELED"
]
## Connect error code names by gRPC status number (google.rpc.Code).
const CODE_NAMES: PackedStringArray = [
	"ok",
	"canceled",
	"unknown",
	"invalid_argument",
	"deadline_exceeded",
	"not_found",
	"already_exists",
	"permission_denied",
	"resource_exhausted",
	"failed_precondition",
	"aborted",
	"out_of_range",
	"unimplemented",
	"internal",
	"unavailable",
	"data_loss",
	"unauthenticated",
]
#endregion


#region Public Functions
## Parses one JobEvent message.
static func parse_event(data: Dictionary) -> JobEvent:
	var event := JobEvent.new()
	event.job = _str(data, "job")
	event.seq = _int(data, "seq")
	event.time = _str(data, "time")
	for kind: String in EVENT_KINDS:
		if data.has(kind) and data[kind] is Dictionary:
			event.kind = kind
			event.body = data[kind]
			break
	var body: Dictionary = event.body
	match event.kind:
		"queued":
			event.queue_position = _int(body, "position")
		"started":
			event.worker = _str(body, "worker")
			event.attempt = _int(body, "attempt")
			event.backend = _str(body, "backend")
		"progress":
			event.stage = _str(body, "stage")
			event.step = _int(body, "step")
			event.total = _int(body, "total")
			event.fraction = _float(body, "fraction")
			event.eta_seconds = _float(body, "etaSeconds")
		"preview":
			event.preview_kind = _str(body, "kind", "PREVIEW_KIND_UNSPECIFIED")
			event.preview = parse_artifact(_dict(body, "artifact"))
			event.thumbnail = parse_artifact(_dict(body, "thumbnail"))
		"completed":
			event.artifacts = parse_artifacts(body.get("artifacts", []))
			event.stats = parse_stats(_dict(body, "stats"))
			event.fraction = 1.0
		"failed":
			event.error = parse_error(_dict(body, "error"))
		"canceled":
			event.was_running = bool(body.get("wasRunning", false))
	return event


## Parses one Job message.
static func parse_job(data: Dictionary) -> Job:
	var job := Job.new()
	job.name = _str(data, "name")
	job.job_id = _str(data, "jobId")
	job.state = _str(data, "state", "JOB_STATE_UNSPECIFIED")
	job.spec = _dict(data, "spec")
	job.display_name = _str(job.spec, "displayName")
	job.seed = _int(job.spec, "seed")
	job.create_time = _str(data, "createTime")
	job.end_time = _str(data, "endTime")
	job.last_seq = _int(data, "lastSeq")
	job.queue_position = _int(data, "queuePosition")
	job.artifacts = parse_artifacts(data.get("artifacts", []))
	job.stats = parse_stats(_dict(data, "stats"))
	job.error = parse_error(_dict(data, "error"))
	job.progress_fraction = _float(data, "progressFraction")
	job.team = _str(data, "team")
	return job


## Parses a list of Artifact messages.
static func parse_artifacts(items: Variant) -> Array[Artifact]:
	var out: Array[Artifact] = []
	if items is Array:
		for item: Variant in items:
			if item is Dictionary:
				out.append(parse_artifact(item))
	return out


## Parses one Artifact message (an empty one when [param data] is empty).
static func parse_artifact(data: Dictionary) -> Artifact:
	var artifact := Artifact.new()
	artifact.digest = _str(data, "digest")
	artifact.size_bytes = _int(data, "sizeBytes")
	artifact.media_type = _str(data, "mediaType")
	artifact.filename = _str(data, "filename")
	artifact.kind = _str(data, "kind", "ARTIFACT_KIND_UNSPECIFIED")
	return artifact


## Parses one AssetStats message.
static func parse_stats(data: Dictionary) -> AssetStats:
	var stats := AssetStats.new()
	stats.triangle_count = _int(data, "triangleCount")
	stats.vertex_count = _int(data, "vertexCount")
	stats.texture_count = _int(data, "textureCount")
	stats.texture_size = _int(data, "textureSize")
	stats.texture_format = _str(data, "textureFormat", "TEXTURE_FORMAT_UNSPECIFIED")
	stats.alpha_mode = _str(data, "alphaMode", "OPAQUE")
	var extent: Variant = data.get("extent", [])
	if extent is Array:
		for value: Variant in extent:
			stats.extent.append(float(value))
	stats.cache_hit = bool(data.get("cacheHit", false))
	stats.random_weights = bool(data.get("randomWeights", false))
	return stats


## Parses a JobError message (gRPC status number + text).
static func parse_error(data: Dictionary) -> ApiError:
	var error := ApiError.new()
	error.code = _int(data, "code")
	error.code_name = code_name(error.code)
	error.message = _str(data, "message")
	return error


## Parses a Connect error body ([code]{"code": "not_found", "message": "..."}[/code]), from a
## unary error response or the [code]error[/code] of an end-of-stream frame.
static func parse_connect_error(data: Dictionary, http_status: int = 0) -> ApiError:
	var error := ApiError.new()
	error.code_name = _str(data, "code")
	if error.code_name.is_empty():
		error.code_name = code_from_http_status(http_status)
	error.code = CODE_NAMES.find(error.code_name)
	if error.code < 0:
		error.code = 2
		error.code_name = "unknown"
	error.message = _str(data, "message")
	if error.message.is_empty() and http_status > 0:
		error.message = "HTTP %d" % http_status
	return error


## The Connect name of a gRPC status number ("unknown" when out of range).
static func code_name(code: int) -> String:
	return CODE_NAMES[code] if code >= 0 and code < CODE_NAMES.size() else "unknown"


## The Connect code implied by an HTTP status when the body carries none (Connect spec table).
static func code_from_http_status(status: int) -> String:
	match status:
		400:
			return "internal"
		401:
			return "unauthenticated"
		403:
			return "permission_denied"
		404:
			return "unimplemented"
		429, 502, 503, 504:
			return "unavailable"
	return "unknown"


## True for the states after which nothing changes.
static func is_terminal_state(state: String) -> bool:
	return state in TERMINAL_STATES


## The pipeline types (proto enum names) that [param info], a ServerInfo, says the backend jobs
## go to accepts: [param backend], or the server's default one when empty. Empty when that
## backend lists none (it accepts all) or is unknown (the server will say so).
static func accepted_pipeline_types(info: Dictionary, backend: String = "") -> PackedStringArray:
	var wanted: String = backend if not backend.is_empty() else _str(info, "defaultBackend")
	var backends: Variant = info.get("backends", [])
	if not backends is Array:
		return PackedStringArray()
	for entry: Variant in backends:
		if entry is Dictionary and _str(entry, "name") == wanted:
			var types: Variant = entry.get("pipelineTypes", [])
			return PackedStringArray(types) if types is Array else PackedStringArray()
	return PackedStringArray()


#endregion


#region Private Functions
static func _str(data: Dictionary, key: String, default: String = "") -> String:
	var value: Variant = data.get(key, default)
	return value if value is String else str(value)


static func _int(data: Dictionary, key: String) -> int:
	var value: Variant = data.get(key, 0)
	if value is String:
		return int(value) if value.is_valid_int() else 0
	if value is float or value is int:
		return int(value)
	return 0


static func _float(data: Dictionary, key: String) -> float:
	var value: Variant = data.get(key, 0.0)
	if value is String:
		# Proto JSON writes NaN and infinities as strings.
		return float(value) if value.is_valid_float() else 0.0
	if value is float or value is int:
		return float(value)
	return 0.0


static func _dict(data: Dictionary, key: String) -> Dictionary:
	var value: Variant = data.get(key, {})
	return value if value is Dictionary else {}


#endregion


## A downloadable, content-addressed file.
class Artifact:
	extends RefCounted
	## SHA-256 of the bytes, lowercase hex.
	var digest: String = ""
	var size_bytes: int = 0
	var media_type: String = ""
	## File name; for glTF containers the relative URI the .gltf refers to.
	var filename: String = ""
	## ArtifactKind enum name, e.g. "ARTIFACT_KIND_ASSET".
	var kind: String = "ARTIFACT_KIND_UNSPECIFIED"

	func to_dict() -> Dictionary:
		return {
			"digest": digest,
			"sizeBytes": str(size_bytes),
			"mediaType": media_type,
			"filename": filename,
			"kind": kind,
		}


## Numbers about a finished asset.
class AssetStats:
	extends RefCounted
	var triangle_count: int = 0
	var vertex_count: int = 0
	var texture_count: int = 0
	var texture_size: int = 0
	var texture_format: String = "TEXTURE_FORMAT_UNSPECIFIED"
	## "OPAQUE", "MASK" or "BLEND".
	var alpha_mode: String = "OPAQUE"
	## Bounding box size in metres (glTF axes, Y up).
	var extent: Array[float] = []
	var cache_hit: bool = false
	var random_weights: bool = false


## An error from the server: a gRPC status number, its Connect name and a message.
class ApiError:
	extends RefCounted
	var code: int = 0
	var code_name: String = "ok"
	var message: String = ""

	func is_ok() -> bool:
		return code == 0


## One event of a job's stream.
class JobEvent:
	extends RefCounted
	## "jobs/{job_id}".
	var job: String = ""
	var seq: int = 0
	## RFC 3339 timestamp.
	var time: String = ""
	## Which event this is: one of EVENT_KINDS, or "" for an unknown (newer) kind.
	var kind: String = ""
	## The raw JSON of the event's payload.
	var body: Dictionary = {}
	var queue_position: int = 0
	var worker: String = ""
	var attempt: int = 0
	var backend: String = ""
	var stage: String = ""
	var step: int = 0
	var total: int = 0
	var fraction: float = 0.0
	## Seconds left; < 0 when unknown.
	var eta_seconds: float = -1.0
	var preview_kind: String = ""
	var preview: Artifact = null
	var thumbnail: Artifact = null
	var artifacts: Array[Artifact] = []
	var stats: AssetStats = null
	var error: ApiError = null
	var was_running: bool = false

	## True for completed, failed and canceled: nothing follows.
	func is_terminal() -> bool:
		return kind in ["completed", "failed", "canceled"]


## A generation job.
class Job:
	extends RefCounted
	var name: String = ""
	var job_id: String = ""
	## JobState enum name.
	var state: String = "JOB_STATE_UNSPECIFIED"
	## The JobSpec as raw JSON (parameters of the job).
	var spec: Dictionary = {}
	var display_name: String = ""
	var seed: int = 0
	var create_time: String = ""
	var end_time: String = ""
	var last_seq: int = 0
	var queue_position: int = 0
	var artifacts: Array[Artifact] = []
	var stats: AssetStats = null
	var error: ApiError = null
	var progress_fraction: float = 0.0
	var team: String = ""

	func is_terminal() -> bool:
		return state in TERMINAL_STATES
