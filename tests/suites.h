/* suites.h — every Check suite the runner knows, one per source file. */
#ifndef HELLOD_TESTS_SUITES_H
#define HELLOD_TESTS_SUITES_H

#include <check.h>

Suite *buf_suite(void);
Suite *config_suite(void);
Suite *date_cache_suite(void);
Suite *response_suite(void);
Suite *http_suite(void);
Suite *teaching_suite(void);
enum hd_test_mode {
	HD_TEST_EPOLL_EDGE,
	HD_TEST_EPOLL_LEVEL,
	HD_TEST_POLL,
	HD_TEST_SELECT,
	HD_TEST_MODE_COUNT
};
/* The same integration tests, against a server in the given mode. */
Suite *integration_suite(enum hd_test_mode mode);

#endif
