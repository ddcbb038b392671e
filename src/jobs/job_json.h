/* job_json.h - a job as the API shows it, and as a callback's event
 * carries it. */
#ifndef SERIALCGI_JOB_JSON_H
#define SERIALCGI_JOB_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "store.h"

/* job_json: j as the API shows it (cJSON; NULL for want of memory):
 * the body of a monitor, and the data of a callback's event. */
cJSON *job_json(const struct job *j);

/* job_json_time: wall (s since the epoch) in RFC 3339, UTC, to the
 * millisecond, into buf (at least 25 bytes of len). */
void job_json_time(double wall, char *buf, size_t len);

#endif
