# SPDX-License-Identifier: MIT
"""Transport adapters: the grpc.aio servicer, the Connect/HTTP app, error mapping."""
