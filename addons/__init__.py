"""Parts that run inside the Rasa server: the hardened REST channel, NLU components, the
tracker store, and faster versions of five Rasa internals (addons/speedups.py).

Rasa imports them by module path (credentials.yml, config.yml, endpoints.production.yml); it
puts the working directory on sys.path, so `make run`/`make test` start Rasa from the
repository root.
"""

from addons import speedups

speedups.install()
