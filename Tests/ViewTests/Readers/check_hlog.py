"""Reads `hvtrace export --format hlog` output with hdrhistogram's HistogramLogReader and prints,
per tag (exit reason; "" for the untagged all-exits lines), the summed interval histograms'
count, p50, p99 and max (ns), and the interval start times. Usage: check_hlog.py FILE"""
import json
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

reference = HdrHistogram(1, 3_600_000_000_000, 3)
reader = HistogramLogReader(sys.argv[1], reference)
totals = {}
starts = {}
while True:
    histogram = reader.get_next_interval_histogram()
    if histogram is None:
        break
    tag = histogram.get_tag() or ""
    if tag not in totals:
        totals[tag] = HdrHistogram(1, 3_600_000_000_000, 3)
        starts[tag] = []
    totals[tag].add(histogram)
    starts[tag].append(histogram.get_start_time_stamp())
print(json.dumps({tag: {"count": h.get_total_count(), "p50": h.get_value_at_percentile(50),
                        "p99": h.get_value_at_percentile(99), "max": h.get_max_value(),
                        "intervals": len(starts[tag]), "startsMs": starts[tag]}
                  for tag, h in totals.items()}))
