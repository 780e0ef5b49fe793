"""The code's layout rules of docs/design.md, checked on the tree and the built libraries:

* no file-level include cycle among the project's own headers and sources;
* each folder includes only the folders it may use (storage/ and web/ may include the
  collectors' and compare/'s type headers);
* storage/ and web/ link no symbol of the collectors, and storage/ none of compare/ (they use
  the type headers only);
* no C or Python source file over 800 lines;
* every section of docs/kernel-semantics.md a comment cites exists;
* nothing refers to files outside the repository.
"""
import os
import re
import shutil
import subprocess
import unittest

from harness import BIN, SOURCE_ROOT, main

BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(BIN)))
MODULES = ("common", "collectors", "compare", "storage", "web", "daemon", "cli")
# What each folder may include, besides itself and the system's headers.
ALLOWED = {
    "common": set(),
    "collectors": {"common"},
    "compare": {"common"},
    "storage": {"common", "collectors", "compare"},
    "web": {"common", "collectors", "compare", "storage"},
    "daemon": {"common", "collectors", "compare", "storage", "web"},
    "cli": {"common", "compare", "web", "daemon"},
}
MAX_LINES = 800
OUTSIDE = os.path.join("..", "shared")     # the directory beside a checkout in development
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def tracked(*patterns):
    out = subprocess.run(["git", "-C", SOURCE_ROOT, "ls-files", *patterns], capture_output=True,
                         text=True, check=True).stdout
    return [p for p in out.splitlines() if os.path.exists(os.path.join(SOURCE_ROOT, p))]


def read(path):
    with open(os.path.join(SOURCE_ROOT, path), encoding="utf-8") as f:
        return f.read()


def project_headers():
    """{basename: path} of the headers of the module folders."""
    return {os.path.basename(p): p for p in tracked(*("%s/*.h" % m for m in MODULES))}


def defined_symbols(lib):
    out = subprocess.run(["nm", "--defined-only", "-g", lib], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if re.match(r"^[0-9a-f]+ [TDRB] ", line)}


def undefined_symbols(lib):
    out = subprocess.run(["nm", "-u", lib], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip().startswith("U ")}


class LayoutTest(unittest.TestCase):
    def test_no_include_cycle(self):
        headers = project_headers()
        files = tracked(*("%s/*.[ch]" % m for m in MODULES))
        graph = {f: [headers[h] for h in INCLUDE.findall(read(f)) if h in headers]
                 for f in files}
        state = {}

        def visit(node, path):
            state[node] = "open"
            for nxt in graph.get(node, ()):
                if state.get(nxt) == "open":
                    cycle = path[path.index(nxt):] + [nxt]
                    self.fail("include cycle: %s" % " -> ".join(cycle))
                if nxt not in state:
                    visit(nxt, path + [nxt])
            state[node] = "done"

        for f in sorted(graph):
            if f not in state:
                visit(f, [f])

    def test_folders_include_what_they_may(self):
        headers = project_headers()
        for f in tracked(*("%s/*.[ch]" % m for m in MODULES)):
            folder = f.split("/")[0]
            for h in INCLUDE.findall(read(f)):
                if h not in headers:
                    continue
                target = headers[h].split("/")[0]
                self.assertTrue(target == folder or target in ALLOWED[folder],
                                "%s includes %s (%s/ may not use %s/)" % (f, h, folder, target))

    def test_libraries_link_only_what_they_may(self):
        if not shutil.which("nm"):
            self.skipTest("nm (binutils) is not installed")
        lib = {m: os.path.join(BUILD_DIR, m, "lib%s.a" % m) for m in MODULES
               if m not in ("daemon", "cli")}
        for path in lib.values():
            self.assertTrue(os.path.exists(path), "%s was not built" % path)
        forbidden = [("storage", "collectors"), ("storage", "compare"), ("web", "collectors")]
        for user, owner in forbidden:
            used = undefined_symbols(lib[user]) & defined_symbols(lib[owner])
            self.assertEqual(used, set(), "%s/ calls %s/: %s" % (user, owner, sorted(used)))

    def test_no_file_over_the_limit(self):
        for f in tracked("*.c", "*.h", "*.py"):
            n = read(f).count("\n")
            self.assertLessEqual(n, MAX_LINES, "%s has %d lines (at most %d: split it along its "
                                 "jobs)" % (f, n, MAX_LINES))

    def test_cited_sections_exist(self):
        doc = read("docs/kernel-semantics.md")
        headings = set(re.findall(r"(?m)^#{2,3} (\d+(?:\.\d+)?)\.? ", doc))
        self.assertIn("7", headings)
        for f in tracked("*.c", "*.h", "*.py", "*.md", "*.scd", "meson.build"):
            if f == "docs/kernel-semantics.md":
                continue
            text = read(f)
            if "kernel-semantics" not in text and not f.endswith((".c", ".h")):
                continue
            for section in re.findall(r"§\s?(\d+(?:\.\d+)?)", text):
                self.assertIn(section, headings,
                              "%s cites §%s, which docs/kernel-semantics.md does not have"
                              % (f, section))

    def test_nothing_outside_the_repository(self):
        for f in tracked():
            if f.startswith("tests/fixtures/") or not os.path.isfile(
                    os.path.join(SOURCE_ROOT, f)):
                continue
            try:
                text = read(f)
            except UnicodeDecodeError:
                continue
            self.assertNotIn(OUTSIDE, text, "%s refers to %s" % (f, OUTSIDE))


if __name__ == "__main__":
    main()
