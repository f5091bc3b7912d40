"""Evidence that nothing is lost: crash, concurrency, hostile input, injection, migration.

See docs/reliability.md for what each test proves and the figures of a run.
"""
