/* pitfalls.c — the start-up warning for the teaching switches. */
#include "hellod/pitfalls.h"

#define DEFAULT_READ_SIZE (64 * 1024)

bool hd_pitfalls_on(const struct hd_config *cfg)
{
	return cfg->read_once || cfg->accept_once;
}

void hd_pitfalls_warn(FILE *f, const struct hd_config *cfg)
{
	if (hd_pitfalls_on(cfg))
		fprintf(f,
			"hellod: WARNING: deliberately broken for teaching:%s%s"
			" (%s); see docs/edge-vs-level.md\n",
			cfg->read_once ? " read_once" : "",
			cfg->accept_once ? " accept_once" : "",
			cfg->trigger == HD_TRIGGER_EDGE
				? "edge-triggered: connections will stall"
				: "level-triggered: extra wakeups only");
	if (cfg->read_size != DEFAULT_READ_SIZE)
		fprintf(f,
			"hellod: note: read_size %zu (default %d): correct, "
			"but more reads per request\n",
			cfg->read_size, DEFAULT_READ_SIZE);
}
