"""The memory at scale: recall latency and resident memory with 1k, 10k and 100k entries, measured in one run.

    python benchmarks/memory.py [--sizes 1000 10000 100000] [--queries 50]

Each size runs in a fresh process (so its resident memory is its own) over a real Chroma directory. Entries are
real MiniLM embeddings of 2,000 distinct show texts (premises, continuity facts, shot prompts); past 2,000 the
same vectors are reused with a little noise, since embedding 100k texts on 2 cores would take most of an hour and
the index's cost depends on the vectors, not on the words. Recall is a real query: the text is embedded, then
Chroma searches (both timed, and Chroma alone), and a premise check by topic reads the station store.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOPICS = ["tomato soup", "green pea falafel", "lemon pancakes", "mushroom dumplings", "pumpkin risotto",
          "blueberry crumble", "saffron paella", "onion tart", "apple strudel", "sweetcorn fritters"]  # fmt: skip
VERBS = ["chops", "stirs", "tastes", "pours", "sniffs", "plates", "flips", "whisks", "slices", "bakes"]


def texts(count: int) -> list[str]:
    made = []
    for index in range(count):
        topic, verb = TOPICS[index % len(TOPICS)], VERBS[(index // len(TOPICS)) % len(VERBS)]
        kind = index % 3
        if kind == 0:
            made.append(f"{topic}: episode {index}. Chef Marisol {verb} the {topic} while Pepito watches.")
        elif kind == 1:
            made.append(f"episode {index}, the recipe: Pepito {verb} {topic} on the harvest table, number {index}")
        else:
            made.append(
                f"bright 3D animation. wide shot of Chef Marisol who {verb} {topic}; the camera pans right; {index}"
            )
    return made


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_size(size: int, queries: int) -> dict[str, float]:
    import numpy as np

    from studio import events as ev
    from studio.memory import ShowMemory
    from studio.memory.embedder import MiniLM
    from studio.memory.index import Document, MemoryIndex
    from studio.station import Station

    embedder = MiniLM()
    base = texts(min(size, 2000))
    started = time.perf_counter()
    vectors = embedder(base)
    embed_seconds = (time.perf_counter() - started) / len(base)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as scratch:
        index = MemoryIndex(Path(scratch) / "memory", "bench", embedder)
        index.open()
        rss_before = rss_mib()
        started = time.perf_counter()
        for start in range(0, size, 2000):
            batch = range(start, min(size, start + 2000))
            chosen = vectors[[i % len(base) for i in batch]]
            if start:
                chosen = chosen + rng.normal(0, 0.02, chosen.shape).astype(np.float32)
                chosen /= np.linalg.norm(chosen, axis=1, keepdims=True)
            index.collection.add(
                ids=[f"d{i}" for i in batch], documents=[base[i % len(base)] for i in batch],
                embeddings=chosen.tolist(), metadatas=[{"kind": "fact", "episode": i} for i in batch],
            )  # fmt: skip
        insert_seconds = time.perf_counter() - started
        question = [f"what did Pepito do with the {TOPICS[q % len(TOPICS)]}?" for q in range(queries)]
        total, chroma_only = [], []
        for text in question:
            started = time.perf_counter()
            vector = embedder([text])[0].tolist()
            embedded = time.perf_counter()
            index.collection.query(query_embeddings=[vector], n_results=5)
            done = time.perf_counter()
            total.append(done - started)
            chroma_only.append(done - embedded)
        index.upsert([Document("probe", "premise", "tomato soup: a cosy soup episode", 1)])
        [match] = index.query("a bowl of tomato soup", kinds=["premise"], k=1)
        assert match.text.startswith("tomato soup")
        station = Station(Path(scratch) / "station.sqlite")
        station.record_many(
            ev.EpisodePlanned(
                show="bench",
                episode=n,
                title=f"E{n}",
                topic=TOPICS[n % len(TOPICS)] + f" {n}",
                logline="l",
                segments=(),
                planned_seconds=3.0,
            )  # fmt: skip
            for n in range(1, size + 1)
        )
        memory = ShowMemory(station, None, "bench", index)
        started = time.perf_counter()
        check = memory.check_premise("tomato soup 1", "tomato soup 1: E1", before_episode=size + 1)
        premise_seconds = time.perf_counter() - started
        assert check.episode == 1
        rss_after = rss_mib()
        station.close()
    return {
        "entries": size, "embed_ms": embed_seconds * 1000, "insert_s": insert_seconds,
        "recall_p50_ms": statistics.median(total) * 1000, "recall_p95_ms": sorted(total)[int(0.95 * len(total)) - 1] * 1000,
        "chroma_p50_ms": statistics.median(chroma_only) * 1000, "premise_check_ms": premise_seconds * 1000,
        "rss_mib": rss_after, "rss_index_mib": rss_after - rss_before,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.queries)))
        return 0
    print(f"memory benchmark, {os.cpu_count()} cores: recall = embed the question + Chroma top-5; premise check ="
          " the station store by topic")  # fmt: skip
    print(f"{'entries':>8} {'embed/text':>11} {'insert':>8} {'recall p50':>11} {'p95':>8} {'chroma p50':>11}"
          f" {'premise':>8} {'RSS':>8} {'index RSS':>10}")  # fmt: skip
    for size in args.sizes:
        completed = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--queries", str(args.queries)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if completed.returncode != 0:
            print(f"{size:>8} failed: {completed.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(completed.stdout.strip().splitlines()[-1])
        print(f"{row['entries']:>8} {row['embed_ms']:>9.1f}ms {row['insert_s']:>7.1f}s {row['recall_p50_ms']:>9.1f}ms"
              f" {row['recall_p95_ms']:>6.1f}ms {row['chroma_p50_ms']:>9.2f}ms {row['premise_check_ms']:>6.1f}ms"
              f" {row['rss_mib']:>6.0f}MiB {row['rss_index_mib']:>8.0f}MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
