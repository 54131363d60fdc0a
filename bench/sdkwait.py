"""Wait for KFP runs with the KFP SDK's own wait_for_run_completion.

Usage: python sdkwait.py HOST RUN_ID...

One thread per run (the SDK waits for one run at a time, polling every 5 s).
Prints "DONE <run_id> <state>" when a run is seen final, and nothing else
on stdout.
"""
import sys
import threading

import kfp


def main():
    host, ids = sys.argv[1], sys.argv[2:]
    client = kfp.Client(host=host)
    lock = threading.Lock()

    def wait(run_id):
        run = client.wait_for_run_completion(run_id, timeout=3600)
        with lock:
            print("DONE", run_id, run.state, flush=True)

    threads = [threading.Thread(target=wait, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
