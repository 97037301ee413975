/*
 * The accounting behind the API's budget for buffered request bodies
 * (api.h): what is taken must fit, what does not fit takes nothing, what
 * is given back can be taken again, and threads racing on it neither lose
 * nor invent bytes.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "api.h"

START_TEST(test_budget_fits)
{
	struct api_budget	 b;

	api_budget_init(&b, 100);
	ck_assert_uint_eq(api_budget_used(&b), 0);
	ck_assert(api_budget_take(&b, 60));
	ck_assert(api_budget_take(&b, 40));
	ck_assert_uint_eq(api_budget_used(&b), 100);
	/* full: even one byte more is refused, and takes nothing */
	ck_assert(!api_budget_take(&b, 1));
	ck_assert_uint_eq(api_budget_used(&b), 100);
	/* nothing is always there */
	ck_assert(api_budget_take(&b, 0));
	api_budget_give(&b, 60);
	ck_assert_uint_eq(api_budget_used(&b), 40);
	ck_assert(!api_budget_take(&b, 61));
	ck_assert_uint_eq(api_budget_used(&b), 40);
	ck_assert(api_budget_take(&b, 60));
	api_budget_give(&b, 100);
	ck_assert_uint_eq(api_budget_used(&b), 0);
}
END_TEST

START_TEST(test_budget_extremes)
{
	struct api_budget	 b;

	api_budget_init(&b, 100);
	/* no wrap-around of used + n */
	ck_assert(!api_budget_take(&b, SIZE_MAX));
	ck_assert(api_budget_take(&b, 1));
	ck_assert(!api_budget_take(&b, SIZE_MAX));
	ck_assert_uint_eq(api_budget_used(&b), 1);
	/* giving back more than was taken stops at zero */
	api_budget_give(&b, 5);
	ck_assert_uint_eq(api_budget_used(&b), 0);
	api_budget_give(&b, 0);
	ck_assert_uint_eq(api_budget_used(&b), 0);
	/* the real budget holds one largest body, NUL included */
	api_budget_init(&b, API_BODY_BUDGET);
	ck_assert(api_budget_take(&b, (size_t)API_BODY_MAX_BIG + 1));
	ck_assert_uint_ge(API_BODY_BUDGET, API_BODY_MAX_BIG + 1);
}
END_TEST

#define RACERS	8
#define ROUNDS	20000

static struct api_budget	race;
static unsigned			race_refused[RACERS];

static void *
racer(void *arg)
{
	unsigned	*refused = arg;
	size_t		 n;
	int		 i;

	for (i = 0; i < ROUNDS; i++) {
		n = (size_t)(i % 7) + 1;
		if (api_budget_take(&race, n)) {
			/* never more out than there is */
			if (api_budget_used(&race) > race.max)
				abort();
			api_budget_give(&race, n);
		} else
			(*refused)++;
	}
	return NULL;
}

START_TEST(test_budget_threads)
{
	pthread_t	 t[RACERS];
	unsigned	 refused = 0;
	int		 i;

	/* room for about three takers at once: some takes must fail */
	api_budget_init(&race, 20);
	for (i = 0; i < RACERS; i++) {
		race_refused[i] = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, racer,
		    &race_refused[i]), 0);
	}
	for (i = 0; i < RACERS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		refused += race_refused[i];
	}
	/* everything taken was given back: no byte lost or made up */
	ck_assert_uint_eq(api_budget_used(&race), 0);
	ck_assert_uint_lt(refused, (unsigned)(RACERS * ROUNDS));
	ck_assert(api_budget_take(&race, 20));
}
END_TEST

static Suite *
api_suite(void)
{
	Suite	*s = suite_create("api");
	TCase	*tc = tcase_create("budget");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_budget_fits);
	tcase_add_test(tc, test_budget_extremes);
	tcase_add_test(tc, test_budget_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(api_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
