"""The `rasa` command line, without jax: `python scripts/rasa_cli.py run ...` = `rasa run ...`.

TensorFlow 2.12 installs jax for its TF Lite converter and imports it whenever it is there
(tensorflow/lite/python/util.py, inside `try: ... except ImportError`). Rasa never converts
models to TF Lite; jax costs each Rasa process about 80 MB of memory.
A None entry in sys.modules makes `import jax` raise ImportError, the case TensorFlow handles.
serve.py and scripts/bench/ start this bot's servers with this script.
"""

from __future__ import annotations

import sys

sys.modules["jax"] = None  # type: ignore[assignment]

from rasa.__main__ import main  # noqa: E402 - after the jax entry, on purpose

if __name__ == "__main__":
    sys.argv[0] = "rasa"
    main()
