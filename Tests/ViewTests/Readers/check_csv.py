"""Reads `hvtrace export --format csv` output with DuckDB and prints, per exit reason, what the
report must agree with: count, exact sum/min/max of latency_ticks, and the nearest-rank median
(quantile_disc), plus the columns DuckDB inferred. Usage: check_csv.py FILE"""
import json
import sys

import duckdb

path = sys.argv[1]
con = duckdb.connect()
con.execute("CREATE TABLE exits AS SELECT * FROM read_csv(?, header = true)", [path])
columns = [(row[0], row[1]) for row in con.execute("DESCRIBE exits").fetchall()]
rows = con.execute(
    """SELECT reason, count(*), sum(latency_ticks), min(latency_ticks), max(latency_ticks),
              quantile_disc(latency_ticks, 0.5), quantile_disc(latency_ns, 0.5)
       FROM exits GROUP BY reason ORDER BY reason"""
).fetchall()
print(json.dumps({
    "columns": columns,
    "reasons": {r[0]: {"count": r[1], "sumTicks": int(r[2]), "minTicks": r[3], "maxTicks": r[4],
                       "p50Ticks": r[5], "p50Ns": float(r[6])} for r in rows},
    "vcpus": sorted(v[0] for v in con.execute("SELECT DISTINCT vcpu FROM exits").fetchall()),
}))
