/* lora_io.h — LoRA adapters on disk in PEFT's layout (adapter_config.json +
 * adapter_model.safetensors) for the pruned, renumbered model, and the merge of an adapter into a
 * Hugging Face checkpoint through the export writer. Kept layer j (the j-th layer not removed,
 * in the original order) holds
 *   base_model.model.model.layers.{j}.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight
 *   base_model.model.model.layers.{j}.mlp.{gate,up,down}_proj.lora_{A,B}.weight
 * A: [r, in] F32, B: [out, r] F32. */
#ifndef SP_LORA_IO_H
#define SP_LORA_IO_H

#include "../common/error.h"
#include "../common/mask.h"
#include "../common/model.h"
#include "export.h"
#include "lora.h"

/* PEFT name of a tensor: kept-layer index j, target t, which 0 = lora_A, 1 = lora_B. */
void sp_lora_peft_name(int j, int t, int which, char *buf, size_t size);

/* Writes the adapter directory `dir` atomically (dir.tmp.<pid>, fsynced, renamed; an existing
 * dir is replaced only when force). base_model goes to base_model_name_or_path; note_json (or
 * NULL) is written as swarmprune_heal.json (what was removed, options, figures). */
int sp_lora_save_peft(const sp_lora *l, const sp_mask *removed, const char *dir,
                      const char *base_model, const char *note_json, int force, sp_error *err);

/* Reads the adapter at dir for a model of config cfg with `removed` layers skipped: the adapter's
 * layer j is the j-th kept layer. Validates adapter_config.json (peft_type LORA, r, lora_alpha,
 * lora_dropout, target_modules; refuses bias other than "none", DoRA, rsLoRA, fan_in_fan_out,
 * layers_to_transform, modules_to_save, rank/alpha patterns as not implemented) and every tensor
 * (name, dtype F32/F16/BF16, shape; none missing, none extra). out is created with
 * sp_lora_create (free with sp_lora_free). */
int sp_lora_load_peft(const char *dir, const sp_model_config *cfg, const sp_mask *removed,
                      sp_lora *out, sp_error *err);

/* Exports m without `removed` to out_dir (as sp_export_model) with every targeted projection
 * replaced by W + scaling * B A (stored F32). */
int sp_lora_merge_export(const sp_model *m, const sp_mask *removed, const sp_lora *l,
                         const char *out_dir, const sp_export_options *opt,
                         sp_export_result *res, sp_error *err);

#endif
