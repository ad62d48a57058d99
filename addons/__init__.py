"""Parts that run inside the Rasa server: the hardened REST channel and an NLU component.

Rasa imports them by module path (credentials.yml, config.yml); it puts the working directory
on sys.path, so `make run`/`make test` start Rasa from the repository root.
"""
