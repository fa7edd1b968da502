"""Minute-level Fitabase: steadyback's ingest of the minute files next to a bare Polars copy.

Generates a cohort with minute-level Fitabase files (`steadyback generate --minute-level`,
N people × D program days, so weeks = D / 7) into a temporary folder, then measures, for each
minute file (minuteStepsNarrow, heartrate_seconds), median of `--repeat` runs, each in a fresh
process that reports its own wall time and peak RSS (resource.getrusage ru_maxrss):

- steadyback: `raw_store.ingest_source` for the file's source, on an empty raw/ — what the raw
  asset of `steadyback run` calls: read and check every row, derive steps and quarter-hour
  wear, write the raw Parquet partition and the manifest;
- floor: `pl.read_csv(file).write_parquet(...)`, the same bytes copied with no checks and no
  typing of the timestamps (`--floor sink`: `pl.scan_csv(file).sink_parquet(...)`, the
  streaming copy; `read_csv` holds the whole file, about twice its size in memory);
- `--workers 1,2`: the same ingest on a Dask LocalCluster of that many worker processes
  (configured as the pipeline's own local cluster: one thread per worker), given to
  `ingest_source` as a configured scheduler would be — the file is parsed in byte ranges of
  `parse_cluster.RANGE_BYTES`, a task each. The cluster is started, and each worker has
  imported the parsers and parsed the file's first 4 MB, before the clock starts: these
  columns measure the parse on a running cluster, not its start (see docs/scaling.md for
  when the pipeline starts its own).

- `--one-run`: both files ingested in one fresh process with one local cluster, as the raw
  steps of one `steadyback run` ingest them (one cluster start for the run), next to the two
  copies of the floor together.

Before each measurement the file is read through once, unclocked, so that every contender
starts with it in the page cache whatever ran before it.

Prints a Markdown table (and the machine). `--profile` adds the ingest's top functions by
cumulative time (cProfile, one extra run per file).

    .venv/bin/python benchmarks/minute_level.py                        # 500 people × 84 days
    .venv/bin/python benchmarks/minute_level.py --people 50 --days 14  # a smoke run
    .venv/bin/python benchmarks/minute_level.py --workers 1,2          # and on 1 and 2 workers
    .venv/bin/python benchmarks/minute_level.py --one-run              # and both as one run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = {  # minute file → the source that parses it
    "minuteStepsNarrow_merged.csv": "fitabase_minute_steps",
    "heartrate_seconds_merged.csv": "fitabase_heartrate",
}


def _child(args: argparse.Namespace) -> None:
    """One measurement in this fresh process; prints JSON on the last line."""
    if args.child != "floor":  # the floor process loads Polars alone
        sys.path.insert(0, str(REPO))
        import pipelines  # noqa: F401 — before Polars, as the steadyback command loads them
    import polars as pl

    cluster = None
    if args.child != "floor":
        from pipelines.lib.layout import DataDir
        from pipelines.lib.parse_cluster import ParseCluster
        from pipelines.lib.parsers import SOURCES_BY_NAME
        from pipelines.lib.raw_store import ingest_source

        if args.child.startswith("workers="):
            cluster = _local_cluster(int(args.child.split("=")[1]))
            _warm_up(cluster, Path(args.file))

    work = Path(args.work)
    after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    if args.child == "floor":
        if args.floor == "sink":
            pl.scan_csv(args.file).sink_parquet(work / "copy.parquet")
        else:
            pl.read_csv(args.file).write_parquet(work / "copy.parquet")
        rows = None
    elif args.child == "one-run":
        (work / "landing").symlink_to(Path(args.landing), target_is_directory=True)
        rows = {"read": 0, "landed": 0}
        with ParseCluster() as for_the_run:  # one for the run, as the raw steps share it
            for source_name in FILES.values():
                (result,) = ingest_source(
                    DataDir.at(work),
                    SOURCES_BY_NAME[source_name],
                    b"benchmark-key",
                    cluster=for_the_run,
                )
                if result.status != "loaded":
                    raise SystemExit(f"{source_name}: {result.status} {result.error}")
                rows["read"] += result.rows_read
                rows["landed"] += result.rows_landed
    else:
        (work / "landing").symlink_to(Path(args.landing), target_is_directory=True)
        source = SOURCES_BY_NAME[FILES[Path(args.file).name]]

        def ingest():
            if cluster is None:
                return ingest_source(DataDir.at(work), source, b"benchmark-key")
            with ParseCluster(scheduler=cluster.scheduler_address) as on_cluster:
                return ingest_source(DataDir.at(work), source, b"benchmark-key", cluster=on_cluster)

        if args.profile:
            import cProfile
            import pstats

            profile = cProfile.Profile()
            results = profile.runcall(ingest)
            stats = pstats.Stats(profile, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(25)
        else:
            results = ingest()
        (result,) = results
        if result.status != "loaded":
            raise SystemExit(f"{args.file}: {result.status} {result.error}")
        rows = {"read": result.rows_read, "landed": result.rows_landed}
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if cluster is not None:
        cluster.close()
    print(json.dumps({"wall_s": wall, "peak_mb": peak, "imports_mb": after_imports, "rows": rows}))


def _warm_up(cluster, file: Path) -> None:
    """Every worker imports the parsers and parses the file's first 4 MB once."""
    from distributed import Client

    with Client(cluster) as client:
        client.run(_parse_head, str(file), FILES[file.name])


def _parse_head(file: str, source_name: str) -> int:
    from pipelines.lib.parsers import SOURCES_BY_NAME

    with Path(file).open("rb") as handle:
        data = handle.read(4 << 20)
    head, _, body = data.partition(b"\n")
    ranges = SOURCES_BY_NAME[source_name].ranges(file)
    header = ranges.header(head + b"\n")
    return ranges.parse_range(header, body[: body.rfind(b"\n") + 1]).rows_read


def _local_cluster(workers: int):
    """A LocalCluster of `workers` single-threaded processes, set up as ParseCluster's own."""
    import dask
    from distributed import LocalCluster

    from pipelines.lib.parse_cluster import LOCAL_CLUSTER_CONFIG, WORKER_ENV

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            env=WORKER_ENV,
        )


def _read_through(file: Path) -> None:
    """Read the file once, unclocked, so every contender starts with it in the page cache.

    The floor's `read_csv` of the heart-rate file holds ~13 GB and pushes the file out of the
    cache; whoever came next then read it from disk (measured: the heart-rate ingest 93 s
    with the file pushed out of the cache by an earlier floor, 43 s with it cached), so what
    ran before a contender, not its own work, decided its time."""
    with file.open("rb") as handle:
        while handle.read(8 << 20):
            pass


def _measure(
    kind: str,
    file: Path,
    landing: Path,
    floor: str,
    profile: bool = False,
    read_through: bool = True,
) -> dict:
    if read_through:
        _read_through(file)
    work = Path(tempfile.mkdtemp(prefix=f"minute-{kind}-"))
    try:
        command = [sys.executable, __file__, "--child", kind, "--file", str(file)]
        command += ["--landing", str(landing), "--work", str(work), "--floor", floor]
        if profile:
            command.append("--profile")
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, env=_clean_env()
        )
        if done.returncode != 0:
            raise SystemExit(f"{kind} on {file.name} failed:\n{done.stderr[-3000:]}")
        if profile:
            print(done.stderr, file=sys.stderr)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _clean_env() -> dict[str, str]:
    """This environment without the allocator settings that Polars (loaded here for
    `_machine`) and steadyback put in it: each contender starts as from an operator's shell."""
    ours = ("_RJEM_MALLOC_CONF", "DUCKDB_JE_MALLOC_CONF", "STEADYBACK_OPERATOR_RJEM_MALLOC_CONF")
    return {k: v for k, v in os.environ.items() if k not in ours}


def _machine() -> str:
    import polars as pl

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, "
        f"Polars {pl.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--days", type=int, default=84, help="program days, a multiple of 7")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--floor", choices=("read", "sink"), default="read")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", help="generate into (or reuse) this folder instead of a temp one")
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[],
        help="also ingest on Dask clusters of these many workers, e.g. 1,2",
    )
    parser.add_argument(
        "--one-run",
        action="store_true",
        help="also ingest both files in one process, one local cluster for both, as the raw "
        "steps of one `steadyback run` do (the floor: both copies)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--landing", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    if args.days % 7:
        parser.error(
            f"--days {args.days}: the generator makes whole program weeks; use a multiple of 7"
        )

    sys.path.insert(0, str(REPO))
    from pipelines.lib.demo_cohort import generate_cohort

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="minute-cohort-"))
    try:
        if not (root / "truth" / "wear_days.csv").exists():
            started = time.perf_counter()
            summary = generate_cohort(
                root, args.people, args.days // 7, args.seed, minute_level=True
            )
            print(
                f"generated {args.people} people × {args.days} days "
                f"({summary['wearable_participants']} with a Fitbit) "
                f"in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
        landing = root / "landing"
        print(f"Machine: {_machine()}\n")
        clusters = [f"workers={n}" for n in args.workers]
        speedup = clusters[:1] + clusters[-1:] if len(clusters) > 1 else []
        print(
            "| file | MB | rows | steadyback ingest s | Polars floor s | ratio "
            "| steadyback peak MB | floor peak MB |"
            + "".join(f" {n} workers s |" for n in args.workers)
            + (f" {args.workers[0]} → {args.workers[-1]} workers |" if speedup else "")
        )
        print("|---" * (8 + len(clusters) + bool(speedup)) + "|")
        totals = dict.fromkeys(["ingest", "floor", *clusters], 0.0)
        for name in FILES:
            (file,) = landing.glob(f"fitabase/*/{name}")
            runs = {kind: [] for kind in totals}
            for _ in range(args.repeat):
                for kind in runs:  # interleaved, so drift on a shared machine hits all
                    runs[kind].append(_measure(kind, file, landing, args.floor))
            wall = {kind: statistics.median(r["wall_s"] for r in runs[kind]) for kind in runs}
            peak = {kind: statistics.median(r["peak_mb"] for r in runs[kind]) for kind in runs}
            for kind in totals:
                totals[kind] += wall[kind]
            rows = runs["ingest"][0]["rows"]["read"]
            print(
                f"| {name} | {file.stat().st_size / 2**20:,.0f} | {rows:,} "
                f"| {wall['ingest']:.2f} | {wall['floor']:.2f} "
                f"| {wall['ingest'] / wall['floor']:.1f}× "
                f"| {peak['ingest']:,.0f} | {peak['floor']:,.0f} |"
                + "".join(f" {wall[kind]:.2f} |" for kind in clusters)
                + (f" {wall[speedup[0]] / wall[speedup[1]]:.2f}× |" if speedup else "")
            )
            if args.profile:
                _measure("ingest", file, landing, args.floor, profile=True)
        print(
            f"| both | | | {totals['ingest']:.2f} | {totals['floor']:.2f} "
            f"| {totals['ingest'] / totals['floor']:.1f}× | | |"
            + "".join(f" {totals[kind]:.2f} |" for kind in clusters)
            + (f" {totals[speedup[0]] / totals[speedup[1]]:.2f}× |" if speedup else "")
        )
        if args.one_run:
            files = [next(landing.glob(f"fitabase/*/{name}")) for name in FILES]
            runs = []
            for _ in range(args.repeat):
                for file in files:
                    _read_through(file)
                runs.append(_measure("one-run", files[0], landing, args.floor, read_through=False))
            wall = statistics.median(r["wall_s"] for r in runs)
            peak = statistics.median(r["peak_mb"] for r in runs)
            print(
                f"| both, in one run | | {runs[0]['rows']['read']:,} | {wall:.2f} "
                f"| {totals['floor']:.2f} | {wall / totals['floor']:.1f}× | {peak:,.0f} | |"
                + " |"
                * (len(clusters) + bool(speedup))
            )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
