# SPDX-License-Identifier: MIT
@tool
class_name Trellis2Client
extends Node
## Talks to a TRELLIS.2 server over HTTP/1.1 with the Connect protocol (JSON codec).
##
## Every call is a coroutine: [code]var result := await client.create_job(image, options)[/code].
## Watching a job emits [signal job_progressed], [signal job_preview_ready],
## [signal job_completed], [signal job_failed] or [signal job_canceled] as events arrive and
## reconnects with [code]after_seq[/code] when the connection drops. Downloads resume with
## [code]Range[/code] and are verified against their SHA-256 digest. The node must be inside
## the scene tree (it waits on [signal SceneTree.process_frame] between polls of [HTTPClient]).
## Requests are built by [Trellis2Requests]; envelopes are decoded by [Trellis2Envelope].

#region Constants
## Seconds to connect and get an answer to a unary call.
const UNARY_TIMEOUT_S: float = 30.0
## Seconds for CreateJob, whose body carries the whole image (up to the server's upload limit).
const UPLOAD_TIMEOUT_S: float = 180.0
## Seconds of silence after which a watch stream counts as dropped (the server sends
## heartbeats every 10 s by default).
const STREAM_IDLE_TIMEOUT_S: float = 45.0
## Seconds without a byte during a download before it is cut and resumed.
const DOWNLOAD_IDLE_TIMEOUT_S: float = 30.0
## Reconnects of one watch before giving up (backoff 1, 2, 4 ... 16 s).
const MAX_RECONNECTS: int = 8
const READ_CHUNK_BYTES: int = 256 * 1024
const HASH_CHUNK_BYTES: int = 1024 * 1024
#endregion

#region Signals
## Any event of a watched job, heartbeats excluded.
signal job_event_received(event: Trellis2JobModel.JobEvent)
## Progress of a watched job; [param eta_seconds] < 0 when unknown.
signal job_progressed(job_name: String, stage: String, fraction: float, eta_seconds: float)
## A queued job's place in the queue.
signal job_queued(job_name: String, position: int)
## A coarse preview (model + PNG thumbnail) is ready to download.
signal job_preview_ready(job_name: String, event: Trellis2JobModel.JobEvent)
## The job succeeded; [param event] holds the artifacts and stats.
signal job_completed(job_name: String, event: Trellis2JobModel.JobEvent)
## The job failed with a gRPC status [param code] and a message that says what to do.
signal job_failed(job_name: String, code: int, message: String)
signal job_canceled(job_name: String)
## The watch stream dropped; the client reconnects on its own after [param retry_in_s].
signal watch_interrupted(job_name: String, message: String, retry_in_s: float)
## Bytes of an artifact received so far.
signal download_progressed(digest: String, received: int, total: int)
#endregion

#region Private Variables
var _stop_watch: Dictionary = {}
#endregion

#region Public Variables
## [code]http(s)://host[:port][/prefix][/code] of the server's Connect/HTTP listener.
var server_url: String = "http://127.0.0.1:8080"
## Sent as [code]Authorization: Bearer <key>[/code] when not empty.
var api_key: String = ""
## Optional PEM file of a CA to trust for https (self-signed team servers).
var trusted_ca_path: String = ""
#endregion


#region Private Functions
func _tree_frame() -> void:
	await get_tree().process_frame


func _fail(code_name: String, message: String, http_status: int = 0) -> Result:
	var result := Result.new()
	result.error = Trellis2JobModel.parse_connect_error(
		{"code": code_name, "message": message}, http_status
	)
	result.http_status = http_status
	return result


## Opens a connection. Returns [code][HTTPClient, Result][/code]; the Result is null on success.
func _open(deadline_ms: int) -> Array:
	var base: Dictionary = Trellis2Requests.parse_base_url(server_url)
	if not base["ok"]:
		return [null, _fail("unavailable", base["error"])]
	var tls: TLSOptions = null
	if base["tls"]:
		var ca: X509Certificate = null
		if not trusted_ca_path.is_empty():
			ca = X509Certificate.new()
			if ca.load(trusted_ca_path) != OK:
				return [
					null, _fail("failed_precondition", "Cannot read the CA file " + trusted_ca_path)
				]
		tls = TLSOptions.client(ca)
	var http := HTTPClient.new()
	http.read_chunk_size = READ_CHUNK_BYTES
	var err: Error = http.connect_to_host(base["host"], base["port"], tls)
	if err != OK:
		return [
			null,
			_fail(
				"unavailable",
				"Cannot start connecting to %s (%s)." % [server_url, error_string(err)]
			)
		]
	while http.get_status() in [HTTPClient.STATUS_RESOLVING, HTTPClient.STATUS_CONNECTING]:
		http.poll()
		if Time.get_ticks_msec() > deadline_ms:
			http.close()
			return [null, _fail("unavailable", "Timed out connecting to %s." % server_url)]
		await _tree_frame()
	var status: int = http.get_status()
	if status == HTTPClient.STATUS_CONNECTED:
		return [http, null]
	if status == HTTPClient.STATUS_CANT_RESOLVE:
		return [null, _fail("unavailable", "Cannot resolve the host of %s." % server_url)]
	if status == HTTPClient.STATUS_TLS_HANDSHAKE_ERROR:
		var why: String = (
			"TLS handshake with %s failed: the certificate is not trusted. "
			+ "For a self-signed server set trellis2/server/trusted_ca_path."
		)
		return [null, _fail("unavailable", why % server_url)]
	return [null, _fail("unavailable", "Cannot connect to %s." % server_url)]


## Sends [param request] and waits for the response head. Returns [HTTPClient, Result].
func _send(request: Trellis2Requests.Request, timeout_s: float) -> Array:
	var deadline_ms: int = Time.get_ticks_msec() + int(timeout_s * 1000.0)
	var opened: Array = await _open(deadline_ms)
	if opened[1] != null:
		return opened
	var http: HTTPClient = opened[0]
	var prefix: String = Trellis2Requests.parse_base_url(server_url)["prefix"]
	var err: Error = http.request_raw(
		request.method, prefix + request.path, request.headers, request.body
	)
	if err != OK:
		http.close()
		return [null, _fail("internal", "Could not send the request (%s)." % error_string(err))]
	while http.get_status() == HTTPClient.STATUS_REQUESTING:
		http.poll()
		if Time.get_ticks_msec() > deadline_ms:
			http.close()
			return [null, _fail("deadline_exceeded", "No answer from %s in time." % server_url)]
		await _tree_frame()
	if http.get_status() not in [HTTPClient.STATUS_BODY, HTTPClient.STATUS_CONNECTED]:
		http.close()
		return [null, _fail("unavailable", "The connection to %s broke." % server_url)]
	return [http, null]


## Reads a whole (small) body.
func _read_all(http: HTTPClient, timeout_s: float) -> PackedByteArray:
	var body := PackedByteArray()
	var deadline_ms: int = Time.get_ticks_msec() + int(timeout_s * 1000.0)
	while http.get_status() == HTTPClient.STATUS_BODY and Time.get_ticks_msec() < deadline_ms:
		http.poll()
		var chunk: PackedByteArray = http.read_response_body_chunk()
		if chunk.is_empty():
			await _tree_frame()
		else:
			body.append_array(chunk)
	return body


func _unary(request: Trellis2Requests.Request, timeout_s: float = UNARY_TIMEOUT_S) -> Result:
	var sent: Array = await _send(request, timeout_s)
	if sent[1] != null:
		return sent[1]
	var http: HTTPClient = sent[0]
	var result := Result.new()
	result.http_status = http.get_response_code()
	var body: PackedByteArray = await _read_all(http, timeout_s)
	http.close()
	var parsed: Variant = JSON.parse_string(body.get_string_from_utf8())
	var data: Dictionary = parsed if parsed is Dictionary else {}
	if result.http_status != 200:
		result.error = Trellis2JobModel.parse_connect_error(data, result.http_status)
		return result
	if parsed == null:
		return _fail("internal", "The server answered with invalid JSON.", 200)
	result.ok = true
	result.value = data
	return result


## One WatchJob stream until it ends, breaks or is stopped. Returns [terminal event or null,
## last seq seen, error Result or null].
func _watch_once(job_name: String, after_seq: int) -> Array:
	var request := Trellis2Requests.watch_job(_host_header(), api_key, job_name, after_seq)
	var sent: Array = await _send(request, UNARY_TIMEOUT_S)
	if sent[1] != null:
		return [null, after_seq, sent[1]]
	var http: HTTPClient = sent[0]
	var status: int = http.get_response_code()
	if status != 200:
		var body: PackedByteArray = await _read_all(http, UNARY_TIMEOUT_S)
		http.close()
		var parsed: Variant = JSON.parse_string(body.get_string_from_utf8())
		var failed := Result.new()
		failed.error = Trellis2JobModel.parse_connect_error(
			parsed if parsed is Dictionary else {}, status
		)
		return [null, after_seq, failed]
	var decoder := Trellis2Envelope.new()
	var last_seq: int = after_seq
	var last_byte_ms: int = Time.get_ticks_msec()
	while http.get_status() == HTTPClient.STATUS_BODY and not _stop_watch.get(job_name, false):
		http.poll()
		var chunk: PackedByteArray = http.read_response_body_chunk()
		if chunk.is_empty():
			if Time.get_ticks_msec() - last_byte_ms > int(STREAM_IDLE_TIMEOUT_S * 1000.0):
				break
			await _tree_frame()
			continue
		last_byte_ms = Time.get_ticks_msec()
		decoder.feed(chunk)
		var frame: Trellis2Envelope.Frame = decoder.next_frame()
		while frame != null:
			if frame.is_end_stream():
				http.close()
				var trailer: Dictionary = frame.json()
				if trailer.has("error") and trailer["error"] is Dictionary:
					var ended := Result.new()
					ended.error = Trellis2JobModel.parse_connect_error(trailer["error"])
					return [null, last_seq, ended]
				return [null, last_seq, null]
			var event := Trellis2JobModel.parse_event(frame.json())
			if event.kind != "heartbeat" and event.seq > last_seq:
				last_seq = event.seq
				_dispatch(job_name, event)
				if event.is_terminal():
					http.close()
					return [event, last_seq, null]
			frame = decoder.next_frame()
		if not decoder.get_error().is_empty():
			http.close()
			return [null, last_seq, _fail("internal", decoder.get_error())]
	http.close()
	return [null, last_seq, null]


func _dispatch(job_name: String, event: Trellis2JobModel.JobEvent) -> void:
	job_event_received.emit(event)
	match event.kind:
		"queued":
			job_queued.emit(job_name, event.queue_position)
		"started":
			job_progressed.emit(job_name, "started", 0.0, -1.0)
		"progress":
			job_progressed.emit(job_name, event.stage, event.fraction, event.eta_seconds)
		"preview":
			job_preview_ready.emit(job_name, event)
		"completed":
			job_completed.emit(job_name, event)
		"failed":
			job_failed.emit(job_name, event.error.code, explain(event.error))
		"canceled":
			job_canceled.emit(job_name)


func _host_header() -> String:
	return Trellis2Requests.parse_base_url(server_url)["host_header"]


static func _sha256_of_file(path: String) -> String:
	var file := FileAccess.open(path, FileAccess.READ)
	if file == null:
		return ""
	var context := HashingContext.new()
	context.start(HashingContext.HASH_SHA256)
	while file.get_position() < file.get_length():
		context.update(file.get_buffer(HASH_CHUNK_BYTES))
	return context.finish().hex_encode()


#endregion


#region Public Functions
## A sentence for the dock: what went wrong and what to do about it.
static func explain(error: Trellis2JobModel.ApiError) -> String:
	var text: String = error.message
	match error.code_name:
		"unauthenticated":
			return (
				"The server needs an API key (%s). Set yours in Editor Settings > trellis2/api_key."
				% text
			)
		"permission_denied":
			return "Your API key may not do this (%s). Ask the server admin for a key." % text
		"invalid_argument", "out_of_range", "failed_precondition":
			return "The server refused the request: %s. Check the image and options." % text
		"resource_exhausted":
			return "The server is busy or over quota: %s. Wait a moment and try again." % text
		"unavailable":
			return "%s Check the server is running and trellis2/server/url is right." % text
		"not_found":
			return "The server does not know this job or file (%s). Generate it again." % text
		"deadline_exceeded":
			return "Timed out: %s. Retry; a busy server may need a longer wait." % text
		"unimplemented":
			return "The server does not offer this call (%s). Update the server." % text
		"canceled":
			return "Canceled."
		"data_loss":
			return "A download was corrupted (%s). It will be fetched again." % text
	return "The server hit an error: %s. Retry; if it persists, send its log to the admin." % text


## [code]GetServerInfo[/code]; value: the ServerInfo JSON as a Dictionary.
func get_server_info() -> Result:
	return await _unary(Trellis2Requests.server_info(_host_header(), api_key))


## [code]CreateJob[/code]; value: a [Trellis2JobModel.Job]. See
## [method Trellis2Requests.create_job_message] for [param options].
func create_job(image: PackedByteArray, options: Dictionary) -> Result:
	var result: Result = await _unary(
		Trellis2Requests.create_job(_host_header(), api_key, image, options), UPLOAD_TIMEOUT_S
	)
	if result.ok:
		result.value = Trellis2JobModel.parse_job(result.value)
	return result


## [code]GetJob[/code]; value: a [Trellis2JobModel.Job].
func get_job(job_name: String) -> Result:
	var result: Result = await _unary(Trellis2Requests.get_job(_host_header(), api_key, job_name))
	if result.ok:
		result.value = Trellis2JobModel.parse_job(result.value)
	return result


## [code]CancelJob[/code]; value: the [Trellis2JobModel.Job]. The watch stream then ends with
## a canceled event.
func cancel_job(job_name: String) -> Result:
	var result: Result = await _unary(
		Trellis2Requests.cancel_job(_host_header(), api_key, job_name)
	)
	if result.ok:
		result.value = Trellis2JobModel.parse_job(result.value)
	return result


## [code]ListJobs[/code] (the team's history, newest first); value: Array of
## [Trellis2JobModel.Job].
func list_jobs(page_size: int = 50) -> Result:
	var result: Result = await _unary(
		Trellis2Requests.list_jobs(_host_header(), api_key, page_size)
	)
	if result.ok:
		var jobs: Array = []
		for item: Variant in result.value.get("jobs", []):
			if item is Dictionary:
				jobs.append(Trellis2JobModel.parse_job(item))
		result.value = jobs
	return result


## Follows a job from [param after_seq] until it ends, emitting the job signals. Reconnects
## after network failures, resuming from the last seq seen. Value: the terminal
## [Trellis2JobModel.JobEvent] (null when stopped with [method stop_watch]).
func watch_job(job_name: String, after_seq: int = 0) -> Result:
	_stop_watch[job_name] = false
	var last_seq: int = after_seq
	var failures: int = 0
	var result := Result.new()
	while not _stop_watch.get(job_name, false):
		var outcome: Array = await _watch_once(job_name, last_seq)
		if outcome[1] > last_seq:
			failures = 0
		last_seq = outcome[1]
		result.last_seq = last_seq
		if outcome[0] != null:
			result.ok = true
			result.value = outcome[0]
			break
		var error: Result = outcome[2]
		if (
			error != null
			and error.error.code_name not in ["unavailable", "deadline_exceeded", "internal"]
		):
			result.error = error.error
			break
		failures += 1
		if failures > MAX_RECONNECTS:
			result.error = (
				error.error
				if error != null
				else _fail("unavailable", "The stream keeps dropping.").error
			)
			break
		var wait_s: float = min(16.0, pow(2.0, failures - 1))
		var why: String = error.error.message if error != null else "the stream ended early"
		watch_interrupted.emit(job_name, why, wait_s)
		await get_tree().create_timer(wait_s).timeout
	_stop_watch.erase(job_name)
	return result


## Stops following [param job_name] (the job keeps running on the server).
func stop_watch(job_name: String) -> void:
	if _stop_watch.has(job_name):
		_stop_watch[job_name] = true


## Downloads [param artifact] to [param dest_path] (absolute or res://), resuming a partial
## [code]<dest>.part[/code] file with [code]Range[/code], then checks the SHA-256. Value: the path.
func download(artifact: Trellis2JobModel.Artifact, dest_path: String) -> Result:
	var dest: String = ProjectSettings.globalize_path(dest_path)
	var part: String = dest + ".part"
	if FileAccess.file_exists(dest) and _sha256_of_file(dest) == artifact.digest:
		var cached := Result.new()
		cached.ok = true
		cached.value = dest_path
		return cached
	DirAccess.make_dir_recursive_absolute(dest.get_base_dir())
	for attempt: int in range(3):
		var offset: int = 0
		if FileAccess.file_exists(part):
			offset = FileAccess.open(part, FileAccess.READ).get_length()
		var request := Trellis2Requests.download(_host_header(), api_key, artifact.digest, offset)
		var sent: Array = await _send(request, UNARY_TIMEOUT_S)
		if sent[1] != null:
			if attempt == 2:
				return sent[1]
			continue
		var http: HTTPClient = sent[0]
		var status: int = http.get_response_code()
		var file: FileAccess = null
		if status == 206 and offset > 0:
			file = FileAccess.open(part, FileAccess.READ_WRITE)
			file.seek_end()
		elif status == 200:
			offset = 0
			file = FileAccess.open(part, FileAccess.WRITE)
		elif status == 416:
			http.close()
			DirAccess.remove_absolute(part)
			continue
		else:
			var body: PackedByteArray = await _read_all(http, UNARY_TIMEOUT_S)
			http.close()
			var parsed: Variant = JSON.parse_string(body.get_string_from_utf8())
			var failed := Result.new()
			failed.http_status = status
			failed.error = Trellis2JobModel.parse_connect_error(
				parsed if parsed is Dictionary else {}, status
			)
			if status == 404:
				failed.error.code_name = "not_found"
			return failed
		if file == null:
			http.close()
			return _fail(
				"internal",
				"Cannot write %s (%s)." % [part, error_string(FileAccess.get_open_error())]
			)
		var received: int = offset
		var last_byte_ms: int = Time.get_ticks_msec()
		while http.get_status() == HTTPClient.STATUS_BODY:
			http.poll()
			var chunk: PackedByteArray = http.read_response_body_chunk()
			if chunk.is_empty():
				if Time.get_ticks_msec() - last_byte_ms > int(DOWNLOAD_IDLE_TIMEOUT_S * 1000.0):
					break
				await _tree_frame()
				continue
			last_byte_ms = Time.get_ticks_msec()
			file.store_buffer(chunk)
			received += chunk.size()
			download_progressed.emit(artifact.digest, received, artifact.size_bytes)
		file.close()
		http.close()
		if artifact.size_bytes > 0 and received < artifact.size_bytes:
			continue  # cut short: resume from what we have
		if _sha256_of_file(part) != artifact.digest:
			DirAccess.remove_absolute(part)
			continue
		if FileAccess.file_exists(dest):
			DirAccess.remove_absolute(dest)
		DirAccess.rename_absolute(part, dest)
		var done := Result.new()
		done.ok = true
		done.value = dest_path
		return done
	return _fail("data_loss", "Could not download %s intact after 3 tries." % artifact.filename)


## Downloads a small artifact (a thumbnail) into memory and checks its digest. Value: bytes.
func download_bytes(artifact: Trellis2JobModel.Artifact) -> Result:
	var request := Trellis2Requests.download(_host_header(), api_key, artifact.digest)
	var sent: Array = await _send(request, UNARY_TIMEOUT_S)
	if sent[1] != null:
		return sent[1]
	var http: HTTPClient = sent[0]
	var status: int = http.get_response_code()
	var body: PackedByteArray = await _read_all(http, UNARY_TIMEOUT_S)
	http.close()
	if status != 200:
		return _fail("not_found" if status == 404 else "unknown", "HTTP %d" % status, status)
	var context := HashingContext.new()
	context.start(HashingContext.HASH_SHA256)
	context.update(body)
	if context.finish().hex_encode() != artifact.digest:
		return _fail("data_loss", "digest mismatch for " + artifact.filename)
	var result := Result.new()
	result.ok = true
	result.value = body
	return result


#endregion


## The outcome of one call: [member ok] and [member value], or [member error].
class Result:
	extends RefCounted
	var ok: bool = false
	var value: Variant = null
	var error: Trellis2JobModel.ApiError = null
	var http_status: int = 0
	## For watches: the last event seq seen (persist it to reattach later).
	var last_seq: int = 0

	## The error explained for the dock, or "".
	func message() -> String:
		return "" if error == null else Trellis2Client.explain(error)
