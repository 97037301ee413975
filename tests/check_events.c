/*
 * events.c: the ring of live events and its readers, without HTTP. A
 * reader gets every event after the one it names, in order, whole, in
 * buffers of any size; one that fell behind the ring is told of the gap;
 * one with nothing to read sleeps and is woken by the next event; readers
 * are bounded.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

struct sleeper {
	int	 slept;
	int	 woken;
};

static void
on_sleep(void *arg)
{
	((struct sleeper *)arg)->slept++;
}

static void
on_wake(void *arg)
{
	((struct sleeper *)arg)->woken++;
}

/* Everything the reader has now, read in chunks of at most chunk bytes. */
static char *
drain(struct events_reader *r, size_t chunk)
{
	static char	 all[1 << 20];
	char		 buf[65536];
	size_t		 len = 0;
	ssize_t		 n;

	ck_assert_uint_le(chunk, sizeof(buf));
	while ((n = events_read(r, buf, chunk)) > 0) {
		ck_assert_uint_lt(len + (size_t)n, sizeof(all));
		memcpy(all + len, buf, (size_t)n);
		len += (size_t)n;
	}
	ck_assert_int_eq(n, 0);
	all[len] = '\0';
	return all;
}

static int
count(const char *s, const char *sub)
{
	int	 n = 0;

	while ((s = strstr(s, sub)) != NULL) {
		n++;
		s += strlen(sub);
	}
	return n;
}

START_TEST(in_order_and_resumed)
{
	struct events		*ev = events_new(1000, NULL, NULL);
	struct events_reader	*r, *r2;
	struct sleeper		 sl = { 0, 0 }, sl2 = { 0, 0 };
	uint64_t		 id1, id2, id3;
	char			*t, want[64];

	ck_assert_ptr_nonnull(ev);
	/* a new reader without an id gets what comes, not what was */
	id1 = events_publish(ev, "change", "{\"generation\":2}");
	ck_assert_uint_gt(id1, 0);
	r = events_reader_new(ev, 0, on_sleep, on_wake, &sl);
	ck_assert_ptr_nonnull(r);
	t = drain(r, 4096);
	ck_assert_str_eq(t, "retry: 2000\n\n");
	ck_assert_int_eq(sl.slept, 1);
	id2 = events_publish(ev, "change", "{\"generation\":3}");
	ck_assert_int_eq(sl.woken, 1);
	id3 = events_publish(ev, "drift", "{\"drift\":true}");
	ck_assert_int_eq(sl.woken, 1);		/* awake already */
	ck_assert_uint_eq(id2, id1 + 1);
	ck_assert_uint_eq(id3, id1 + 2);
	t = drain(r, 4096);
	snprintf(want, sizeof(want), "id: %" PRIu64 "\nevent: change\n", id2);
	ck_assert_ptr_eq(strstr(t, want), t);
	ck_assert_ptr_nonnull(strstr(t, "event: drift\ndata: {\"drift\":true}"
	    "\n\n"));
	ck_assert_int_eq(sl.slept, 2);
	/* one that says it read id1 gets id2 and id3, in buffers of 7 */
	r2 = events_reader_new(ev, id1, on_sleep, on_wake, &sl2);
	ck_assert_ptr_nonnull(r2);
	t = drain(r2, 7);
	ck_assert_int_eq(count(t, "id: "), 2);
	ck_assert_ptr_nonnull(strstr(t, want));
	ck_assert_int_eq(count(t, "event: gap"), 0);
	events_reader_free(r);
	events_reader_free(r2);
	events_free(ev);
}
END_TEST

START_TEST(slow_reader_told_of_gap)
{
	struct events		*ev = events_new(1000, NULL, NULL);
	struct events_reader	*r;
	struct sleeper		 sl = { 0, 0 };
	uint64_t		 first, last = 0;
	char			 data[64], *t, *g;
	int			 i;

	ck_assert_ptr_nonnull(ev);
	first = events_publish(ev, "change", "{}");
	r = events_reader_new(ev, first, on_sleep, on_wake, &sl);
	ck_assert_ptr_nonnull(r);
	for (i = 0; i < EVENTS_RING + 10; i++) {
		snprintf(data, sizeof(data), "{\"n\":%d}", i);
		last = events_publish(ev, "change", data);
	}
	t = drain(r, 65536);
	/* told what it lost, then every event the ring still holds */
	ck_assert_ptr_nonnull(g = strstr(t, "event: gap\n"));
	ck_assert_int_eq(count(t, "id: "), EVENTS_RING);
	ck_assert_ptr_nonnull(strstr(t, "{\"n\":10}"));
	ck_assert_ptr_null(strstr(t, "{\"n\":9}"));
	snprintf(data, sizeof(data), "id: %" PRIu64 "\n", last);
	ck_assert_ptr_nonnull(strstr(t, data));
	/* an id from an earlier run is older than anything kept */
	events_reader_free(r);
	r = events_reader_new(ev, 12345, on_sleep, on_wake, &sl);
	t = drain(r, 65536);
	ck_assert_ptr_nonnull(strstr(t, "event: gap\n"));
	events_reader_free(r);
	events_free(ev);
}
END_TEST

START_TEST(readers_bounded_and_closed)
{
	struct events		*ev = events_new(1000, NULL, NULL);
	struct events_reader	*r[EVENTS_READERS_MAX];
	struct sleeper		 sl = { 0, 0 };
	char			 buf[256];
	int			 i;

	ck_assert_ptr_nonnull(ev);
	for (i = 0; i < EVENTS_READERS_MAX; i++) {
		r[i] = events_reader_new(ev, 0, on_sleep, on_wake, &sl);
		ck_assert_ptr_nonnull(r[i]);
		(void)drain(r[i], sizeof(buf));
	}
	ck_assert_int_eq(sl.slept, EVENTS_READERS_MAX);
	/* one too many: refused, and the sleepers are woken to be checked */
	ck_assert_ptr_null(events_reader_new(ev, 0, on_sleep, on_wake, &sl));
	ck_assert_int_eq(sl.woken, EVENTS_READERS_MAX);
	/* each has a ping now, then sleeps again */
	ck_assert_int_eq(events_read(r[0], buf, sizeof(buf)), 8);
	ck_assert(memcmp(buf, ": ping\n\n", 8) == 0);
	events_reader_free(r[0]);
	r[0] = events_reader_new(ev, 0, on_sleep, on_wake, &sl);
	ck_assert_ptr_nonnull(r[0]);
	/* closed: every stream ends */
	events_close(ev);
	for (i = 0; i < EVENTS_READERS_MAX; i++) {
		ck_assert_int_eq(events_read(r[i], buf, sizeof(buf)), -1);
		events_reader_free(r[i]);
	}
	ck_assert_uint_eq(events_publish(ev, "change", "{}"), 0);
	events_free(ev);
}
END_TEST

static Suite *
events_suite(void)
{
	Suite	*s = suite_create("events");
	TCase	*tc = tcase_create("events");

	tcase_add_test(tc, in_order_and_resumed);
	tcase_add_test(tc, slow_reader_told_of_gap);
	tcase_add_test(tc, readers_bounded_and_closed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(events_suite());
	int	 nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
