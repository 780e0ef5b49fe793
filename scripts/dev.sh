#!/usr/bin/env bash
# Sets up a Debian 12 machine for mapstatd and runs it or its tests. Run as root.
#   scripts/dev.sh run [DAEMON OPTIONS]   install deps, build, run the daemon in the foreground
#   scripts/dev.sh test                   install deps, build (plain and ASan/UBSan), run every
#                                         test suite in both builds, print "N passed, N failed"
#   scripts/dev.sh fuzz [SECONDS]         install deps, build build-fuzz/, fuzz every target for
#                                         SECONDS (600) each, one per core at a time
#   scripts/dev.sh bench [SUITE OPTIONS] install deps and the peers, build, run bench/suite.py
#                                         (about 45 minutes; writes bench/results.md)
#   scripts/dev.sh deps | test-deps | build   the individual steps (deps: what building and
#                                         running need; test-deps: also what the tests need)
set -euo pipefail

cd "$(dirname "$0")/.."

# Build: the compilers and libraries (libcurl for mapstatctl), scdoc for the man pages,
# libjs-dygraphs (compiled into the dashboard) and python3-yaml (converts docs/openapi.yaml).
PACKAGES=(build-essential meson ninja-build pkg-config python3 util-linux curl scdoc
          libsystemd-dev libsqlite3-dev libmicrohttpd-dev libjansson-dev libinih-dev zlib1g-dev
          libcurl4-openssl-dev libjs-dygraphs python3-yaml)
# Tests: systemd and systemd-container (a throwaway systemd), python3-jsonschema (the API
# contract), chromium (the dashboard), iproute2 (the loopback of Prometheus' private network),
# clang (Debian 12's clang 14 with libFuzzer: the fuzzing build of fuzz/build-fuzz.ini),
# libfuse3-dev and fuse3 (tests/helpers/hangfs.c, a hung file system for the stuck-sweep tests),
# valgrind (memcheck over full-mode sweeps); tests/integration/test_load.py and bench/: wrk.
TEST_PACKAGES=(systemd systemd-container iproute2 python3-jsonschema chromium clang
               libfuse3-dev fuse3 valgrind wrk)
# bench/suite.py: the peers it measures mapstatd against.
BENCH_PACKAGES=(smem smemstat)

# Runs a command with its output kept aside, so that a good build prints nothing; when it fails,
# everything it printed (the compiler's error) goes to stderr with the command.
quietly() {
        local log rc=0
        log=$(mktemp)
        "$@" >"$log" 2>&1 || rc=$?
        if [ "$rc" -ne 0 ]; then
                cat "$log" >&2
                echo "$0: failed ($rc): $*" >&2
        fi
        rm -f "$log"
        return "$rc"
}

# Installs the packages named that are missing.
install() {
        local missing=()
        for p in "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
                        missing+=("$p")
        done
        if [ ${#missing[@]} -gt 0 ]; then
                echo "Installing: ${missing[*]}"
                quietly apt-get update
                quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y \
                        --no-install-recommends "${missing[@]}"
        fi
}

deps() {
        install "${PACKAGES[@]}"
}

test_deps() {
        install "${PACKAGES[@]}" "${TEST_PACKAGES[@]}"
        tools
}

# Debian's prometheus 2.42 and prometheus-node-exporter 1.5 for the tests (and the benchmark
# suite, with prometheus-process-exporter 0.7), unpacked into .tools/ rather than installed: the
# packages would start system-wide services on ports 9090, 9100 and 9256.
tools() {
        tool prometheus prometheus usr/bin/prometheus usr/bin/promtool
        tool node-exporter prometheus-node-exporter usr/bin/prometheus-node-exporter
}

bench_deps() {
        install "${PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${BENCH_PACKAGES[@]}"
        tools
        tool process-exporter prometheus-process-exporter usr/bin/prometheus-process-exporter
}

# tool DIR PACKAGE FILE...: unpacks Debian's PACKAGE into .tools/DIR unless its FILEs are there.
tool() {
        local dir=.tools/$1 package=$2 tmp f missing=
        shift 2
        for f; do [ -x "$dir/$f" ] || missing=1; done
        [ -n "$missing" ] || return 0
        tmp=$(mktemp -d)
        chmod 755 "$tmp"        # apt downloads as _apt
        (cd "$tmp" && quietly apt-get download "$package") || {
                quietly apt-get update
                (cd "$tmp" && quietly apt-get download "$package")
        }
        rm -rf "$dir"
        mkdir -p "$dir"
        quietly dpkg-deb -x "$tmp/${package}"_*.deb "$dir"
        rm -rf "$tmp"
}

build() {
        [ -d build ] || quietly meson setup build -Dwerror=true
        quietly ninja -C build
}

# The developer build of build-dev.ini: -Werror, ASan and UBSan.
build_asan() {
        [ -d build-asan ] || quietly meson setup --native-file build-dev.ini build-asan
        quietly ninja -C build-asan
}

# Counts results from meson's test log: "N passed, N failed, N skipped".
count() {
        python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
PY
}

tests() {
        local rc=0
        build
        build_asan
        meson test -C build --print-errorlogs || rc=1
        # The sanitizer build runs the same suites; leaks fail the test.
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                meson test -C build-asan --print-errorlogs || rc=1
        # Then every fuzz target fuzzed for 20 s (fuzz/meson.build), one per core at a time.
        fuzz 20 || rc=1
        count build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
                build-fuzz/meson-logs/testlog.json
        return $rc
}

# fuzz SECONDS: builds the fuzzing build of fuzz/build-fuzz.ini (clang, libFuzzer coverage in
# every library, ASan and UBSan) as build-fuzz/ and runs its 'fuzz' suite: each target's corpus
# replayed, then fuzzed for SECONDS (new inputs and findings stay in build-fuzz/fuzz/run/).
fuzz() {
        local seconds=${1:-600}
        [ -d build-fuzz ] || quietly meson setup --native-file fuzz/build-fuzz.ini build-fuzz
        quietly ninja -C build-fuzz fuzzers
        # A run test's timeout (180 s) covers 20 s of fuzzing; longer runs have none (-t 0).
        MAPSTATD_FUZZ_SECONDS=$seconds UBSAN_OPTIONS=print_stacktrace=1 \
                meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs \
                --timeout-multiplier "$((seconds > 60 ? 0 : 1))"
}

case "${1:-}" in
deps) deps ;;
test-deps) test_deps ;;
build) deps; build ;;
run)
        shift
        deps
        build
        exec build/daemon/mapstatd "$@"
        ;;
test) test_deps; tests ;;
fuzz) test_deps; fuzz "${2:-600}" ;;
bench)
        shift
        bench_deps
        build
        exec python3 bench/suite.py "$@"
        ;;
*)
        echo "usage: $0 run [OPTIONS] | test | fuzz [SECONDS] | bench [OPTIONS] | deps | test-deps | build" >&2
        exit 2
        ;;
esac
