/* fuzz_job.c — libFuzzer harness: the search job file (coordinator/job.c, sp_job_parse), with
 * relative paths resolved against the scratch directory. */
#include <stddef.h>
#include <stdint.h>
#include "coordinator/job.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_path(path, sizeof path, "job.json");
    sp_job job;
    sp_error err = {{0}};
    if (sp_job_parse((const char *)data, size, path, &job, &err) == 0) sp_job_free(&job);
    else fuzz_note("job", err.msg);
    return 0;
}
