"""Distributed execution of ``serve``'s jobs: Celery workers over Redis (``queue.broker_url``).

``model.py`` holds the executor seam (no third-party imports); ``celery_app.py`` the Celery
application and its settings; ``executor.py`` the producer side ``serve`` uses; ``worker.py``
starts ``patchwarden worker``; ``ratelimit.py`` the fleet-wide token bucket in Redis. Why
Celery over Redis: docs/deployment.md.
"""
