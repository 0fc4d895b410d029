/* run_provenance of every JSON report (SPEC §5): tool version, git revision
 * when known, command line, UTC time, host and CPU features. */
#ifndef TQ_UTIL_PROVENANCE_H
#define TQ_UTIL_PROVENANCE_H

#include <cjson/cJSON.h>

/* A new JSON object (caller owns it); NULL on allocation failure.
 * command_line may be NULL (recorded as null). */
cJSON *tq_run_provenance(const char *command_line);
/* argv joined with spaces, arguments with spaces or quotes shell-quoted
 * (malloc'ed; NULL on allocation failure). */
char *tq_command_line(int argc, char **argv);
/* The git revision the library was built from ("" when unknown). */
const char *tq_git_revision(void);

#endif
