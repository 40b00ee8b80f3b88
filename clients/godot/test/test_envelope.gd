# SPDX-License-Identifier: MIT
extends Trellis2TestCase
## Connect envelope framing (envelope.gd).


func _stream(frames: Array) -> PackedByteArray:
	var out := PackedByteArray()
	for frame: Array in frames:
		out.append_array(Trellis2Envelope.encode(frame[1].to_utf8_buffer(), frame[0]))
	return out


func test_encode_writes_flag_and_big_endian_length_before_the_payload() -> void:
	var bytes: PackedByteArray = Trellis2Envelope.encode("abc".to_utf8_buffer(), 2)
	assert_eq(bytes, PackedByteArray([2, 0, 0, 0, 3, 97, 98, 99]), "envelope bytes")


func test_encode_json_sorts_keys_without_spaces() -> void:
	var bytes: PackedByteArray = Trellis2Envelope.encode_json({"b": 1, "a": "x"})
	assert_eq(bytes.slice(5).get_string_from_utf8(), '{"a":"x","b":1}', "payload")
	assert_eq(bytes[4], 15, "length byte")


func test_frames_split_across_every_byte_boundary_decode_in_order() -> void:
	var body: PackedByteArray = _stream([[0, '{"seq":"1"}'], [0, '{"seq":"2"}'], [2, "{}"]])
	var decoder := Trellis2Envelope.new()
	var seen: Array = []
	for i: int in range(body.size()):
		decoder.feed(body.slice(i, i + 1))
		var frame: Trellis2Envelope.Frame = decoder.next_frame()
		while frame != null:
			seen.append([frame.flags, frame.payload.get_string_from_utf8()])
			frame = decoder.next_frame()
	assert_eq(seen, [[0, '{"seq":"1"}'], [0, '{"seq":"2"}'], [2, "{}"]], "frames")
	assert_true(decoder.has_ended(), "ended")
	assert_eq(decoder.pending_bytes(), 0, "nothing left over")


func test_two_frames_in_one_chunk_both_come_out() -> void:
	var decoder := Trellis2Envelope.new()
	decoder.feed(_stream([[0, "{}"], [0, '{"a":1}']]))
	assert_not_null(decoder.next_frame(), "first")
	assert_eq(decoder.next_frame().json(), {"a": 1.0}, "second parsed as JSON")
	assert_null(decoder.next_frame(), "no third")


func test_end_stream_frame_exposes_the_error_trailer() -> void:
	var decoder := Trellis2Envelope.new()
	decoder.feed(_stream([[2, '{"error":{"code":"not_found","message":"no job"}}']]))
	var frame: Trellis2Envelope.Frame = decoder.next_frame()
	assert_true(frame.is_end_stream(), "end flag")
	assert_eq(frame.json()["error"]["code"], "not_found", "error code")


func test_compressed_frame_is_refused_with_an_error() -> void:
	var decoder := Trellis2Envelope.new()
	decoder.feed(_stream([[1, "xx"]]))
	assert_null(decoder.next_frame(), "no frame")
	assert_true(decoder.get_error().contains("compressed"), "error says why")


func test_oversized_length_is_refused_before_buffering_it() -> void:
	var decoder := Trellis2Envelope.new()
	decoder.feed(PackedByteArray([0, 0x7F, 0xFF, 0xFF, 0xFF]))
	assert_null(decoder.next_frame(), "no frame")
	assert_true(decoder.get_error().contains("limit"), "error says why")


func test_incomplete_frame_waits_for_more_bytes() -> void:
	var decoder := Trellis2Envelope.new()
	decoder.feed(_stream([[0, '{"a":1}']]).slice(0, 7))
	assert_null(decoder.next_frame(), "incomplete")
	assert_eq(decoder.get_error(), "", "not an error")
