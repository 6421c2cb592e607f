"""Reads SQL statements as Athena reads them, with sqlglot's Athena dialect (Hive DDL, Trino DML).

stdin: a JSON list of {"name": ..., "sql": ...}. stdout: a JSON list, one entry per statement:
  {"name", "ok": true, "kind": the statement's node type, "functions": names sqlglot does not
   model (it parses them as anonymous calls), "duckdb": the statement transpiled to DuckDB
   (queries only), "athena": the statement generated back in the Athena dialect}
or {"name", "ok": false, "error": sqlglot's message}.
"""
import json
import sys

import sqlglot
from sqlglot import exp


def read(name, sql):
    try:
        tree = sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as e:
        return {"name": name, "ok": False, "error": str(e)}
    out = {
        "name": name,
        "ok": True,
        "kind": type(tree).__name__,
        "functions": sorted({f.name.lower() for f in tree.find_all(exp.Anonymous)}),
        "athena": tree.sql(dialect="athena"),
    }
    if isinstance(tree, exp.Query):
        out["duckdb"] = tree.sql(dialect="duckdb")
    return out


if __name__ == "__main__":
    statements = json.load(sys.stdin)
    json.dump([read(s["name"], s["sql"]) for s in statements], sys.stdout)
