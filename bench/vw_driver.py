"""Runs Vowpal Wabbit (the `vowpalwabbit` Python package) for the kit's benches and parity tests.

Two modes:

  vw_driver.py run ARGS...     one VW job over a data file: Workspace(ARGS), VW's own parser loop
                               (run_parser, as the vw binary does), finish. Prints one JSON line:
                               {"seconds": wall time of the job, "version": VW's version}.
  vw_driver.py serve           a VW workspace driven over stdin/stdout, one JSON request per line:
                                 {"op": "open", "args": "--cb_explore 7 ..."}  -> {"ok": true}
                                 {"op": "learn", "examples": [...]}            -> {"ok": true}
                                 {"op": "predict", "examples": [...]}          -> {"predictions": [...]}
                                 {"op": "close"}                               -> {"ok": true}
                               An example is one VW text line, or a list of lines (a multi-line
                               ADF example). A prediction is VW's: a pmf for --cb_explore, the score
                               of each action in action order for --cb_adf, a number otherwise.
                               A failed request answers {"error": "..."} and the loop goes on.
"""
import json
import sys
import time

import vowpalwabbit


def open_workspace(args):
    return vowpalwabbit.Workspace(args + " --quiet")


def run(args):
    t0 = time.perf_counter()
    ws = vowpalwabbit.Workspace(" ".join(args) + " --quiet")
    ws.run_parser()
    ws.finish()
    print(json.dumps({"seconds": time.perf_counter() - t0, "version": vowpalwabbit.__version__}))


def serve():
    ws = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "open":
                if ws is not None:
                    ws.finish()
                ws = open_workspace(req["args"])
                reply = {"ok": True, "version": vowpalwabbit.__version__}
            elif op == "learn":
                for ex in req["examples"]:
                    ws.learn(ex)
                reply = {"ok": True}
            elif op == "predict":
                reply = {"predictions": [ws.predict(ex) for ex in req["examples"]]}
            elif op == "close":
                if ws is not None:
                    ws.finish()
                    ws = None
                reply = {"ok": True}
            else:
                reply = {"error": f"unknown op {op!r}: use open, learn, predict or close"}
        except Exception as e:  # answer with the cause; the caller decides
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    if ws is not None:
        ws.finish()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "run":
        run(sys.argv[2:])
    elif len(sys.argv) == 2 and sys.argv[1] == "serve":
        serve()
    else:
        sys.exit("usage: vw_driver.py run VW_ARGS... | vw_driver.py serve")
