#!/usr/bin/env bash
# Benchmark strata against ast-grep and Semgrep on the same synthetic corpus, in the same run.
# Not a test: never run by `cargo test` or .ci/run. See BENCHMARKS.md for what is measured and why.
#
# Environment:
#   BENCH_FILES       Python files in the main corpus (default 2000)
#   BENCH_RUNS        timed runs per tool, the median is reported (default 5; one extra warm-up run
#                     per tool is not timed and is the run whose output is counted)
#   BENCH_FIX_FILES   Python files in the corpus for the `strata fix --dry-run` row (default: the
#                     main corpus; a smaller number generates a separate, smaller corpus)
#   BENCH_FIX_RUNS    timed runs of `strata fix --dry-run` (default 1)
#   BENCH_VENV        the peers' Python venv (default bench/.venv, gitignored)
#   BENCH_KEEP        set to 1 to keep the generated corpora (their path is printed)
#   BENCH_SKIP_BUILD  set to 1 to use the existing target/release/strata without building
#
# Output: a Markdown report on stdout; progress on stderr.
set -euo pipefail

AST_GREP_VERSION=0.51.1
SEMGREP_VERSION=1.170.0

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
FILES="${BENCH_FILES:-2000}"
RUNS="${BENCH_RUNS:-5}"
FIX_FILES="${BENCH_FIX_FILES:-$FILES}"
FIX_RUNS="${BENCH_FIX_RUNS:-1}"
VENV="${BENCH_VENV:-$HERE/.venv}"
SAMPLE="$ROOT/examples/hoc_app/backend"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (apt)"
    { apt-get update && apt-get install -y time; } >&2 || die "cannot install GNU time"
fi
/usr/bin/time -f %M true 2>/dev/null || die "/usr/bin/time is not GNU time (needs -f %M)"
command -v python3 >/dev/null || die "python3 is required (corpus generation, the peers' venv)"

if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
    log "BENCH_SKIP_BUILD=1: using the existing target/release/strata"
else
    log "building strata (cargo build --release)"
    (cd "$ROOT" && cargo build --release --quiet) >&2 || die "cargo build --release failed"
fi
STRATA="$ROOT/target/release/strata"
[[ -x "$STRATA" ]] || die "no $STRATA after the build"

venv_ok() {
    [[ -x "$VENV/bin/ast-grep" && -x "$VENV/bin/semgrep" ]] || return 1
    [[ "$("$VENV/bin/ast-grep" --version 2>/dev/null)" == "ast-grep $AST_GREP_VERSION" ]] || return 1
    [[ "$("$VENV/bin/semgrep" --version 2>/dev/null)" == "$SEMGREP_VERSION" ]] || return 1
}
if ! venv_ok; then
    log "installing ast-grep-cli==$AST_GREP_VERSION and semgrep==$SEMGREP_VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2 || die "cannot create a venv at $VENV (python3 -m venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "ast-grep-cli==$AST_GREP_VERSION" "semgrep==$SEMGREP_VERSION" >&2 \
        || die "pip could not install ast-grep-cli==$AST_GREP_VERSION semgrep==$SEMGREP_VERSION"
    venv_ok || die "the venv at $VENV does not have the pinned ast-grep/semgrep versions"
fi
AST_GREP="$VENV/bin/ast-grep"
SEMGREP="$VENV/bin/semgrep"
# Semgrep: local rule file only, no metrics, no version check, no login/registry.
export SEMGREP_SEND_METRICS=off SEMGREP_ENABLE_VERSION_CHECK=0
export SEMGREP_USER_AGENT_APPEND=strata-bench
AG_RULE="$HERE/rules/ast-grep-l2-db-execute.yml"
SG_RULE="$HERE/rules/semgrep-l2-db-execute.yml"

# ---------------------------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------------------------
WORK="$(mktemp -d -t strata-bench.XXXXXX)"
if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    log "keeping the corpora in $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

make_corpus() { # DIR FILES -> prints "files replicas"
    local dir="$1" files="$2" out
    out="$(python3 "$HERE/gen_corpus.py" "$SAMPLE" "$dir" "$files")" || die "corpus generation failed"
    (cd "$dir" && "$STRATA" init . >/dev/null) || die "strata init failed in $dir"
    echo "$out"
}
CORPUS="$WORK/corpus"
read -r CORPUS_FILES CORPUS_REPLICAS < <(make_corpus "$CORPUS" "$FILES")
CORPUS_BYTES=$(find "$CORPUS" -name '*.py' -printf '%s\n' | awk '{s+=$1} END {print s}')
CORPUS_LINES=$(find "$CORPUS" -name '*.py' -exec cat {} + | wc -l)
L2_FILES=$(find "$CORPUS/backend/app/hoc/api" -name '*.py' | wc -l)
log "corpus: $CORPUS_FILES Python files ($L2_FILES in L2), $CORPUS_LINES lines, $CORPUS_REPLICAS replica domains"

if [[ "$FIX_FILES" == "$FILES" ]]; then
    FIX_CORPUS="$CORPUS"; FIX_CORPUS_FILES="$CORPUS_FILES"
else
    FIX_CORPUS="$WORK/fix-corpus"
    read -r FIX_CORPUS_FILES _ < <(make_corpus "$FIX_CORPUS" "$FIX_FILES")
fi

# ---------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------
# measure NAME DIR RUNS OKCODES CMD... : one untimed warm-up run (its stdout is kept in
# $WORK/NAME.out for counting), then RUNS timed runs. Wall time is taken around the whole
# process with nanosecond clocks; peak RSS is GNU time's %M (max RSS of the largest process
# in the tree, in KiB); CPU time is GNU time's user + system time of the whole tree.
# Appends "NAME median_ms min_ms max_ms median_rss_kib median_cpu_ms" to $WORK/results.
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
measure() {
    local name="$1" dir="$2" runs="$3" okcodes="$4"; shift 4
    local rc i t0 t1
    log "$name: warm-up"
    set +e
    (cd "$dir" && "$@") >"$WORK/$name.out" 2>"$WORK/$name.err"
    rc=$?
    set -e
    [[ " $okcodes " == *" $rc "* ]] || { cat "$WORK/$name.err" >&2; die "$name exited $rc (expected one of: $okcodes)"; }
    : >"$WORK/$name.times"; : >"$WORK/$name.rss"; : >"$WORK/$name.cpu"
    for ((i = 1; i <= runs; i++)); do
        t0=$(date +%s%N)
        set +e
        (cd "$dir" && /usr/bin/time -f "%M %U %S" -o "$WORK/$name.rss1" "$@") >/dev/null 2>&1
        rc=$?
        set -e
        t1=$(date +%s%N)
        [[ " $okcodes " == *" $rc "* ]] || die "$name exited $rc on timed run $i"
        echo $(((t1 - t0) / 1000000)) >>"$WORK/$name.times"
        tail -n1 "$WORK/$name.rss1" | awk '{print $1}' >>"$WORK/$name.rss"
        tail -n1 "$WORK/$name.rss1" | awk '{printf "%d\n", ($2 + $3) * 1000}' >>"$WORK/$name.cpu"
        log "$name: run $i/$runs $(tail -n1 "$WORK/$name.times") ms wall, $(tail -n1 "$WORK/$name.cpu") ms CPU, $(tail -n1 "$WORK/$name.rss") KiB"
    done
    echo "$name $(median <"$WORK/$name.times") $(sort -n "$WORK/$name.times" | head -n1) \
$(sort -n "$WORK/$name.times" | tail -n1) $(median <"$WORK/$name.rss") $(median <"$WORK/$name.cpu")" >>"$WORK/results"
}

: >"$WORK/results"
measure strata "$CORPUS" "$RUNS" "0 1" "$STRATA" check --select l2-db-execute --format json
measure ast-grep "$CORPUS" "$RUNS" "0 1" "$AST_GREP" scan --rule "$AG_RULE" --json=compact .
measure semgrep "$CORPUS" "$RUNS" "0 1" "$SEMGREP" scan --config "$SG_RULE" --metrics=off \
    --disable-version-check --no-git-ignore --json --quiet .
measure strata-all "$CORPUS" "$RUNS" "0 1" "$STRATA" check --format json
measure strata-fix "$FIX_CORPUS" "$FIX_RUNS" "0 1" "$STRATA" fix --dry-run --json

# ---------------------------------------------------------------------------------------------
# Counts (and the locations each tool found, compared as sets) and the report
# ---------------------------------------------------------------------------------------------
MACHINE_CPU="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)"
MACHINE_MEM="$(free -g 2>/dev/null | awk '/^Mem:/ {print $2 " GiB"}')"
MACHINE_OS="$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") / $(uname -r)"

WORK="$WORK" RUNS="$RUNS" FIX_RUNS="$FIX_RUNS" \
CORPUS_FILES="$CORPUS_FILES" CORPUS_REPLICAS="$CORPUS_REPLICAS" CORPUS_LINES="$CORPUS_LINES" \
CORPUS_BYTES="$CORPUS_BYTES" L2_FILES="$L2_FILES" FIX_CORPUS_FILES="$FIX_CORPUS_FILES" \
MACHINE_NPROC="$(nproc)" MACHINE_CPU="$MACHINE_CPU" MACHINE_MEM="$MACHINE_MEM" MACHINE_OS="$MACHINE_OS" \
V_STRATA="$("$STRATA" --version)" V_AST_GREP="$("$AST_GREP" --version)" V_SEMGREP="semgrep $("$SEMGREP" --version)" \
V_RUSTC="$(rustc --version)" V_PYTHON="$("$VENV/bin/python" --version)" \
python3 - <<'EOF'
import json, os, sys

W = os.environ["WORK"]
E = os.environ


def load(name):
    return open(os.path.join(W, name + ".out")).read()


def strata_sites(text):
    d = json.loads(text)
    found = d["violations"] + d["classified"] + d["excepted"]
    return d, {(v["path"], v["start"]["line"], v["start"]["column"]) for v in found if v.get("rule", "l2-db-execute") == "l2-db-execute"}


sd, s_sites = strata_sites(load("strata"))
a_sites = {(m["file"].removeprefix("./"), m["range"]["start"]["line"] + 1, m["range"]["start"]["column"] + 1)
           for m in json.loads(load("ast-grep"))}
sg = json.loads(load("semgrep"))
g_sites = {(r["path"].removeprefix("./"), r["start"]["line"], r["start"]["col"]) for r in sg["results"]}
all_d = json.loads(load("strata-all"))
fix_text = load("strata-fix")
fix = json.loads(fix_text[fix_text.rfind("\n{\n") + 1:])

res = {}
for line in open(os.path.join(W, "results")):
    name, med, lo, hi, rss, cpu = line.split()
    res[name] = (float(med), float(lo), float(hi), float(rss), float(cpu))

base_t, base_m, base_c = res["strata"][0], res["strata"][3], res["strata"][4]


def row(name, tool, task, found, ratio=True):
    med, lo, hi, rss, cpu = res[name]
    tr = f"{med / base_t:.2f}×" if ratio else "–"
    cr = f"{cpu / base_c:.2f}×" if ratio else "–"
    mr = f"{rss / base_m:.2f}×" if ratio else "–"
    return (f"| {tool} | {task} | {found} | {med:.0f} | {lo:.0f}–{hi:.0f} | {cpu:.0f} | {rss / 1024:.1f} "
            f"| {tr} | {cr} | {mr} |")


print(f"### Corpus\n")
print(f"- {E['CORPUS_FILES']} Python files ({E['L2_FILES']} of them in L2, `backend/app/hoc/api/**`), "
      f"{int(E['CORPUS_LINES']):,} lines, {int(E['CORPUS_BYTES']) / 1e6:.1f} MB: the sample app "
      f"`examples/hoc_app/backend` plus {E['CORPUS_REPLICAS']} replica domains `d0001…`")
print(f"- timed runs per tool: {E['RUNS']} (median reported; min–max shown), after one untimed warm-up run "
      f"whose output is the one counted; `strata fix --dry-run`: {E['FIX_RUNS']} run(s) on a "
      f"{E['FIX_CORPUS_FILES']}-file corpus\n")
print("### Machine\n")
print(f"- {E['MACHINE_NPROC']} cores (nproc), {E['MACHINE_CPU']}, {E['MACHINE_MEM']} RAM, {E['MACHINE_OS']}; "
      f"load average at the end of the run: {open('/proc/loadavg').read().split()[0]}")
print(f"- {E['V_STRATA']} (release build, {E['V_RUSTC']}); {E['V_AST_GREP']}; {E['V_SEMGREP']} ({E['V_PYTHON']})\n")
print("### Results\n")
print("Ratios are relative to the first row (strata, same task): above 1× means slower / more memory than strata.\n")
print("| tool | task | found | median wall (ms) | wall min–max (ms) | median CPU user+sys (ms) | peak RSS (MiB) "
      "| wall / strata | CPU / strata | RSS / strata |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
print(row("strata", "strata", "`check --select l2-db-execute`", len(s_sites)))
print(row("ast-grep", "ast-grep", "`scan` with the equivalent rule", len(a_sites)))
print(row("semgrep", "Semgrep", "`scan` with the equivalent rule", len(g_sites)))
print(row("strata-all", "strata", "`check` (all recipes)",
          f"{all_d['summary']['violations']} + {all_d['summary']['classified']} classified"))
print(row("strata-fix", "strata", f"`fix --dry-run` ({E['FIX_CORPUS_FILES']} files)",
          f"{len(fix['applied'])} applied, {len(fix['manual'])} manual, {fix['passes']} passes"
          + (", HIT PASS LIMIT" if fix["hit_pass_limit"] else ""), ratio=False))
print()
ok = s_sites == a_sites == g_sites
print(f"Same sites found by all three tools: **{'yes' if ok else 'NO'}** "
      f"(strata {len(s_sites)}, ast-grep {len(a_sites)}, Semgrep {len(g_sites)}; compared as sets of path:line:column).")
if not ok:
    for label, x, y in (("strata − ast-grep", s_sites, a_sites), ("ast-grep − strata", a_sites, s_sites),
                        ("strata − Semgrep", s_sites, g_sites), ("Semgrep − strata", g_sites, s_sites)):
        diff = sorted(x - y)
        if diff:
            print(f"\n- {label}: {len(diff)}, e.g. " + ", ".join(f"`{p}:{l}:{c}`" for p, l, c in diff[:5]))
if sg.get("errors"):
    print(f"\nSemgrep reported {len(sg['errors'])} errors, e.g. `{json.dumps(sg['errors'][0])[:300]}`")
print(f"\nstrata l2-db-execute work: {json.dumps(sd['summary']['files'])}; all recipes: {json.dumps(all_d['summary']['files'])}")
EOF
