# SPDX-License-Identifier: MIT
"""Durable jobs: SQLite store, event fan-out, fair scheduling."""
