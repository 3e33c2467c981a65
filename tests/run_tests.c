/* run_tests.c — runs every suite; Check's summary line comes last.
 *
 * The integration suite runs once per way of multiplexing (epoll edge,
 * epoll level, poll, select): the same tests must pass with each. */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, date_cache_suite());
	srunner_add_suite(sr, response_suite());
	srunner_add_suite(sr, http_suite());
	for (int mode = 0; mode < HD_TEST_MODE_COUNT; mode++)
		srunner_add_suite(sr, integration_suite(mode));
	srunner_add_suite(sr, teaching_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
