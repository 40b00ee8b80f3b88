# SPDX-License-Identifier: MIT
@tool
class_name Trellis2Requests
extends RefCounted
## Builds every HTTP/1.1 request the addon sends, as pure data (no networking).
##
## The Connect protocol maps each RPC of [code]trellis2.v1.AssetGenerationService[/code] to
## [code]POST /trellis2.v1.AssetGenerationService/<Method>[/code]:
## [br]- unary calls send [code]Content-Type: application/json[/code] and the request message
## as canonical proto JSON (lowerCamelCase fields, enum names, int64 as strings);
## [br]- server-streaming calls send [code]Content-Type: application/connect+json[/code] and
## the message in one envelope (see [Trellis2Envelope]).
## [br]Artifacts download with [code]GET /v1/artifacts/<sha256>[/code] and a [code]Range[/code]
## header when resuming.
## [br][br]Every header is set explicitly, so [HTTPClient] adds none of its own and
## [method Request.to_wire] is exactly the bytes on the wire. The recorded fixtures in
## [code]protocol_fixtures/[/code] are these bytes; the server's CI replays them.

#region Constants
const SERVICE_PATH: String = "/trellis2.v1.AssetGenerationService/"
const ARTIFACT_PATH: String = "/v1/artifacts/"
const USER_AGENT: String = "trellis2-godot/0.1.0"
const JSON_TYPE: String = "application/json"
const STREAM_TYPE: String = "application/connect+json"
#endregion


#region Public Functions
## Splits a server URL ([code]http(s)://host[:port][/prefix][/code]) into what
## [method HTTPClient.connect_to_host] needs. Returns [code]{ok, error, tls, host, port,
## prefix, host_header}[/code].
static func parse_base_url(url: String) -> Dictionary:
	var out := {
		"ok": false,
		"error": "",
		"tls": false,
		"host": "",
		"port": 0,
		"prefix": "",
		"host_header": ""
	}
	var text: String = url.strip_edges()
	if text.begins_with("https://"):
		out["tls"] = true
		text = text.substr(8)
	elif text.begins_with("http://"):
		text = text.substr(7)
	else:
		out["error"] = (
			(
				"The server URL must start with http:// or https:// (got '%s'). "
				+ "Fix it in Project Settings > trellis2/server/url."
			)
			% url
		)
		return out
	var slash: int = text.find("/")
	var authority: String = text if slash < 0 else text.substr(0, slash)
	var prefix: String = "" if slash < 0 else text.substr(slash).rstrip("/")
	var host: String = authority
	var port: int = 443 if out["tls"] else 80
	var colon: int = authority.rfind(":")
	if colon > 0 and not authority.ends_with("]"):
		host = authority.substr(0, colon)
		var port_text: String = authority.substr(colon + 1)
		if not port_text.is_valid_int() or int(port_text) < 1 or int(port_text) > 65535:
			out["error"] = "The server URL has an invalid port '%s'." % port_text
			return out
		port = int(port_text)
	if host.is_empty():
		out["error"] = "The server URL has no host name: '%s'." % url
		return out
	out["ok"] = true
	out["host"] = host.trim_prefix("[").trim_suffix("]")
	out["port"] = port
	out["prefix"] = prefix
	var default_port: int = 443 if out["tls"] else 80
	out["host_header"] = host if port == default_port else "%s:%d" % [host, port]
	return out


## The canonical JSON of a [code]CreateJobRequest[/code] from the dock's settings.
## [param options] keys (all optional): pipeline_type (enum name), seed (int, -1 = server draws
## one), texture_size, decimation_target, texture_format ("webp"/"png"), container
## ("gltf"/"glb"), normal_map (bool), request_id, display_name, backend, priority.
static func create_job_message(image: PackedByteArray, options: Dictionary) -> Dictionary:
	var export_options := {
		"profile": "OUTPUT_PROFILE_GODOT",
		"container":
		(
			"ASSET_CONTAINER_GLB"
			if str(options.get("container", "gltf")) == "glb"
			else "ASSET_CONTAINER_GLTF"
		),
		"textureFormat":
		(
			"TEXTURE_FORMAT_PNG"
			if str(options.get("texture_format", "webp")) == "png"
			else "TEXTURE_FORMAT_WEBP"
		),
		"extraTextures": ["EXTRA_TEXTURE_ORM"],
		"normalMap": bool(options.get("normal_map", true)),
	}
	if int(options.get("texture_size", 0)) > 0:
		export_options["textureSize"] = int(options["texture_size"])
	if int(options.get("decimation_target", 0)) > 0:
		export_options["decimationTarget"] = int(options["decimation_target"])
	var message := {"image": Marshalls.raw_to_base64(image), "exportOptions": export_options}
	var pipeline: String = str(options.get("pipeline_type", ""))
	if not pipeline.is_empty() and pipeline != "PIPELINE_TYPE_UNSPECIFIED":
		message["pipelineType"] = pipeline
	if int(options.get("seed", -1)) >= 0:
		message["seed"] = str(int(options["seed"]))  # int64 travels as a JSON string
	for key: String in ["request_id", "display_name", "backend"]:
		var value: String = str(options.get(key, ""))
		if not value.is_empty():
			message[key.to_camel_case()] = value
	if int(options.get("priority", 0)) != 0:
		message["priority"] = int(options["priority"])
	return message


## [code]CreateJob[/code] (unary).
static func create_job(
	host_header: String, api_key: String, image: PackedByteArray, options: Dictionary
) -> Request:
	return unary(host_header, api_key, "CreateJob", create_job_message(image, options))


## [code]WatchJob[/code] (server streaming): events with seq > [param after_seq].
static func watch_job(
	host_header: String, api_key: String, job_name: String, after_seq: int
) -> Request:
	var message := {"name": job_name}
	if after_seq > 0:
		message["afterSeq"] = str(after_seq)
	return streaming(host_header, api_key, "WatchJob", message)


## [code]CancelJob[/code] (unary).
static func cancel_job(host_header: String, api_key: String, job_name: String) -> Request:
	return unary(host_header, api_key, "CancelJob", {"name": job_name})


## [code]GetJob[/code] (unary).
static func get_job(host_header: String, api_key: String, job_name: String) -> Request:
	return unary(host_header, api_key, "GetJob", {"name": job_name})


## [code]ListJobs[/code] (unary), newest first.
static func list_jobs(
	host_header: String, api_key: String, page_size: int, page_token: String = ""
) -> Request:
	var message := {"pageSize": page_size}
	if not page_token.is_empty():
		message["pageToken"] = page_token
	return unary(host_header, api_key, "ListJobs", message)


## [code]GetServerInfo[/code] (unary).
static func server_info(host_header: String, api_key: String) -> Request:
	return unary(host_header, api_key, "GetServerInfo", {})


## [code]GET /v1/artifacts/<digest>[/code], from byte [param offset] when resuming.
static func download(
	host_header: String, api_key: String, digest: String, offset: int = 0
) -> Request:
	var request := Request.new()
	request.method = HTTPClient.METHOD_GET
	request.path = ARTIFACT_PATH + digest
	request.headers = _base_headers(host_header, api_key, "")
	if offset > 0:
		request.headers.append("Range: bytes=%d-" % offset)
	return request


## A unary Connect call with a JSON body.
static func unary(
	host_header: String, api_key: String, method_name: String, message: Dictionary
) -> Request:
	var request := Request.new()
	request.method = HTTPClient.METHOD_POST
	request.path = SERVICE_PATH + method_name
	request.body = JSON.stringify(message, "", true).to_utf8_buffer()
	request.headers = _base_headers(host_header, api_key, JSON_TYPE)
	request.headers.append("Content-Length: %d" % request.body.size())
	return request


## A server-streaming Connect call: the message in one envelope.
static func streaming(
	host_header: String, api_key: String, method_name: String, message: Dictionary
) -> Request:
	var request := Request.new()
	request.method = HTTPClient.METHOD_POST
	request.path = SERVICE_PATH + method_name
	request.streaming = true
	request.body = Trellis2Envelope.encode_json(message)
	request.headers = _base_headers(host_header, api_key, STREAM_TYPE)
	request.headers.append("Content-Length: %d" % request.body.size())
	return request


#endregion


#region Private Functions
static func _base_headers(
	host_header: String, api_key: String, content_type: String
) -> PackedStringArray:
	var headers := PackedStringArray(["Host: " + host_header, "User-Agent: " + USER_AGENT])
	if content_type.is_empty():
		headers.append("Accept: */*")
	else:
		headers.append("Accept: " + content_type)
		headers.append("Content-Type: " + content_type)
		headers.append("Connect-Protocol-Version: 1")
	if not api_key.is_empty():
		headers.append("Authorization: Bearer " + api_key)
	return headers


#endregion


## One HTTP/1.1 request, ready for [method HTTPClient.request_raw].
class Request:
	extends RefCounted
	## An [enum HTTPClient.Method] value.
	var method: int = HTTPClient.METHOD_GET
	## Path after the server URL's prefix, starting with "/".
	var path: String = "/"
	var headers: PackedStringArray = PackedStringArray()
	var body: PackedByteArray = PackedByteArray()
	## True when the response is a stream of envelopes.
	var streaming: bool = false

	## The method's name as it appears in the request line.
	func method_name() -> String:
		return "GET" if method == HTTPClient.METHOD_GET else "POST"

	## The exact bytes HTTPClient writes for this request (it adds no header of its own because
	## Host, Content-Length, User-Agent and Accept are all present), given the URL prefix.
	func to_wire(prefix: String = "") -> PackedByteArray:
		var head: String = "%s %s%s HTTP/1.1\r\n" % [method_name(), prefix, path]
		for header: String in headers:
			head += header + "\r\n"
		head += "\r\n"
		var out: PackedByteArray = head.to_utf8_buffer()
		out.append_array(body)
		return out
