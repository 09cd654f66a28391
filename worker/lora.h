/* worker/lora.h — LoRA adapter state (fp32 master weights + gradients) for the kept layers. */
#ifndef SP_LORA_H
#define SP_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"
#include "../common/mask.h"
#include "../common/model_config.h"

enum { SP_LORA_Q = 0, SP_LORA_K, SP_LORA_V, SP_LORA_O, SP_LORA_GATE, SP_LORA_UP, SP_LORA_DOWN,
       SP_LORA_NT };
extern const char *const sp_lora_target_names[SP_LORA_NT]; /* "q_proj","k_proj","v_proj",
                                 "o_proj","gate_proj","up_proj","down_proj" */
typedef struct {
    int rank;          /* r >= 1 */
    double alpha;      /* scaling = alpha / r */
    double dropout;    /* on the LoRA input only, [0, 1) */
    unsigned targets;  /* bit t set = target t */
} sp_lora_config;
typedef struct {
    sp_lora_config cfg;
    int n_layers;        /* the model's layer count (original numbering) */
    int64_t in[SP_LORA_NT], out[SP_LORA_NT]; /* in/out features of each target (full model) */
    /* [n_layers * SP_LORA_NT], index layer * SP_LORA_NT + t; NULL when the layer is removed or
       t is not a target. A: [r, in] row-major, B: [out, r] row-major (PEFT layout). */
    float **A, **B, **gA, **gB;
    float *arena;        /* one allocation behind every A, B, gA, gB */
    size_t n_params;     /* floats in all A and B */
} sp_lora;
/* Allocates A/B for every kept layer and target; PEFT init: A ~ Kaiming-uniform(a = sqrt 5),
   i.e. U(-1/sqrt(in), 1/sqrt(in)), drawn counter-based from (seed, layer, target, index)
   (common/rng.h); B = 0; gradients 0. */
int sp_lora_create(const sp_model_config *cfg, const sp_mask *removed,
                   const sp_lora_config *lc, uint64_t seed, sp_lora *out, sp_error *err);
void sp_lora_free(sp_lora *l);
void sp_lora_zero_grad(sp_lora *l);
static inline float sp_lora_scaling(const sp_lora *l) { return (float)(l->cfg.alpha / l->cfg.rank); }
/* Parses "q_proj,v_proj" (also accepts q,k,v,o,gate,up,down); error names the flag. */
int sp_lora_parse_targets(const char *text, const char *what, unsigned *out, sp_error *err);

/* Additions beyond the contract. */
/* Arena layout: [n_params] floats of every A then B (layer by layer, target by target, A before
   B), then [n_params] gradients in the same order, so an optimizer can treat params and grads
   as two flat vectors (arena, arena + n_params). */
/* Validates a config (rank >= 1, alpha > 0 finite, dropout in [0,1), targets non-empty);
   `what` prefixes the message ("heal"). */
int sp_lora_config_check(const sp_lora_config *lc, const char *what, sp_error *err);
/* Index of a target name ("q_proj" or "q"), -1 when unknown. */
int sp_lora_target_index(const char *name);

#endif
