"""Flow control: one subpackage per mechanism, its algorithm apart from its backends.

semaphore (global slots per model), bucket (tokens per minute), breaker (per model),
killswitch (global stop) and budget (per tenant): each has a Redis or Postgres backend for
production and an in-memory one for unit tests, and one contract suite runs over both.
Redis key names live in `keys`, the Lua scripts in `lua/`.
"""
