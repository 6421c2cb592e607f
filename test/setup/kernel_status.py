"""Watches a kernel's busy/idle status (iopub) while it runs two queued long cells and answers a
kernel_info and a completion request in the middle, as a front end does.

usage: kernel_status.py KERNEL_NAME WORKING_DIR
prints one JSON line: the events (receive time, channel, message type, state, which request) and
the summary the test asserts on."""
import asyncio
import json
import sys
import time

from jupyter_client.manager import AsyncKernelManager

CELL_A = "await new Promise((r) => setTimeout(r, 2500)); console.log('A done');"
CELL_B = "await new Promise((r) => setTimeout(r, 1000)); console.log('B done', process.env.CBKIT_TSLAB_DIR);"
REQUESTS = {"A", "B", "kernel_info", "complete"}


async def watch(kernel_name, cwd):
    km = AsyncKernelManager(kernel_name=kernel_name)
    await km.start_kernel(cwd=cwd)
    kc = km.client()
    kc.start_channels()
    events, labels = [], {}
    try:
        await kc.wait_for_ready(timeout=120)
        t0 = time.time()

        async def reader(name, get):
            while True:
                try:
                    msg = await get(timeout=0.05)
                except Exception:  # queue.Empty; the loop ends when the task is cancelled
                    continue
                kind = msg["header"]["msg_type"]
                events.append({
                    "t": round(time.time() - t0, 3),
                    "channel": name,
                    "type": kind,
                    "state": msg["content"].get("execution_state") if kind == "status" else None,
                    "request": labels.get(msg["parent_header"].get("msg_id"), "other"),
                    "text": msg["content"].get("text") if kind == "stream" else None,
                })

        readers = [asyncio.create_task(reader("iopub", kc.get_iopub_msg)), asyncio.create_task(reader("shell", kc.get_shell_msg))]
        labels[kc.execute(CELL_A)] = "A"
        labels[kc.execute(CELL_B)] = "B"
        await asyncio.sleep(0.5)
        labels[kc.kernel_info()] = "kernel_info"
        labels[kc.complete("Math.", 5)] = "complete"

        def finished():
            idled = {e["request"] for e in events if e["state"] == "idle"}
            replied = {e["request"] for e in events if e["channel"] == "shell"}
            return REQUESTS <= idled and REQUESTS <= replied

        while not finished() and time.time() - t0 < 60:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # late stragglers
        for r in readers:
            r.cancel()
        b_reply = next((e["t"] for e in events if e["channel"] == "shell" and e["request"] == "B"), None)
        first_busy = next((e["t"] for e in events if e["state"] == "busy"), None)
        summary = {
            "finished": finished(),
            "b_reply_seconds": b_reply,
            # The kernel runs code from the first busy until B's reply; an idle then is untrue.
            "idle_while_running": [
                e for e in events
                if e["state"] == "idle" and b_reply is not None and first_busy is not None and first_busy <= e["t"] < b_reply - 0.25
            ],
            "requests_with_idle": sorted({e["request"] for e in events if e["state"] == "idle"}),
            "last_state": next((e["state"] for e in reversed(events) if e["state"]), None),
            "stdout": "".join(e["text"] or "" for e in events),
        }
        return {"events": events, "summary": summary}
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(watch(sys.argv[1], sys.argv[2]))))
