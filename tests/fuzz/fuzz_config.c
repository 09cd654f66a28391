/* fuzz_config.c — libFuzzer harness: Hugging Face config.json (sp_config_parse) and the parameter
 * counts derived from an accepted config. */
#include <stddef.h>
#include <stdint.h>
#include "common/model_config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_model_config cfg;
    sp_error err = {{0}};
    if (sp_config_parse((const char *)data, size, "config.json", &cfg, &err) != 0) {
        fuzz_note("config", err.msg);
        return 0;
    }
    volatile int64_t total = sp_config_total_params(&cfg);
    (void)total;
    return 0;
}
