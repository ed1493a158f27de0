"""The composition root: the CLI, the servers, the scheduler's wiring, the Flask factory and
every blueprint.  The only package that imports ``publicity``; nothing imports it."""
