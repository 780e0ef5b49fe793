"""The man pages and the example configuration against the daemon's tables and the real binary.

The option table and the route table come from the code the binary is built from (the `tables`
helper prints them as JSON). Every option of the table must be in `mapstatd --help` with its
default, and documented in mapstatd(8) with its configuration key and default; every key must
be documented in its section of mapstatd.conf(5) and listed, commented out with its default, in
docs/mapstatd.conf.example; the example with every key uncommented must be accepted by the
daemon (one --once sweep of the real /proc into a temp database); every HTTP endpoint and
parameter and the MESSAGE_IDs of systemd/mapstatd.catalog must appear in mapstatd(8); and the
built pages must render with `man -l` when man is installed.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import contract
from fleet_fixture import CTL
from harness import BIN, SOURCE_ROOT, TIMEOUT, main

DOCS = os.path.join(SOURCE_ROOT, "docs")
BUILT_DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(BIN))), "docs")
PAGES = ("mapstatd.8", "mapstatd.conf.5", "mapstatctl.1")


def read(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as f:
        return f.read()


def scd(name):
    """An scdoc source with its escapes removed, so that names read as they render."""
    return read(DOCS, name + ".scd").replace("\\_", "_").replace("\\*", "*")


def squash(text):
    return re.sub(r"\s+", " ", text)


TABLES = os.environ.get("MAPSTATD_TABLES",
                        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(BIN))),
                                     "tests", "helpers", "tables"))


def tables():
    """The option and route tables the binary is built from."""
    res = subprocess.run([TABLES], capture_output=True, text=True, timeout=TIMEOUT,
                         stdin=subprocess.DEVNULL, check=True)
    return json.loads(res.stdout)


def settings_table():
    """The settings (options with a configuration key) as dicts of the option table."""
    rows = [o for o in tables()["options"] if o["section"]]
    assert len(rows) >= 10, rows
    return rows


def table_defaults(row):
    """The defaults a row documents: its value, else the alternatives of its default_help
    ("A, else B" gives A and B); an empty default, which stands for nothing, and the word for
    it in default_help ("none")."""
    if row["default"] == "":
        return {"", row["default_help"]}
    if row["default"] is not None:
        return {row["default"]}
    return {part.split()[-1] for part in re.split(r", else ", row["default_help"] or "")}


def help_blocks():
    """{long option: its --help text, continuation lines joined} from the real binary."""
    res = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=TIMEOUT,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res
    blocks, current = {}, None
    for line in res.stdout.splitlines():
        m = re.match(r"^\s{2}(?:-\w, |\s{4})--([a-z0-9-]+)", line)
        if m:
            current = m.group(1)
            blocks[current] = line
        elif current and re.match(r"^\s{10,}\S", line):
            blocks[current] += " " + line.strip()
        else:
            current = None
    assert len(blocks) >= 10, res.stdout
    return {k: squash(v) for k, v in blocks.items()}


def scd_option_block(page, option):
    """The text of one option's entry in the OPTIONS section of mapstatd.8.scd: from its
    '*--option*' term line to the next term line."""
    options = re.search(r"(?ms)^# OPTIONS$(.*?)(?=^# )", page)
    assert options, "no OPTIONS section in mapstatd.8.scd"
    lines = options.group(1).splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\*(-\w\*, \*)?--%s\*" % re.escape(option), line):
            body = [line]
            for more in lines[i + 1:]:
                if not more.startswith("\t") and more.strip():
                    break
                body.append(more)
            return squash("\n".join(body))
    return None


def conf_section(page, section):
    m = re.search(r"^# \[%s\] SECTION$(.*?)(?=^# )" % section, page, re.S | re.M)
    return m.group(1) if m else None


def example_settings():
    """[(section, key, value, line number)] of the '#Key=value' lines of the example, and the
    uncommented 'Key=value' lines (which there must be none of)."""
    section, commented, live = None, [], []
    for n, line in enumerate(read(DOCS, "mapstatd.conf.example").splitlines(), 1):
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^#(\w+)=(.*)$", line)
        if m:
            commented.append((section, m.group(1), m.group(2), n))
        elif re.match(r"^\s*\w+\s*=", line):
            live.append((n, line))
    return commented, live


class DocsTest(unittest.TestCase):
    def test_help_is_the_table(self):
        blocks = help_blocks()
        options = tables()["options"]
        self.assertEqual(sorted(blocks), sorted(o["option"] for o in options))
        for o in options:
            for d in table_defaults(o) if o["section"] else ():
                self.assertIn(d, blocks[o["option"]],
                              "--%s: --help does not state the table's default" % o["option"])
            self.assertIn(squash(o["help"]), blocks[o["option"]])

    def test_every_option_is_in_man8(self):
        page = scd("mapstatd.8")
        for o in tables()["options"]:
            self.assertIsNotNone(scd_option_block(page, o["option"]),
                                 "--%s is not documented in docs/mapstatd.8.scd" % o["option"])

    def test_man8_names_each_options_key_and_default(self):
        page = scd("mapstatd.8")
        for row in settings_table():
            section, key, option = row["section"], row["key"], row["option"]
            block = scd_option_block(page, option)
            self.assertIsNotNone(block, "--%s missing in mapstatd.8.scd" % option)
            self.assertIn("*[%s] %s=*" % (section, key), block,
                          "--%s does not name its key [%s] %s=" % (option, section, key))
            defaults = table_defaults(row)
            self.assertTrue(any(re.search(r"Default: .*?[*_]%s[*_]" % re.escape(d), block)
                                for d in defaults),
                            "--%s: none of the defaults %s of the table is its Default: in "
                            "mapstatd.8.scd: %s" % (option, sorted(defaults), block))

    def test_every_key_is_in_its_conf5_section(self):
        page = scd("mapstatd.conf.5")
        for row in settings_table():
            section, key, option = row["section"], row["key"], row["option"]
            text = conf_section(page, section)
            self.assertIsNotNone(text, "no '# [%s] SECTION' in mapstatd.conf.5.scd" % section)
            # An entry is a term line '*Key=*_VALUE_' and its indented description.
            term = r"(?m)^\*%s=\*_[A-Z:]+_$" % key
            self.assertRegex(text, term,
                             "%s= is not documented under [%s] in mapstatd.conf.5.scd"
                             % (key, section))
            entry = re.search(term + r"(?s:.*?)(?=^\*\w+=\*_|\Z)", text).group(0)
            self.assertIn("*--%s*" % option, entry,
                          "%s= in mapstatd.conf.5.scd does not name --%s" % (key, option))

    def test_example_lists_every_key_with_the_help_default(self):
        commented, live = example_settings()
        self.assertEqual(live, [], "the example must set nothing: every key stays commented")
        table = {(row["section"], row["key"]): row for row in settings_table()}
        listed = [(section, key) for section, key, _, _ in commented]
        self.assertEqual(len(listed), len(set(listed)), "a key is listed twice: %s" % listed)
        self.assertEqual(set(listed), set(table),
                         "the example's [Section] Key pairs differ from the option table")
        for section, key, value, n in commented:
            defaults = table_defaults(table[(section, key)])
            self.assertIn(value, defaults,
                          "mapstatd.conf.example:%d: %s=%s is not the table's default (%s)"
                          % (n, key, value, sorted(defaults)))

    def test_uncommented_example_is_accepted_by_the_daemon(self):
        text = read(DOCS, "mapstatd.conf.example")
        live = re.sub(r"(?m)^#(\w+=)", r"\1", text)
        self.assertNotEqual(live, text)
        with tempfile.TemporaryDirectory(prefix="mapstatd-docs-") as tmp:
            conf = os.path.join(tmp, "mapstatd.conf")
            with open(conf, "w", encoding="utf-8") as f:
                f.write(live)
            db = os.path.join(tmp, "mapstatd.db")
            res = subprocess.run([BIN, "--config", conf, "--once", "--db", db],
                                 capture_output=True, text=True, timeout=TIMEOUT * 4,
                                 stdin=subprocess.DEVNULL, env=self._env())
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertRegex(res.stdout, r'^\{"sweep": [1-9]')

            # The file really is read: the same file with one value broken is refused, naming
            # the line.
            broken = live.replace("\nInterval=60s\n", "\nInterval=forever\n")
            self.assertNotEqual(broken, live)
            line = broken[:broken.index("Interval=forever")].count("\n") + 1
            with open(conf, "w", encoding="utf-8") as f:
                f.write(broken)
            res = subprocess.run([BIN, "--config", conf, "--once", "--db", db],
                                 capture_output=True, text=True, timeout=TIMEOUT,
                                 stdin=subprocess.DEVNULL, env=self._env())
            self.assertEqual(res.returncode, 2, res)
            self.assertIn("%s:%d:" % (conf, line), res.stderr)

    def test_http_endpoints_and_parameters_are_in_man8(self):
        page = scd("mapstatd.8")
        routes = tables()["routes"]
        self.assertGreaterEqual(len(routes), 5, routes)
        for route in routes:
            path = route["path"]
            self.assertIn("*GET %s*" % path, page, "%s is not documented in mapstatd.8" % path)
            for p in route["params"]:
                self.assertIn("*%s=*" % p, page,
                              "parameter %s of %s is not documented in mapstatd.8" % (p, path))

    def test_openapi_describes_every_route_and_parameter(self):
        doc = contract.Contract().doc
        t = tables()
        documented = set(doc["paths"])
        for route in t["routes"]:
            path = route["path"]
            self.assertIn(path, documented, "%s is not in docs/openapi.yaml" % path)
            op = doc["paths"][path]["get"]
            names = set()
            for p in op.get("parameters", []):
                if "$ref" in p:
                    p = doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
                names.add((p["name"], p["in"]))
            want = {(p, "query") for p in route["params"]}
            want |= {(m, "path") for m in re.findall(r"\{(\w+)\}", path)}
            self.assertEqual(names, want, "parameters of %s in docs/openapi.yaml" % path)
            for status in ("400",) if route["params"] else ():
                self.assertIn(status, op["responses"], "%s: %s" % (path, status))
        served = {r["path"] for r in t["routes"]}
        for asset in t["assets"]:
            template, _ = contract.Contract().operation(asset)
            self.assertIsNotNone(template, "asset %s is not in docs/openapi.yaml" % asset)
            served.add(template)
        self.assertEqual(documented - served, set(),
                         "docs/openapi.yaml documents paths the daemon does not serve")

    def test_every_mapstatctl_command_is_in_man1(self):
        page = scd("mapstatctl.1")
        help_text = subprocess.run([CTL, "--help"], capture_output=True, text=True,
                                   timeout=TIMEOUT, check=True).stdout
        commands = re.findall(r"(?m)^  ([a-z]+) ", help_text.split("Commands:")[1])
        self.assertGreaterEqual(len(commands), 8, commands)
        for cmd in commands:
            self.assertRegex(page, r"\*%s[ *]" % cmd, "mapstatctl %s is not in mapstatctl.1" % cmd)
            sub = subprocess.run([CTL, cmd, "--help"], capture_output=True, text=True,
                                 timeout=TIMEOUT)
            self.assertEqual(sub.returncode, 0, sub.stderr)
            for option in re.findall(r"(?m)^  (?:-\w, )?(--[a-z-]+)", sub.stdout):
                if option != "--help":
                    self.assertIn("*%s*" % option, page,
                                  "mapstatctl %s %s is not in mapstatctl.1" % (cmd, option))

    def test_message_ids_are_in_man8(self):
        page = scd("mapstatd.8")
        ids = re.findall(r"(?m)^-- ([0-9a-f]{32})$", read(SOURCE_ROOT, "systemd",
                                                          "mapstatd.catalog"))
        self.assertGreaterEqual(len(ids), 3, ids)
        for mid in ids:
            self.assertIn("*%s*" % mid, page, "MESSAGE_ID %s is not in mapstatd.8" % mid)

    def test_threat_model_points_at_tests_that_exist(self):
        # Every claim of docs/threat-model.md names the test that checks it: each named test
        # file exists, and each test method or class named beside it is defined in one of
        # the test files of the same row.
        with open(os.path.join(DOCS, "threat-model.md")) as f:
            text = f.read()
        tests_dir = os.path.join(SOURCE_ROOT, "tests")
        fuzz_dir = os.path.join(SOURCE_ROOT, "fuzz")
        checked = 0
        for row in re.split(r"\n(?=\|)|\n\n", text):
            files = re.findall(r"`((?:integration/|unit/)?test[-_][\w-]+\.(?:py|c))`", row)
            names = re.findall(r"`((?:test_|Test)\w*|\w+Test)`", row)
            paths = []
            for name in files:
                sub = "" if "/" in name else ("integration" if name.endswith(".py") else "unit")
                path = os.path.join(tests_dir, sub, name)
                self.assertTrue(os.path.exists(path), name)
                paths.append(path)
            for target in re.findall(r"fuzz targets? ((?:`[\w-]+`(?:, )?)+)", row):
                for t in re.findall(r"`([\w-]+)`", target):
                    self.assertTrue(os.path.exists(os.path.join(fuzz_dir, "fuzz-%s.c" % t)), t)
            sources = ""
            for path in paths:
                with open(path) as f:
                    sources += f.read()
            for name in names:
                self.assertRegex(sources, r"(def|class|void) %s\b" % name, (name, row[:80]))
                checked += 1
        self.assertGreater(checked, 20)

    def test_built_pages_render(self):
        for page in PAGES:
            self.assertTrue(os.path.exists(os.path.join(BUILT_DOCS, page)),
                            "%s was not built into %s" % (page, BUILT_DOCS))
        man = shutil.which("man")
        if not man:
            self.skipTest("man is not installed")
        env = dict(self._env(), MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
        for page in PAGES:
            res = subprocess.run([man, "--warnings", "-l", os.path.join(BUILT_DOCS, page)],
                                 capture_output=True, text=True, timeout=TIMEOUT, env=env,
                                 stdin=subprocess.DEVNULL)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertEqual(res.stderr, "", "groff warnings for %s" % page)
            for heading in ("NAME", "DESCRIPTION", "SEE ALSO"):
                self.assertRegex(res.stdout, r"(?m)^%s$" % heading, page)

    @staticmethod
    def _env():
        env = dict(os.environ)
        for name in ("LISTEN_FDS", "LISTEN_PID", "NOTIFY_SOCKET", "JOURNAL_STREAM",
                     "STATE_DIRECTORY", "WATCHDOG_USEC"):
            env.pop(name, None)
        return env


if __name__ == "__main__":
    main()
