# SPDX-License-Identifier: MIT
extends SceneTree
## Runs every [code]test/test_*.gd[/code] suite headless and exits with 1 on any failure.
##
## [codeblock]
## godot --headless --path clients/godot --import          # once: builds the class cache
## godot --headless --path clients/godot -s test/run_tests.gd
## [/codeblock]
## Suites extend [Trellis2TestCase]; every method named [code]test_*[/code] is a test.


#region Private Functions
func _initialize() -> void:
	var failed: int = 0
	var passed: int = 0
	var files: PackedStringArray = DirAccess.get_files_at("res://test")
	files.sort()
	for file: String in files:
		if not file.begins_with("test_") or not file.ends_with(".gd") or file == "test_case.gd":
			continue
		var script: GDScript = load("res://test/" + file)
		for method: Dictionary in script.get_script_method_list():
			var name: String = method["name"]
			if not name.begins_with("test_"):
				continue
			var suite: Trellis2TestCase = script.new()
			suite.before_each()
			await suite.call(name)
			if suite.failures.is_empty() and suite.assertion_count > 0:
				passed += 1
			else:
				failed += 1
				var why: String = (
					"\n    ".join(suite.failures) if suite.failures else "asserted nothing"
				)
				printerr("FAIL %s::%s\n    %s" % [file, name, why])
	print("%d passed, %d failed" % [passed, failed])
	quit(1 if failed > 0 else 0)

#endregion
