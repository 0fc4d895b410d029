/* run_provenance, the audit block every tinyq report carries: tool version,
 * git revision (when the build knew it), command line, UTC time, host name
 * and the CPU features the run could use. */
#ifndef TQ_QUANT_PROVENANCE_H
#define TQ_QUANT_PROVENANCE_H

#include <cjson/cJSON.h>

/* A new cJSON object (NULL on allocation failure). */
cJSON *tq_run_provenance(const char *command_line);

#endif
