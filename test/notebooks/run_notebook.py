"""Executes one notebook with nbclient (the Jupyter client library), cell by cell, in the
notebook's folder, and writes the executed notebook plus a JSON report. Stops at the first failing
cell and reports its index, source, error and outputs (tslab prints TypeScript compile errors as
stderr output of the cell, so the outputs matter).

usage: run_notebook.py INPUT.ipynb OUTPUT.ipynb KERNEL_NAME TIMEOUT_SECONDS
prints the report as one JSON line on stdout."""
import json
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError


def main():
    src, dst, kernel, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=timeout,
        allow_errors=False,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}},
    )
    report = {"ok": True, "cells": [], "failure": None}
    started = time.time()
    try:
        with client.setup_kernel():
            report["kernel_start_seconds"] = round(time.time() - started, 2)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                t0 = time.time()
                try:
                    client.execute_cell(cell, index)
                except (CellExecutionError, CellTimeoutError) as e:
                    report["ok"] = False
                    report["failure"] = {
                        "index": index,
                        "source": cell.source,
                        "error": str(e),
                        "outputs": cell.get("outputs", []),
                    }
                    break
                finally:
                    report["cells"].append({"index": index, "seconds": round(time.time() - t0, 2)})
    except Exception as e:  # kernel failed to start, died, ...
        report["ok"] = False
        report["failure"] = report["failure"] or {"index": None, "source": "", "error": f"{type(e).__name__}: {e}", "outputs": []}
    report["seconds"] = round(time.time() - started, 2)
    # Write atomically: other test files may read test-output/notebooks/ at the same time.
    tmp = dst + ".partial"
    nbformat.write(nb, tmp)
    os.replace(tmp, dst)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
