#!/usr/bin/env python3
"""Drives `velo replicate` against a writer in another process, as Veloquent's PHP is (issue 27).

  continuous_capture.py rpo --velo V --repo R --db DB --rate N --seconds S [--baseline S]
  continuous_capture.py tenants --velo V --repo R --dir D --tenants N --rate-per R --seconds S
  continuous_capture.py compaction --velo V --repo R --db DB --rate N --seconds S --levels 5s,1m

rpo: a writer commits about N transactions a second into DB (WAL, Python's sqlite3 with SQLite's default
autocheckpoint of 1,000 pages, as PHP's PDO), each one row of a shape taken in turn: random letters (1 KiB,
barely compressible), words (1 KiB, compressible), JSON (a record of about 1 KiB), a 4 KiB random blob; every
tenth also updates and deletes a row. velo replicate -v runs beside it; each line it prints for a stored batch
is stamped when it arrives (the batch is durable before velo prints it). RPO per commit: from COMMIT returning
to its batch's line. The writer's wait: how long each BEGIN IMMEDIATE ... COMMIT took, first --baseline seconds
without velo, then with it. tenants: N databases, one process, each committing about R a second; counts the
objects and bytes the repository gained. Prints one JSON object."""
import argparse, json, os, random, signal, sqlite3, string, subprocess, sys, threading, time


def make_db(path):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE IF NOT EXISTS bench_rows (id INTEGER PRIMARY KEY, shape TEXT, body BLOB, created TEXT)")
    return c


WORDS = "the of and to in is that for it as was with be by on not he this are or his from at which but have".split()


def payload(i, rng):
    shape = ("random", "words", "json", "blob")[i % 4]
    if shape == "random":
        return shape, "".join(rng.choice(string.ascii_lowercase) for _ in range(1024))
    if shape == "words":
        return shape, " ".join(rng.choice(WORDS) for _ in range(250))[:1024]
    if shape == "json":
        return shape, json.dumps({"id": i, "title": "".join(rng.choice(string.ascii_letters) for _ in range(40)),
                                  "tags": [rng.choice(WORDS) for _ in range(8)], "score": rng.random(),
                                  "body": " ".join(rng.choice(WORDS) for _ in range(120))})
    return shape, rng.randbytes(4096)


def commit(c, i, rng):
    shape, body = payload(i, rng)
    start = time.time()
    c.execute("BEGIN IMMEDIATE")
    c.execute("INSERT INTO bench_rows (shape, body, created) VALUES (?, ?, datetime('now'))", (shape, body))
    if i % 10 == 9:
        c.execute("UPDATE bench_rows SET created = datetime('now') WHERE id = (SELECT max(id) - 5 FROM bench_rows)")
        c.execute("DELETE FROM bench_rows WHERE id = (SELECT min(id) FROM bench_rows)")
    c.execute("COMMIT")
    end = time.time()
    return start, end


def write(conns, rate, seconds, rng, log):
    step = 1.0 / rate
    due = time.time()
    stop = due + seconds
    i = 0
    while time.time() < stop:
        c = conns[i % len(conns)]
        start, end = commit(c, i, rng)
        log.append((i % len(conns), start, end))
        i += 1
        due += step
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)


class Velo:
    def __init__(self, velo, repo, dbs, extra=()):
        args = [velo, "replicate", "-v", "--repo", repo] + sum((["--db", d] for d in dbs), []) + list(extra)
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        for line in self.p.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))

    def wait_first(self):
        deadline = time.time() + 120
        while not any(l.startswith("stored ") for _, l in self.lines):
            if time.time() > deadline or self.p.poll() is not None:
                sys.exit("velo replicate did not store a first batch: " + self.p.stderr.read())
            time.sleep(0.02)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait()
        self.t.join()
        return self.p.returncode, self.p.stderr.read()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else None


def stored(repo):
    folder = os.path.join(repo, "continuous")
    if not os.path.isdir(folder):
        return 0, 0, 0
    names = os.listdir(folder)
    batches = [n for n in names if n.endswith(".batch")]
    return len(batches), sum(os.path.getsize(os.path.join(folder, n)) for n in batches), \
        sum(os.path.getsize(os.path.join(folder, n)) for n in names if n.endswith(".base"))


def rpo(a):
    rng = random.Random(7)
    c = make_db(a.db)
    baseline = []
    if a.baseline > 0:
        write([c], a.rate, a.baseline, rng, baseline)
    velo = Velo(a.velo, a.repo, [a.db], a.velo_arg or [])
    velo.wait_first()
    before = stored(a.repo) if not a.repo.startswith("s3:") else (0, 0, 0)
    log = []
    started = time.time()
    write([c], a.rate, a.seconds, rng, log)
    time.sleep(2)
    status, err = velo.stop()
    elapsed = time.time() - started
    # Map commits to batches in order: each "stored" line says how many commits it holds.
    # The batches stored before the writer started hold what the log held then (the baseline's last commits).
    durable = []
    for t, line in velo.lines:
        if line.startswith("stored ") and t > started:
            durable += [t] * int(line.split(": ")[1].split(" ")[0])
    rpos = [(durable[i] - end) * 1000 for i, (_, _, end) in enumerate(log) if i < len(durable)]
    waits = [(end - start) * 1000 for _, start, end in log]
    base_waits = [(end - start) * 1000 for _, start, end in baseline]
    after = stored(a.repo) if not a.repo.startswith("s3:") else (0, 0, 0)
    print(json.dumps({
        "commits": len(log), "rate": round(len(log) / a.seconds, 1), "captured": len(durable), "velo_status": status,
        "summary": velo.lines[-1][1] if velo.lines else "", "stderr": err.strip()[-500:],
        "rpo_ms": {"p50": percentile(rpos, 50), "p99": percentile(rpos, 99), "max": max(rpos) if rpos else None},
        "writer_ms": {"p50": percentile(waits, 50), "p99": percentile(waits, 99), "max": max(waits) if waits else None},
        "writer_ms_without_velo": {"p50": percentile(base_waits, 50), "p99": percentile(base_waits, 99),
                                   "max": max(base_waits) if base_waits else None},
        "batches": after[0] - before[0], "batch_bytes": after[1] - before[1], "base_bytes": after[2], "elapsed": elapsed,
    }))


def tenants(a):
    rng = random.Random(11)
    dbs = [os.path.join(a.dir, "tenant-%03d.sqlite" % i) for i in range(a.tenants)]
    conns = [make_db(d) for d in dbs]
    velo = Velo(a.velo, a.repo, dbs)
    velo.wait_first()
    before = stored(a.repo)
    log = []
    started = time.time()
    write(conns, a.rate_per * a.tenants, a.seconds, rng, log)
    time.sleep(2)
    status, err = velo.stop()
    elapsed = time.time() - started
    after = stored(a.repo)
    print(json.dumps({"tenants": a.tenants, "commits": len(log), "seconds": a.seconds, "velo_status": status,
                      "summary": velo.lines[-1][1] if velo.lines else "", "stderr": err.strip()[-300:],
                      "batches": after[0] - before[0], "batch_bytes": after[1] - before[1], "base_bytes": after[2],
                      "elapsed": elapsed}))


def dump_hash(path):
    import hashlib
    c = sqlite3.connect(path)
    h = hashlib.sha256()
    for line in c.iterdump():
        h.update(line.encode())
    c.close()
    return h.hexdigest()


def compaction(a):
    """One writer, two velo replicate of it: into a repository compacted over --levels, and one of batches only
    (--compact off). Then restores to moments spread over the run from each: objects read, seconds, and the two
    results compared where both saw the same commits."""
    rng = random.Random(13)
    c = make_db(a.db)
    packed = Velo(a.velo, a.repo + "-packed", [a.db], ["--compact", a.levels])
    loose = Velo(a.velo, a.repo + "-batches", [a.db], ["--compact", "off"])
    packed.wait_first()
    loose.wait_first()
    log = []
    write([c], a.rate, a.seconds, rng, log)
    # A pause with no commit around each moment restored: both repositories then hold the same state at it.
    time.sleep(a.settle)
    s1, e1 = packed.stop()
    s2, e2 = loose.stop()
    moments = [log[int(j * (len(log) - 1) / (a.moments - 1))][2] for j in range(a.moments)]
    results = []
    for j, moment in enumerate(moments):
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + ".%03dZ" % int((moment % 1) * 1000)
        row = {"at": at}
        for name in ("packed", "batches"):
            target = "%s-%s-%d.sqlite" % (a.db, name, j)
            start = time.time()
            out = subprocess.run([a.velo, "restore", "--repo", "%s-%s" % (a.repo, name), "--source", a.db, "--at", at,
                                  "--target", target, "--json"], capture_output=True, text=True)
            row[name + "_seconds"] = time.time() - start
            if out.returncode != 0:
                row[name + "_error"] = out.stderr.strip()[-300:]
                continue
            row[name + "_objects"] = json.loads(out.stdout)["objects_read"]
            row[name + "_hash"] = dump_hash(target)
            os.remove(target)
        results.append(row)

    def objects(repo):
        folder = os.path.join(repo, "continuous")
        kinds = {}
        for n in os.listdir(folder):
            k = n.rsplit(".", 1)[-1] if not n.endswith(".pack") else n[-7:-5]
            count, size = kinds.get(k, (0, 0))
            kinds[k] = (count + 1, size + os.path.getsize(os.path.join(folder, n)))
        return kinds

    print(json.dumps({"commits": len(log), "seconds": a.seconds, "rate": a.rate, "levels": a.levels,
                      "db_bytes": os.path.getsize(a.db), "status": [s1, s2], "stderr": (e1 + e2).strip()[-600:],
                      "restores": results, "packed_objects": objects(a.repo + "-packed"),
                      "batch_objects": objects(a.repo + "-batches")}))


p = argparse.ArgumentParser()
sub = p.add_subparsers(dest="mode", required=True)
r = sub.add_parser("rpo")
r.add_argument("--velo", required=True); r.add_argument("--repo", required=True); r.add_argument("--db", required=True)
r.add_argument("--rate", type=float, default=300); r.add_argument("--seconds", type=float, default=60)
r.add_argument("--baseline", type=float, default=0); r.add_argument("--velo-arg", action="append")
t = sub.add_parser("tenants")
t.add_argument("--velo", required=True); t.add_argument("--repo", required=True); t.add_argument("--dir", required=True)
t.add_argument("--tenants", type=int, default=100); t.add_argument("--rate-per", type=float, default=1)
t.add_argument("--seconds", type=float, default=60)
k = sub.add_parser("compaction")
k.add_argument("--velo", required=True); k.add_argument("--repo", required=True); k.add_argument("--db", required=True)
k.add_argument("--rate", type=float, default=50); k.add_argument("--seconds", type=float, default=240)
k.add_argument("--levels", default="5s,1m"); k.add_argument("--moments", type=int, default=8)
k.add_argument("--settle", type=float, default=15)
a = p.parse_args()
{"rpo": rpo, "tenants": tenants, "compaction": compaction}[a.mode](a)
