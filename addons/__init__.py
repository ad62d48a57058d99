"""Parts that run inside the Rasa server: the hardened REST channel, NLU components, the
tracker store, and faster versions of Rasa internals (addons/speedups.py, addons/fast_diet.py).

Rasa imports them by module path (credentials.yml, config.yml, endpoints.production.yml); it
puts the working directory on sys.path, so `make run`/`make test` start Rasa from the
repository root. TRIAGE_RASA_SPEEDUPS=0 keeps Rasa's own code (for comparisons).
"""

import os

from addons import fast_diet, speedups

if os.environ.get("TRIAGE_RASA_SPEEDUPS", "1") != "0":
    speedups.install()
    fast_diet.install()
