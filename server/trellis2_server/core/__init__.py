# SPDX-License-Identifier: MIT
"""The transport-independent core: validation, auth, idempotency, cache, submit/watch/cancel."""
