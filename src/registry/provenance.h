/* run_provenance of every JSON report (SPEC §5): tool version, git revision
 * when known, command line, UTC time, host and CPU features. */
#ifndef TQ_REGISTRY_PROVENANCE_H
#define TQ_REGISTRY_PROVENANCE_H

#include <cjson/cJSON.h>

/* A new JSON object (caller owns it); NULL on allocation failure. */
cJSON *tq_run_provenance(int argc, char **argv);
/* The git revision the library was built from ("" when unknown). */
const char *tq_git_revision(void);

#endif
