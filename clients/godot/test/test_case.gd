# SPDX-License-Identifier: MIT
class_name Trellis2TestCase
extends RefCounted
## A small GUT-style base for the addon's tests (same assert names as GUT's GutTest), so the
## suite runs with a bare Godot binary: see test/run_tests.gd.

#region Public Variables
## Failure messages of the test that is running.
var failures: PackedStringArray = PackedStringArray()
## Assertions checked so far.
var assertion_count: int = 0
#endregion


#region Private Functions
func _record(passed: bool, text: String) -> void:
	assertion_count += 1
	if not passed:
		failures.append(text)


#endregion


#region Public Functions
## Called before each test; override to set up.
func before_each() -> void:
	pass


func assert_eq(got: Variant, expected: Variant, text: String = "") -> void:
	_record(
		typeof(got) == typeof(expected) and got == expected,
		"%s: expected %s, got %s" % [text, var_to_str(expected), var_to_str(got)]
	)


func assert_ne(got: Variant, other: Variant, text: String = "") -> void:
	_record(got != other, "%s: did not expect %s" % [text, var_to_str(other)])


func assert_true(value: bool, text: String = "") -> void:
	_record(value, "%s: expected true" % text)


func assert_false(value: bool, text: String = "") -> void:
	_record(not value, "%s: expected false" % text)


func assert_almost_eq(got: float, expected: float, error: float, text: String = "") -> void:
	_record(
		absf(got - expected) <= error, "%s: expected %f ± %f, got %f" % [text, expected, error, got]
	)


func assert_has(container: Variant, item: Variant, text: String = "") -> void:
	_record(item in container, "%s: %s not in %s" % [text, var_to_str(item), var_to_str(container)])


func assert_null(value: Variant, text: String = "") -> void:
	_record(value == null, "%s: expected null, got %s" % [text, var_to_str(value)])


func assert_not_null(value: Variant, text: String = "") -> void:
	_record(value != null, "%s: expected a value, got null" % text)

#endregion
