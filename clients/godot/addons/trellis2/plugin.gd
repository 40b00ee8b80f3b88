# SPDX-License-Identifier: MIT
@tool
extends EditorPlugin
## Registers the TRELLIS.2 settings and dock, and removes the dock again when disabled.
##
## Everything else lives in one script per role: [Trellis2Client] (network),
## [Trellis2JobRunner] (job lifecycle), [Trellis2Importer] (files to scene),
## [Trellis2Settings], [Trellis2JobStore] and the dock (UI only).

#region Constants
const DockScene: PackedScene = preload("res://addons/trellis2/dock.tscn")
#endregion

#region Private Variables
var _dock: Control = null
#endregion


#region Private Functions
func _enter_tree() -> void:
	Trellis2Settings.register()
	_dock = DockScene.instantiate()
	add_control_to_dock(DOCK_SLOT_RIGHT_UL, _dock)
	_dock.call("start")


func _exit_tree() -> void:
	if _dock != null:
		remove_control_from_docks(_dock)
		_dock.queue_free()
		_dock = null


func _get_plugin_name() -> String:
	return "TRELLIS.2"

#endregion
