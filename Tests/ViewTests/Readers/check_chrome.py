"""Checks `hvtrace export --format chrome` output against the Trace Event Format (JSON Object
Format) with a JSON Schema (trace-event-format.schema.json beside this file) and against the
format's rules a viewer relies on: complete events of one thread nest (a phase lies inside its
exit), counters carry numbers, every thread and process is named. Prints a summary; exits 1 with
the problems if any. Usage: check_chrome.py FILE"""
import collections
import json
import os
import sys

import jsonschema

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "trace-event-format.schema.json")) as f:
    schema = json.load(f)
with open(sys.argv[1]) as f:
    trace = json.load(f)

problems = [f"schema: {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in sorted(jsonschema.Draft202012Validator(schema).iter_errors(trace), key=str)][:20]
events = trace["traceEvents"]
threads = collections.defaultdict(list)
for event in events:
    if event["ph"] == "X":
        threads[(event["pid"], event["tid"])].append(event)
exits = collections.Counter()
phases = collections.Counter()
eps = 1e-9
for key, slices in threads.items():
    slices.sort(key=lambda e: (e["ts"], -e["dur"]))
    stack = []
    for event in slices:
        end = event["ts"] + event["dur"]
        while stack and stack[-1][1] <= event["ts"] + eps:
            stack.pop()
        if stack and end > stack[-1][1] + 1e-6:
            problems.append(f"thread {key}: {event['name']} at {event['ts']} ends after its parent {stack[-1][0]['name']}")
        if event["cat"] == "exit":
            if stack:
                problems.append(f"thread {key}: exit {event['name']} at {event['ts']} overlaps exit {stack[0][0]['name']}")
            exits[event["name"]] += 1
        else:
            if not stack:
                problems.append(f"thread {key}: phase {event['name']} at {event['ts']} outside any exit")
            phases[event["name"]] += 1
        stack.append((event, end))
named_threads = {(e["pid"], e.get("tid")) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
named_processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
for key in threads:
    if key not in named_threads:
        problems.append(f"thread {key} has no thread_name")
    if key[0] not in named_processes:
        problems.append(f"process {key[0]} has no process_name")
counters = collections.Counter(e["name"] for e in events if e["ph"] == "C")
instants = collections.Counter(e["cat"] for e in events if e["ph"] in ("i", "I"))
summary = {"exits": exits, "phases": phases, "counters": counters, "instants": instants,
           "threads": sorted(f"{e['pid']}/{e.get('tid')}={e['args']['name']}" for e in events
                             if e["ph"] == "M" and e["name"] == "thread_name"),
           "displayTimeUnit": trace.get("displayTimeUnit"), "problems": problems}
print(json.dumps(summary))
sys.exit(1 if problems else 0)
