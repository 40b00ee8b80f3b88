# SPDX-License-Identifier: MIT
@tool
class_name Trellis2PreviewView
extends SubViewportContainer
## A small turntable 3D view for the dock: shows a preview model (.glb bytes, e.g. the coarse
## voxels that arrive long before the textured asset) loaded at runtime with [GLTFDocument].
##
## UI only. The model is framed from its bounding box and turns slowly (a looping [Tween]).

#region Constants
## Seconds per turn of the turntable.
const TURN_SECONDS: float = 12.0
#endregion

#region Private Variables
var _viewport: SubViewport
var _pivot: Node3D
var _camera: Camera3D
var _tween: Tween = null
#endregion


#region Private Functions
func _init() -> void:
	stretch = true
	custom_minimum_size = Vector2(0, 180)
	_viewport = SubViewport.new()
	_viewport.own_world_3d = true
	_viewport.transparent_bg = true
	_viewport.render_target_update_mode = SubViewport.UPDATE_WHEN_VISIBLE
	add_child(_viewport)
	var light := DirectionalLight3D.new()
	light.rotation_degrees = Vector3(-40.0, 35.0, 0.0)
	_viewport.add_child(light)
	var environment := Environment.new()
	environment.ambient_light_source = Environment.AMBIENT_SOURCE_COLOR
	environment.ambient_light_color = Color(0.6, 0.6, 0.65)
	var world := WorldEnvironment.new()
	world.environment = environment
	_viewport.add_child(world)
	_camera = Camera3D.new()
	_viewport.add_child(_camera)
	_pivot = Node3D.new()
	_viewport.add_child(_pivot)


static func _bounds(root: Node3D) -> AABB:
	var box := AABB()
	var first: bool = true
	for node: Node in root.find_children("*", "VisualInstance3D", true, false):
		var visual := node as VisualInstance3D
		var local: AABB = (
			root.global_transform.affine_inverse() * visual.global_transform * visual.get_aabb()
		)
		box = local if first else box.merge(local)
		first = false
	return box


#endregion


#region Public Functions
## Removes the model.
func clear() -> void:
	if _tween != null:
		_tween.kill()
		_tween = null
	for child: Node in _pivot.get_children():
		child.queue_free()
	_pivot.rotation = Vector3.ZERO


## Shows the glTF binary [param glb]. Returns false when it cannot be parsed.
func show_glb(glb: PackedByteArray) -> bool:
	clear()
	var document := GLTFDocument.new()
	var state := GLTFState.new()
	if document.append_from_buffer(glb, "", state) != OK:
		return false
	var scene := document.generate_scene(state) as Node3D
	if scene == null:
		return false
	_pivot.add_child(scene)
	var box: AABB = _bounds(scene)
	var radius: float = maxf(box.size.length() * 0.5, 0.01)
	scene.position = -box.get_center()
	_camera.position = Vector3(0.0, radius * 0.5, radius * 2.6)
	_camera.look_at(Vector3.ZERO)
	_camera.near = radius * 0.01
	_camera.far = radius * 20.0
	_tween = create_tween().set_loops()
	_tween.tween_property(_pivot, "rotation:y", TAU, TURN_SECONDS).from(0.0)
	return true

#endregion
