/* cmd_tokenize.c — `swarmprune tokenize PATH [--bos|--no-bos] [--text STR] [--decode]`: encodes
 * text (from --text or stdin) with a Hugging Face tokenizer.json and prints the ids separated by
 * single spaces, BOS as eval prepends it (the tokenizer's rule unless --bos / --no-bos);
 * --decode reads ids instead and prints the text. PATH is a model directory, a GGUF file, a
 * directory holding tokenizer.json, or the file itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "cli.h"
#include "model.h"
#include "model_config.h"
#include "commands.h"
#include "tokenizer.h"

static const char SP_TOKENIZE_USAGE[] =
    "usage: swarmprune tokenize PATH [--bos | --no-bos] [--text STR] [--decode]\n"
    "  Encodes UTF-8 text with the Hugging Face tokenizer.json at PATH (a model directory, a\n"
    "  .gguf file, a directory holding tokenizer.json, or the file) and prints the token ids\n"
    "  on one line, with BOS first exactly when `eval` prepends it: by default as the tokenizer\n"
    "  does (tokenizer_config.json add_bos_token when set, else the tokenizer.json\n"
    "  post-processor), like Hugging Face and lm-evaluation-harness.\n"
    "  --text STR  the text to encode (default: all of stdin)\n"
    "  --bos       prepend BOS (post-processor's first token, else tokenizer_config.json's\n"
    "              bos_token, else config.json's bos_token_id)\n"
    "  --no-bos    never prepend BOS\n"
    "  --decode    read token ids (decimal, separated by whitespace) and print the text\n";

static int sp_tokenize_read_stdin(char **buf, size_t *len, sp_error *err)
{
    size_t cap = 1 << 16, n = 0;
    char *b = sp_xmalloc(cap);
    for (;;) {
        if (cap - n < 2) b = sp_xrealloc(b, cap *= 2);
        size_t got = fread(b + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0) break;
    }
    if (ferror(stdin)) {
        free(b);
        return sp_error_set(err, "stdin: read error");
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* config.json's bos_token_id beside a tokenizer (-1 when there is none). */
static int64_t sp_tokenize_config_bos(const char *path)
{
    char cfg[4200];
    struct stat sb;
    sp_model_config c;
    sp_error e = {{0}};
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return -1;
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    if (stat(cfg, &sb) != 0 || sp_config_load(cfg, &c, &e) != 0) return -1;
    return c.bos_id;
}

static int sp_tokenize_encode(const sp_tokenizer *tok, const char *path, const char *text,
                              size_t len, sp_bos_mode mode, sp_error *err)
{
    int32_t *ids, bos;
    size_t n;
    if (sp_tokenizer_bos_for(tok, mode, sp_tokenize_config_bos(path), &bos, err)) return -1;
    if (sp_tokenizer_encode(tok, text, len, 0, &ids, &n, err)) return -1;
    if (bos >= 0) printf(n ? "%d " : "%d", (int)bos);
    for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
    putchar('\n');
    free(ids);
    return 0;
}

/* Parses whitespace-separated decimal ids and prints their decoded text. */
static int sp_tokenize_decode(const sp_tokenizer *tok, const char *text, sp_error *err)
{
    size_t n = 0, cap = 256;
    int32_t *ids = sp_xmalloc(cap * sizeof *ids);
    const char *p = text;
    int rc = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX ||
            (*end && *end != ' ' && *end != '\n' && *end != '\t' && *end != '\r')) {
            rc = sp_error_set(err, "--decode: expected token ids, got \"%.20s\" at byte offset %zu",
                              p, (size_t)(p - text));
            break;
        }
        if (n == cap) ids = sp_xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = (int32_t)v;
        p = end;
    }
    char *out = NULL;
    size_t len = 0;
    if (rc == 0 && (rc = sp_tokenizer_decode(tok, ids, n, &out, &len, err)) == 0) {
        fwrite(out, 1, len, stdout);
        putchar('\n');
    }
    free(out);
    free(ids);
    return rc;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *path = NULL, *text = NULL;
    int bos = 0, no_bos = 0, decode = 0;
    sp_error err = {{0}};
    if (sp_cli_wants_help(argc, argv)) {
        fputs(SP_TOKENIZE_USAGE, stdout);
        return SP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bos") == 0) bos = 1;
        else if (strcmp(argv[i], "--no-bos") == 0) no_bos = 1;
        else if (strcmp(argv[i], "--decode") == 0) decode = 1;
        else if (strcmp(argv[i], "--text") == 0) {
            if (sp_cli_value(argc, argv, &i, &text, &err))
                return sp_cli_usage_error("tokenize", "%s", err.msg);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return sp_cli_usage_error("tokenize", "unknown option %s", argv[i]);
        else if (path)
            return sp_cli_usage_error("tokenize", "unexpected argument %s", argv[i]);
        else path = argv[i];
    }
    if (!path) return sp_cli_usage_error("tokenize", "missing PATH");
    if (decode && (bos || no_bos))
        return sp_cli_usage_error("tokenize", "--bos/--no-bos have no meaning with --decode");
    if (bos && no_bos) return sp_cli_usage_error("tokenize", "--bos and --no-bos exclude each other");
    char gdir[4096];
    if (sp_model_path_is_gguf(path)) { /* converted once into the cache, as everywhere */
        if (sp_model_gguf_dir(path, gdir, sizeof gdir, &err)) return sp_cli_fail("tokenize", &err);
        path = gdir;
    }
    sp_tokenizer *tok;
    if (sp_tokenizer_load(path, &tok, &err)) return sp_cli_fail("tokenize", &err);
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;
    if (!text && (rc = sp_tokenize_read_stdin(&buf, &len, &err)) == 0) text = buf;
    else if (text) len = strlen(text);
    if (rc == 0)
        rc = decode ? sp_tokenize_decode(tok, text, &err)
                    : sp_tokenize_encode(tok, path, text, len,
                                         bos ? SP_BOS_ON : no_bos ? SP_BOS_OFF : SP_BOS_AUTO, &err);
    free(buf);
    sp_tokenizer_free(tok);
    if (rc) return sp_cli_fail("tokenize", &err);
    return fflush(stdout) == 0 ? SP_EXIT_OK : SP_EXIT_FAILURE;
}
