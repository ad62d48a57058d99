"""`make bench`: how fast this bot answers, compared with a default `rasa init` bot.

A benchmark, not a test: it prints figures and writes them to results/bench.json and
results/bench.md; nothing fails when a target is missed. In one run, on this machine:

1. Training time: a default bot made with `rasa init --no-prompt` in build/bench/baseline
   (the baseline), and a copy of this bot trained into build/bench/models (never models/).
   Both trainings are forced (no cache reuse).
2. For each server setup (the baseline; this bot in one process with in-memory stores, as
   `make run`; this bot on endpoints.production.yml, PostgreSQL tracker store and Redis lock
   store, or on Rasa's Redis tracker and lock stores without it, with one Rasa server and
   with two, each user talking to one of them): the time from process start to the first
   answer, then one user at a time
   (median and p95 latency), then 32 concurrent users (throughput, p95), and the peak memory
   (RSS, children included) of the Rasa process.
3. A profile of this bot's Rasa server under the 32-user load (py-spy), split by where the time
   goes: NLU components, policies, tracker store, Rasa's processor, Sanic.

The load comes from `python -m scripts.bench client`, a separate process (asyncio +
aiohttp): each virtual user plays whole conversations from a realistic mix, with a new sender
id per conversation and no pause between messages (closed loop). The client's own CPU use is
reported, and so is the CPU used by other processes on the machine during each load phase
(when it is more than a few percent, the machine was shared and the figures are pessimistic).

Run `python -m scripts.bench --help` for the options (a shorter --quick run, another config).

The parts: settings.py (paths, targets), mixes.py (the conversations played), load.py (the
load client and its statistics), machine.py (CPU and memory from /proc), setups.py (the
servers of each setup, training, one measurement), profile.py (py-spy's samples by
component), report.py (results/bench.md), __main__.py (the run). PostgreSQL and Redis come
from scripts/services.py, as for the production tests.
"""
