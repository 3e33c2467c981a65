/* run_tests.c — runs every suite; Check's summary line comes last.
 *
 * The integration suite runs once per way of multiplexing (epoll edge,
 * epoll level, poll, select, busy): the same tests must pass with
 * each. */
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, date_cache_suite());
	srunner_add_suite(sr, response_suite());
	srunner_add_suite(sr, http_suite());
	srunner_add_suite(sr, resp_check_suite());
	srunner_add_suite(sr, proxy_protocol_suite());
	srunner_add_suite(sr, timer_suite());
	srunner_add_suite(sr, listen_set_suite());
	srunner_add_suite(sr, sim_suite());
	for (int mode = 0; mode < HD_TEST_MODE_COUNT; mode++)
		srunner_add_suite(sr, integration_suite(mode));
	for (int mode = 0; mode < HD_TEST_MODE_COUNT; mode++)
		srunner_add_suite(sr, clients_suite(mode));
	for (int mode = 0; mode < HD_TEST_MODE_COUNT; mode++)
		srunner_add_suite(sr, robust_suite(mode));
	for (int mode = 0; mode < HD_TEST_MODE_COUNT; mode++)
		srunner_add_suite(sr, attack_suite(mode));
	srunner_add_suite(sr, operator_suite());
	srunner_add_suite(sr, handoff_suite());
	/* The HAProxy test needs haproxy (make deps installs it); without it
	 * the suite is left out, said so, and not counted as passed. */
	if (system("command -v haproxy >/dev/null 2>&1") == 0)
		srunner_add_suite(sr, haproxy_suite());
	else
		printf("SKIPPED: haproxy suite (haproxy is not installed; "
		       "'make deps' installs it)\n");
	srunner_add_suite(sr, teaching_suite());
	srunner_add_suite(sr, ladder_suite());
	srunner_add_suite(sr, uring_suite());
	srunner_add_suite(sr, lab_suite());
	srunner_add_suite(sr, systemd_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
