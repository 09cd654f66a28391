/* main.c — the `swarmprune` front door: dispatches to a subcommand. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/commands.h"
#include "common/version.h"

const sp_command sp_commands[] = {
    {"analyze", cmd_analyze, "architecture, per-layer parameters and bytes, size after pruning"},
    {"tokenize", cmd_tokenize, "encode text with a model's tokenizer"},
    {"eval", cmd_eval, "score a model (optionally with layers removed): nll, ppl, hellaswag, kl"},
    {"search", cmd_search, "search which k layers to remove (MPI: rank 0 coordinates)"},
    {"inspect", cmd_inspect, "verify and summarise a checkpoint or results.h5"},
    {"export", cmd_export, "write the pruned model as a Hugging Face checkpoint"},
    {"heal", cmd_heal, "LoRA fine-tuning of the pruned model, written as a PEFT adapter"},
    {"report", cmd_report, "draw search results as SVG charts + report.md"},
    {"convert", cmd_convert, "convert a GGUF model into a Hugging Face directory"},
    {"plan", cmd_plan, "project memory, tp, worker groups and wall time of a job before it runs"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: swarmprune COMMAND [options]   (swarmprune COMMAND --help for details)\n\n"
            "Finds which transformer layers of a Llama-family model can be removed with the\n"
            "least damage.\n\ncommands:\n");
    for (const sp_command *c = sp_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nswarmprune --version: the version (as checkpoints record it) and build options\n");
}

int main(int argc, char **argv)
{
    /* Once, process-wide: no HDF5-DIAG printing; our messages carry HDF5's stack (sp_h5_fail). */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (argc < 2) {
        usage(stderr);
        return SP_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return SP_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        sp_print_version(stdout);
        return SP_EXIT_OK;
    }
    for (const sp_command *c = sp_commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "swarmprune: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return SP_EXIT_USAGE;
}
