/* Observing every tensor a run computes (calibration, debugging): the
 * quantiser never runs models itself, it installs an observer. */
#ifndef TQ_RUNTIME_SESSION_OBSERVER_H
#define TQ_RUNTIME_SESSION_OBSERVER_H

#include "runtime/op.h"

/* Called with each graph input at the start of a run and with each node
 * output right after its node ran (values folded from constants are not
 * reported: they never change). The value is valid only during the call. */
typedef void (*tq_value_observer)(const tq_value *v, void *user);

void tq_session_set_observer(tq_session *s, tq_value_observer fn, void *user);

#endif
