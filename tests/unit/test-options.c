/* Unit tests of daemon/options: the option table (unique names and keys, a help text and, for
 * every setting, a default that its own validator accepts), the defaults options_init() parses
 * from it, the command line over a configuration file over the defaults, and the errors each
 * source reports. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "macro.h"
#include "options.h"
#include "test.h"

static void test_table(void) {
        const OptionInfo *o, *p;
        size_t n = 0, settings = 0;

        for (size_t i = 0; (o = options_table_get(i)); i++, n++) {
                ASSERT_TRUE(o->option && o->option[0] != '\0');
                ASSERT_TRUE(o->help && o->help[0] != '\0');
                /* default_help says what an empty default stands for, or replaces it. */
                ASSERT_FALSE(o->default_value && o->default_value[0] && o->default_help);
                ASSERT_TRUE(!o->default_value || o->default_value[0] || o->default_help);
                if (o->section) {
                        settings++;
                        ASSERT_TRUE(o->key && o->metavar);
                        ASSERT_TRUE(strcmp(o->section, "Daemon") == 0 ||
                                    strcmp(o->section, "Report") == 0 ||
                                    strcmp(o->section, "Web") == 0);
                }
                for (size_t k = 0; k < i; k++) {
                        p = options_table_get(k);
                        ASSERT_TRUE(strcmp(p->option, o->option) != 0);
                        ASSERT_TRUE(!o->short_option || p->short_option != o->short_option);
                        if (o->section && p->section)
                                ASSERT_TRUE(strcmp(p->key, o->key) != 0);
                }
        }
        ASSERT_INT_EQ(settings, 22);
        ASSERT_INT_EQ(n, settings + 4);         /* config, once, help, version */
        ASSERT_NULL(options_table_get(n));
}

static void test_defaults(void) {
        Options o;

        ASSERT_INT_EQ(options_init(&o), 0);
        ASSERT_NULL(o.db_path);
        ASSERT_STR_EQ(o.listen, "127.0.0.1:9100");
        ASSERT_U64_EQ(o.interval_usec, 60ULL * 1000000);
        ASSERT_STR_EQ(o.proc_root, "/proc");
        ASSERT_STR_EQ(o.sys_root, "/sys");
        ASSERT_STR_EQ(o.boot_root, "/boot");
        ASSERT_U64_EQ(o.retention_usec, 7ULL * 86400 * 1000000);
        ASSERT_INT_EQ(o.keep_per_epoch, 120);
        ASSERT_U64_EQ(o.downsample_after_usec, 2ULL * 3600 * 1000000);
        ASSERT_INT_EQ(o.identity_mode, IDENTITY_MODE_EXE_ARGS);
        ASSERT_DOUBLE_NEAR(o.thresholds.min_delta_kb, THRESHOLDS_DEFAULT.min_delta_kb, 0);
        ASSERT_DOUBLE_NEAR(o.thresholds.min_delta_points, THRESHOLDS_DEFAULT.min_delta_points, 0);
        ASSERT_DOUBLE_NEAR(o.thresholds.noise_factor, THRESHOLDS_DEFAULT.noise_factor, 0);
        ASSERT_INT_EQ(o.log_level, LOG_INFO);
        ASSERT_INT_EQ(o.pagemap_mode, PAGEMAP_MODE_EXCLUSIVITY);
        ASSERT_U64_EQ(o.pagemap_max_scan_bytes, 64ULL << 30);
        ASSERT_U64_EQ(o.pagemap_budget_usec, 10ULL * 1000000);
        ASSERT_U64_EQ(o.stall_budget_usec, 20ULL * 1000);
        ASSERT_FALSE(o.redact_cmdline);
        ASSERT_INT_EQ(o.metrics_identities, 100);
        ASSERT_NULL(o.textfile_directory);
        options_done(&o);
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        ASSERT_TRUE(f != NULL);
        if (!f)
                return;
        fputs(text, f);
        fclose(f);
}

static void test_precedence(void) {
        char *dir = test_tmpdir_new("test-options"), conf[512];
        char *argv[] = { (char *) "mapstatd", (char *) "--config", conf, (char *) "-i",
                         (char *) "5min", (char *) "--identity", (char *) "comm",
                         (char *) "--once", NULL };
        _cleanup_free_ char *path = NULL, *err = NULL;
        OptionsAction action;
        Options o;

        (void) snprintf(conf, sizeof conf, "%s/m.conf", dir);
        write_text(conf, "[Daemon]\nInterval=30s\nRetention=2d\n[Report]\nIdentity=unit\n"
                         "NoiseFactor=5\n");
        ASSERT_INT_EQ(options_init(&o), 0);
        ASSERT_INT_EQ(options_parse(8, argv, &o, &action, &path, &err), 0);
        ASSERT_NULL(err);
        ASSERT_INT_EQ(action, OPTIONS_ONCE);
        ASSERT_STR_EQ(path, conf);
        ASSERT_U64_EQ(o.interval_usec, 300ULL * 1000000);       /* command line wins */
        ASSERT_INT_EQ(o.identity_mode, IDENTITY_MODE_COMM);
        ASSERT_U64_EQ(o.retention_usec, 2ULL * 86400 * 1000000); /* the file */
        ASSERT_DOUBLE_NEAR(o.thresholds.noise_factor, 5, 0);
        ASSERT_INT_EQ(o.keep_per_epoch, 120);                    /* the default */
        options_done(&o);

        /* A bad value names the option, or the file and line. */
        argv[4] = (char *) "0";
        ASSERT_INT_EQ(options_init(&o), 0);
        free(path);
        path = NULL;
        ASSERT_INT_EQ(options_parse(8, argv, &o, &action, &path, &err), -EBADMSG);
        ASSERT_TRUE(err && strstr(err, "'0'") && strstr(err, "--interval"));
        options_done(&o);
        err = mfree(err);

        write_text(conf, "[Daemon]\n\nKeepSweepsPerEpoch=0\n");
        ASSERT_INT_EQ(options_init(&o), 0);
        ASSERT_INT_EQ(options_load_file(&o, conf, &err), -EBADMSG);
        ASSERT_TRUE(err && strstr(err, ":3: ") && strstr(err, "KeepSweepsPerEpoch"));
        ASSERT_INT_EQ(o.keep_per_epoch, 120);                    /* unchanged */
        err = mfree(err);
        write_text(conf, "[Web]\nRedactCmdline=maybe\n");
        ASSERT_INT_EQ(options_load_file(&o, conf, &err), -EBADMSG);
        ASSERT_TRUE(err && strstr(err, ":2: ") && strstr(err, "RedactCmdline") &&
                    strstr(err, "yes or no"));
        err = mfree(err);
        write_text(conf, "[Web]\nRedactCmdline=yes\nMetricsIdentities=0\n");
        ASSERT_INT_EQ(options_load_file(&o, conf, &err), 0);
        ASSERT_TRUE(o.redact_cmdline);
        ASSERT_INT_EQ(o.metrics_identities, 0);
        /* A textfile directory, and an empty value that turns it off again. */
        write_text(conf, "[Web]\nTextfileDirectory=/var/lib/prometheus/node-exporter\n");
        ASSERT_INT_EQ(options_load_file(&o, conf, &err), 0);
        ASSERT_STR_EQ(o.textfile_directory, "/var/lib/prometheus/node-exporter");
        write_text(conf, "[Web]\nTextfileDirectory=\n");
        ASSERT_INT_EQ(options_load_file(&o, conf, &err), 0);
        ASSERT_NULL(o.textfile_directory);
        {
                char long_path[1200];
                char *args[] = { (char *) "mapstatd", (char *) "--textfile-directory",
                                 long_path, NULL };

                (void) snprintf(long_path, sizeof long_path, "/%01100d", 0);
                free(path);
                path = NULL;
                ASSERT_INT_EQ(options_parse(3, args, &o, &action, &path, &err), -EBADMSG);
                ASSERT_TRUE(err && strstr(err, "--textfile-directory") &&
                            strstr(err, "path too long"));
                ASSERT_NULL(o.textfile_directory);
                err = mfree(err);
        }
        write_text(conf, "[Web]\nMetricsIdentities=100001\n");
        ASSERT_INT_EQ(options_load_file(&o, conf, &err), -EBADMSG);
        ASSERT_TRUE(err && strstr(err, "MetricsIdentities"));
        err = mfree(err);
        write_text(conf, "[Report]\nInterval=5s\n");
        ASSERT_INT_EQ(options_load_file(&o, conf, &err), -EBADMSG);
        ASSERT_TRUE(err && strstr(err, "unknown key 'Interval' in section [Report]"));
        err = mfree(err);
        options_done(&o);

        test_tmpdir_remove(dir);
}

int main(void) {
        test_table();
        test_defaults();
        test_precedence();
        return test_exit();
}
