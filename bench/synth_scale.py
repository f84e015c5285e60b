"""`infra synth` at 1, 10, 100 and 500 databases: time (median of runs), stacks, the largest
template, and CloudFormation's per-template limits (500 resources, 1 MB). Prints JSON."""

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

MAX_RESOURCES, MAX_BYTES = 500, 1_000_000


def config(n):
    lines = ['environment = "bench"', 'git_branch = "bench"', "", "[defaults]", "export_slots = 5", ""]
    for i in range(n):
        lines += ["[[databases]]", f'db_name = "orders-{i:03}"', f's3_bucket_name = "bench-orders-{i:03}-exports"', ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--infra", required=True)
    parser.add_argument("--sizes", default="1,10,100,200,500")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        work = Path(tempfile.mkdtemp())
        (work / "bench.toml").write_text(config(n))
        times = []
        refused = None
        for _ in range(args.runs):
            out = work / "out"
            started = time.perf_counter()
            run = subprocess.run([args.infra, "--env", "bench", "--config", str(work / "bench.toml"), "synth",
                                  "--out", str(out)], capture_output=True, text=True)
            times.append((time.perf_counter() - started) * 1000)
            if run.returncode:
                # infra refuses a template CloudFormation would refuse: recorded, not a crash.
                refused = run.stderr.splitlines()[0] if run.stderr else f"exit {run.returncode}"
                break
        if refused:
            results.append({"databases": n, "ms": round(statistics.median(times), 1), "refused": refused,
                            "within_limits": False})
            continue
        templates = sorted(out.glob("*.template.json"))
        sizes = [t.stat().st_size for t in templates]
        resources = [len(json.loads(t.read_text())["Resources"]) for t in templates]
        results.append({
            "databases": n,
            "ms": round(statistics.median(times), 1),
            "stacks": len(templates),
            "max_template_bytes": max(sizes),
            "max_resources": max(resources),
            "within_limits": max(sizes) <= MAX_BYTES and max(resources) <= MAX_RESOURCES,
        })
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
