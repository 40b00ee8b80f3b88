# SPDX-License-Identifier: MIT
@tool
class_name Trellis2Envelope
extends RefCounted
## Connect protocol envelopes: 1 flag byte, a 4-byte big-endian length, then the payload.
##
## Streaming requests and responses carry one JSON message per envelope. The last envelope
## of a response has [constant FLAG_END_STREAM] set and holds
## [code]{"error": {...}, "metadata": {...}}[/code] (both optional). Feed the body bytes to
## [method feed] in whatever pieces the network delivers; [method next_frame] hands back each
## complete frame in order. Pure logic: no networking, no editor API.

#region Constants
## The payload is compressed (we never ask for compression, so a frame with it is an error).
const FLAG_COMPRESSED: int = 0x01
## The end-of-stream frame: its payload is the JSON trailer, not a message.
const FLAG_END_STREAM: int = 0x02
## Flag byte plus 32-bit length.
const HEADER_SIZE: int = 5
## Frames larger than this are refused (a broken or hostile server), in bytes.
const MAX_FRAME_BYTES: int = 64 * 1024 * 1024
#endregion

#region Private Variables
var _buffer: PackedByteArray = PackedByteArray()
var _error: String = ""
var _ended: bool = false
#endregion


#region Public Functions
## Wraps [param payload] in one envelope with [param flags].
static func encode(payload: PackedByteArray, flags: int = 0) -> PackedByteArray:
	var size: int = payload.size()
	var out := PackedByteArray([flags & 0xFF, (size >> 24) & 0xFF, (size >> 16) & 0xFF])
	out.append_array(PackedByteArray([(size >> 8) & 0xFF, size & 0xFF]))
	out.append_array(payload)
	return out


## Wraps the UTF-8 JSON text of [param message] in one envelope (a streaming request body).
static func encode_json(message: Dictionary) -> PackedByteArray:
	return encode(JSON.stringify(message, "", true).to_utf8_buffer())


## Appends received body bytes.
func feed(chunk: PackedByteArray) -> void:
	if not chunk.is_empty():
		_buffer.append_array(chunk)


## Returns the next complete frame, or [code]null[/code] when more bytes are needed or the
## stream is broken (see [method get_error]).
func next_frame() -> Frame:
	if not _error.is_empty() or _buffer.size() < HEADER_SIZE:
		return null
	var flags: int = _buffer[0]
	var size: int = (_buffer[1] << 24) | (_buffer[2] << 16) | (_buffer[3] << 8) | _buffer[4]
	if size > MAX_FRAME_BYTES:
		_error = "envelope of %d bytes exceeds the %d-byte limit" % [size, MAX_FRAME_BYTES]
		return null
	if flags & FLAG_COMPRESSED:
		_error = "the server sent a compressed envelope, which this client never asked for"
		return null
	if flags & ~(FLAG_COMPRESSED | FLAG_END_STREAM):
		_error = "unknown envelope flags 0x%02x" % flags
		return null
	if _buffer.size() < HEADER_SIZE + size:
		return null
	var frame := Frame.new()
	frame.flags = flags
	frame.payload = _buffer.slice(HEADER_SIZE, HEADER_SIZE + size)
	_buffer = _buffer.slice(HEADER_SIZE + size)
	if frame.is_end_stream():
		_ended = true
	return frame


## Bytes received but not yet returned as a frame.
func pending_bytes() -> int:
	return _buffer.size()


## True once the end-of-stream frame has been returned.
func has_ended() -> bool:
	return _ended


## Why the stream is broken, or an empty string.
func get_error() -> String:
	return _error


#endregion


## One decoded envelope.
class Frame:
	extends RefCounted
	var flags: int = 0
	var payload: PackedByteArray = PackedByteArray()

	## True for the trailer frame that ends a stream.
	func is_end_stream() -> bool:
		return (flags & FLAG_END_STREAM) != 0

	## The payload parsed as a JSON object; an empty Dictionary if it is not one.
	func json() -> Dictionary:
		if payload.is_empty():
			return {}
		var parsed: Variant = JSON.parse_string(payload.get_string_from_utf8())
		if parsed is Dictionary:
			return parsed
		return {}
