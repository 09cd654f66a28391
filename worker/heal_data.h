/* heal_data.h — training data for `swarmprune heal`: plain text, jsonl with a "text" field, or
 * instruction jsonl (Alpaca template) tokenized into windows of at most ctx tokens with per-token
 * loss weights (the trainer's `weight` array), and a deterministic, counter-based shuffle of the
 * windows per epoch. Dimension letters: T tokens of a window (<= ctx), N windows. */
#ifndef SP_HEAL_DATA_H
#define SP_HEAL_DATA_H

#include <stdint.h>

#include "../common/error.h"
#include "../common/model_config.h"

typedef enum { SP_HEAL_LOSS_ALL = 0, SP_HEAL_LOSS_RESPONSE = 1 } sp_heal_loss;

typedef struct {
    int64_t ctx;       /* window length in tokens, BOS included (>= 2, <= max_pos) */
    sp_heal_loss loss; /* response: instruction data only, score the response tokens */
} sp_heal_data_options;

typedef struct {
    int64_t n_windows;  /* N */
    int64_t *offset;    /* [N + 1] window w is tokens[offset[w], offset[w+1]) */
    int32_t *tokens;    /* [offset[N]] every window starts with BOS */
    float *weight;      /* [offset[N]] weight[i] weighs predicting tokens[i + 1] from position i
                           (0 at each window's last position and on the prompt when --loss
                           response) */
    int64_t ctx;
    int32_t pad;        /* token id used to pad a micro-batch (EOS, else BOS); weight 0 */
    int64_t n_records;  /* texts / jsonl records read */
    int64_t n_truncated;/* instruction records cut to ctx tokens */
    int64_t n_dropped;  /* instruction records left with nothing to score after the cut */
    double weight_total;/* sum of weight */
    uint64_t hash;      /* FNV-1a of ctx, tokens and weights: the checkpoint records it */
    int64_t perm_epoch; /* epoch whose shuffle perm holds (-1: none yet) */
    uint64_t perm_seed;
    int64_t *perm;      /* [N] */
} sp_heal_data;

/* Loads and tokenizes files[0..n): "*.jsonl" / "*.json" are jsonl (one object per line: "text",
 * or "instruction" + optional "input" + "output"), anything else is plain UTF-8 text. Plain text
 * is tokenized whole without BOS and cut into windows of ctx-1 tokens, each prefixed with BOS
 * (as `eval --task ppl`); a "text" record is BOS + text + EOS, cut the same way; an instruction
 * record is BOS + prompt + response + EOS, one window, truncated to ctx tokens. tok_dir holds
 * tokenizer.json. Errors name the file (and line for jsonl). */
int sp_heal_data_load(const char *const *files, int n_files, const char *tok_dir,
                      const sp_model_config *cfg, const sp_heal_data_options *o,
                      sp_heal_data *out, sp_error *err);
void sp_heal_data_free(sp_heal_data *d);

/* The window at position pos of the training stream: epoch e = pos / N visits every window once
 * in an order given by sorting the keys sp_rng_hash(seed, e, w, tag) (a pure function of seed,
 * epoch and window: no state to checkpoint but pos). seed 0 with shuffle off: identity order. */
int64_t sp_heal_data_window(sp_heal_data *d, uint64_t seed, int shuffle, int64_t pos);

/* A micro-batch: the windows at stream positions [pos, pos + n_seq) (shuffle as above), padded
 * to T = the longest of them. tokens, weight: [n_seq * ctx] capacity; fills [n_seq, T]
 * row-major, *T, and *wsum = sum of the weights. */
void sp_heal_data_batch(sp_heal_data *d, uint64_t seed, int shuffle, int64_t pos, int n_seq,
                        int32_t *tokens, float *weight, int *T, double *wsum);

/* The Alpaca prompt (malloc'ed): with or without an input block, ending "### Response:\n". */
char *sp_heal_alpaca_prompt(const char *instruction, const char *input);

#endif
