/* json_util.h — strict, path-aware helpers over cJSON.
 * Every error names the file and the JSON path (e.g. "job.json: search.pso.inertia: expected a
 * number in [0, 1.5], got 2"). Lookups are case-sensitive; integers must be integral and in
 * range; duplicate keys can be rejected. No cJSON pointer should escape a loader: convert into a
 * plain struct and cJSON_Delete the tree. */
#ifndef SP_JSON_UTIL_H
#define SP_JSON_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Reads a whole file into a NUL-terminated buffer (caller frees). */
int sp_read_file(const char *path, char **buf, size_t *len, sp_error *err);
/* Refuses an existing path that is not a regular file (FIFO, device, directory) without
 * opening it; a missing path passes (the open reports it). */
int sp_require_regular_file(const char *path, sp_error *err);

/* Parses text; on a syntax error the message names `what`, the byte offset, line and column. */
int sp_json_parse(const char *text, size_t len, const char *what, cJSON **out, sp_error *err);
int sp_json_parse_file(const char *path, cJSON **out, sp_error *err);

/* Case-sensitive member lookup; NULL when absent. */
const cJSON *sp_json_get(const cJSON *obj, const char *key);

/* Fails when `obj` is not an object, has a duplicate key, or (allowed != NULL) a key that is not
 * in the NULL-terminated `allowed` list. `path` names obj ("" for the root). */
int sp_json_check_object(const cJSON *obj, const char *path, const char *const *allowed,
                         sp_error *err);

/* Joins a parent path and a key ("a.b" + "c" -> "a.b.c"; "" + "c" -> "c"). */
void sp_json_path(char *buf, size_t size, const char *parent, const char *key);

/* Conversions with range checks; `path` is used in messages. */
int sp_json_int(const cJSON *item, const char *path, int64_t lo, int64_t hi, int64_t *out,
                sp_error *err);
int sp_json_double(const cJSON *item, const char *path, double lo, double hi, double *out,
                   sp_error *err);
int sp_json_bool(const cJSON *item, const char *path, int *out, sp_error *err);
/* Returns a pointer into the tree (valid until cJSON_Delete). */
int sp_json_string(const cJSON *item, const char *path, const char **out, sp_error *err);

/* Member variants: when the member is absent, `required` decides between an error and leaving
 * *out untouched (the caller's default). Return 1 when found and converted, 0 when absent and
 * optional, -1 on error. */
int sp_json_member_int(const cJSON *obj, const char *parent, const char *key, int required,
                       int64_t lo, int64_t hi, int64_t *out, sp_error *err);
int sp_json_member_double(const cJSON *obj, const char *parent, const char *key, int required,
                          double lo, double hi, double *out, sp_error *err);
int sp_json_member_bool(const cJSON *obj, const char *parent, const char *key, int required,
                        int *out, sp_error *err);
int sp_json_member_string(const cJSON *obj, const char *parent, const char *key, int required,
                          const char **out, sp_error *err);

/* A short description of a value's type for messages ("a string", "null", ...). */
const char *sp_json_type_name(const cJSON *item);

#endif
