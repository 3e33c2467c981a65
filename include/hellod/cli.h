/* cli.h — the command line. Flags override the config file. */
#ifndef HELLOD_CLI_H
#define HELLOD_CLI_H

#include <stddef.h>

#include "hellod/config.h"

enum hd_cli_result {
	HD_CLI_RUN,   /* cfg is ready: start the server */
	HD_CLI_EXIT,  /* --help or --version was printed: exit 0 */
	HD_CLI_ERROR, /* err holds one line: exit 2 */
};

/* Loads defaults, then the -c file if any, then the other flags, then
 * hd_config_finish. cfg must be freed with hd_config_free either way. */
enum hd_cli_result hd_cli_parse(int argc, char **argv, struct hd_config *cfg,
				char *err, size_t errlen);

/* The long flags ("config", "read-once", ...), i from 0; NULL past the
 * last (for tests that check each is documented). */
const char *hd_cli_flag_name(int i);

#endif
