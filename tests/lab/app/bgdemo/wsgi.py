"""gunicorn entry point: `gunicorn bgdemo.wsgi:application`. Imported in the worker, so the
tracer provider and its export thread live in the process that serves requests."""
from .app import create_app

application = create_app()
