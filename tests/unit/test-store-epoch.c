/* Unit tests of storage/store-epoch: the one rule that picks the baseline and the candidate of
 * a comparison (pure, on hand-made epoch lists, then through the database, including epochs
 * without sweeps), the mapcount mode read back as the enum, a stored mode this build does not
 * know, and read snapshots that keep one state while the writer commits. */
#include <errno.h>

#include "store-test.h"

static EpochInfo info(int64_t id, const char *release, MapcountMode mode, uint64_t sweeps,
                      int64_t last_sweep_id) {
        return (EpochInfo) {
                .id = id,
                .release = (char *) release,
                .mapcount_mode = mode,
                .sweeps = sweeps,
                .last_sweep_id = last_sweep_id,
        };
}

/* Picks and returns "baseline,candidate" ids (0 for none) or the error, for compact checks. */
static int pick(const EpochInfo *e, size_t n, int64_t want_b, int64_t want_c, int64_t *ret_b,
                int64_t *ret_c) {
        const EpochInfo *b = (void *) 1, *c = (void *) 1;
        int64_t unknown = -1;
        int r;

        r = epoch_pair_pick(e, n, want_b, want_c, &b, &c, &unknown);
        if (r == -ENOENT)
                return (int) -unknown;
        if (r < 0)
                return r;
        *ret_b = b ? b->id : 0;
        *ret_c = c ? c->id : 0;
        return 0;
}

static void test_pick(void) {
        const EpochInfo e[] = {
                info(1, "6.12.0", MAPCOUNT_MODE_PAGE, 3, 3),
                info(2, "6.13.0", MAPCOUNT_MODE_PAGE, 0, 0),    /* a boot without sweeps */
                info(3, "6.18.0", MAPCOUNT_MODE_NO_PAGE, 2, 5),
                info(4, "6.18.0", MAPCOUNT_MODE_NO_PAGE, 1, 6), /* the same kernel rebooted */
                info(5, "6.19.0", MAPCOUNT_MODE_NO_PAGE, 0, 0),
                info(6, "6.18.0", MAPCOUNT_MODE_PAGE, 0, 0),    /* same release, other mode */
        };
        int64_t b = -1, c = -1;

        /* Defaults: the latest sweep's epoch; before it the same kernel (3) and an epoch
         * without sweeps (2) are passed over. */
        ASSERT_INT_EQ(pick(e, 6, 0, 0, &b, &c), 0);
        ASSERT_INT_EQ(c, 4);
        ASSERT_INT_EQ(b, 1);

        /* An explicit candidate: the rule applies before it, whatever its own sweeps. */
        ASSERT_INT_EQ(pick(e, 6, 0, 3, &b, &c), 0);
        ASSERT_INT_EQ(b, 1);
        ASSERT_INT_EQ(pick(e, 6, 0, 5, &b, &c), 0);
        ASSERT_INT_EQ(b, 4);
        ASSERT_INT_EQ(pick(e, 6, 0, 2, &b, &c), 0);
        ASSERT_INT_EQ(b, 1);
        ASSERT_INT_EQ(pick(e, 6, 0, 1, &b, &c), 0);
        ASSERT_INT_EQ(b, 0);
        ASSERT_INT_EQ(c, 1);
        /* Another mapcount mode is another kernel even with the same release. */
        ASSERT_INT_EQ(pick(e, 6, 0, 6, &b, &c), 0);
        ASSERT_INT_EQ(b, 4);

        /* An explicit baseline is taken as it is; one equal to the candidate is refused. */
        ASSERT_INT_EQ(pick(e, 6, 3, 0, &b, &c), 0);
        ASSERT_INT_EQ(b, 3);
        ASSERT_INT_EQ(c, 4);
        ASSERT_INT_EQ(pick(e, 6, 4, 0, &b, &c), -EINVAL);
        ASSERT_INT_EQ(pick(e, 6, 2, 2, &b, &c), -EINVAL);

        /* Unknown epochs, named. */
        ASSERT_INT_EQ(pick(e, 6, 9, 0, &b, &c), -9);
        ASSERT_INT_EQ(pick(e, 6, 0, 8, &b, &c), -8);

        /* Nothing swept yet: neither side. */
        ASSERT_INT_EQ(pick(e + 1, 1, 0, 0, &b, &c), 0);
        ASSERT_INT_EQ(b, 0);
        ASSERT_INT_EQ(c, 0);
        ASSERT_INT_EQ(pick(NULL, 0, 0, 0, &b, &c), 0);
        ASSERT_INT_EQ(c, 0);

        /* The candidate is the epoch of the highest sweep id, not the highest epoch id. */
        {
                const EpochInfo back[] = {
                        info(1, "6.12.0", MAPCOUNT_MODE_PAGE, 2, 9),
                        info(2, "6.18.0", MAPCOUNT_MODE_NO_PAGE, 2, 4),
                };

                ASSERT_INT_EQ(pick(back, 2, 0, 0, &b, &c), 0);
                ASSERT_INT_EQ(c, 1);
                ASSERT_INT_EQ(b, 0);
        }
}

/* The same rule through the database: epochs made with the writer, the pair read back. */
static void test_pair_from_database(void) {
        char *dir = test_tmpdir_new("test-store-epoch"), *db = path_join(dir, "mapstatd.db");
        EpochPair pair = {};
        int64_t a, empty, b, unknown = 0;
        Store *s = NULL;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        ASSERT_INT_EQ(store_epoch_pair(s, 0, 0, &pair, &unknown), 0);
        ASSERT_NULL(pair.baseline);
        ASSERT_NULL(pair.candidate);
        ASSERT_INT_EQ(pair.n_epochs, 0);
        epoch_pair_done(&pair);

        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, true, true);
        (void) sweep_write(s, a, 1000000, SWEEP_FULL, 1);
        empty = epoch_make(s, "6.15.0", "boot-x", MAPCOUNT_MODE_UNKNOWN, 2, false, true);
        b = epoch_make(s, "6.18.0", "boot-b", MAPCOUNT_MODE_NO_PAGE, 3, false, true);
        (void) sweep_write(s, b, 2000000, SWEEP_FULL, 2);

        ASSERT_INT_EQ(store_epoch_pair(s, 0, 0, &pair, &unknown), 0);
        ASSERT_INT_EQ(pair.n_epochs, 3);
        ASSERT_TRUE(pair.candidate && pair.candidate->id == b);
        ASSERT_TRUE(pair.baseline && pair.baseline->id == a);
        if (pair.baseline && pair.candidate) {
                ASSERT_INT_EQ(pair.baseline->mapcount_mode, MAPCOUNT_MODE_PAGE);
                ASSERT_INT_EQ(pair.candidate->mapcount_mode, MAPCOUNT_MODE_NO_PAGE);
                ASSERT_INT_EQ(pair.candidate->sweeps, 1);
                ASSERT_TRUE(pair.candidate->last_sweep_id > pair.baseline->last_sweep_id);
                ASSERT_INT_EQ(pair.epochs[1].mapcount_mode, MAPCOUNT_MODE_UNKNOWN);
                ASSERT_INT_EQ(pair.epochs[1].last_sweep_id, 0);
        }
        epoch_pair_done(&pair);
        ASSERT_NULL(pair.epochs);

        /* The empty epoch as candidate: its baseline is the epoch before it with sweeps. */
        ASSERT_INT_EQ(store_epoch_pair(s, 0, empty, &pair, &unknown), 0);
        ASSERT_TRUE(pair.candidate && pair.candidate->id == empty);
        ASSERT_TRUE(pair.baseline && pair.baseline->id == a);
        epoch_pair_done(&pair);
        ASSERT_INT_EQ(store_epoch_pair(s, 77, 0, &pair, &unknown), -ENOENT);
        ASSERT_INT_EQ(unknown, 77);
        ASSERT_NULL(pair.epochs);
        ASSERT_INT_EQ(store_epoch_pair(s, b, b, &pair, &unknown), -EINVAL);

        /* A mode this build does not know is a corrupt row, not a guess. */
        s = store_free(s);
        sql_exec(db, "UPDATE epochs SET mapcount_mode = 'future_mapcount' WHERE id = 2");
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_ONLY, NULL), 0);
        if (s)
                ASSERT_INT_EQ(store_epoch_pair(s, 0, 0, &pair, &unknown), -EBADMSG);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

/* One snapshot sees one state: a sweep the writer commits meanwhile appears only after it. */
static void test_snapshot(void) {
        char *dir = test_tmpdir_new("test-store-epoch"), *db = path_join(dir, "mapstatd.db");
        Store *w = NULL, *r = NULL;
        StoreHealth h;
        bool began = false, nested = true;
        int64_t a;

        ASSERT_INT_EQ(store_open(&w, db, STORE_READ_WRITE, NULL), 0);
        if (!w)
                goto finish;
        a = epoch_make(w, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, false, true);
        (void) sweep_write(w, a, 1000000, SWEEP_FULL, 1);
        ASSERT_INT_EQ(store_open(&r, db, STORE_READ_ONLY, NULL), 0);
        if (!r)
                goto finish;

        ASSERT_INT_EQ(store_snapshot_begin(r, &began), 0);
        ASSERT_TRUE(began);
        ASSERT_INT_EQ(store_health(r, &h), 0);
        ASSERT_INT_EQ(h.sweeps_stored, 1);
        ASSERT_INT_EQ(store_snapshot_begin(r, &nested), 0);     /* nested: nothing happens */
        ASSERT_FALSE(nested);
        store_snapshot_end(r, nested);

        (void) sweep_write(w, a, 2000000, SWEEP_FULL, 2);
        ASSERT_INT_EQ(store_health(r, &h), 0);
        ASSERT_INT_EQ(h.sweeps_stored, 1);
        store_snapshot_end(r, began);

        ASSERT_INT_EQ(store_health(r, &h), 0);
        ASSERT_INT_EQ(h.sweeps_stored, 2);

finish:
        store_free(r);
        store_free(w);
        free(db);
        test_tmpdir_remove(dir);
}

int main(void) {
        test_pick();
        test_pair_from_database();
        test_snapshot();
        return test_exit();
}
